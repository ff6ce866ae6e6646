"""The sample review function's edge (functions/review_function): an Invoke payload in, a verdict out
(the JSON shape of docs/moderation.md)."""

from __future__ import annotations

import time
from typing import Any

from roomcast.domain.review import Deny, Verdict, verdict_to_json, word_list, word_review


class WordRules:
    """BLOCKED_WORDS deny, MASKED_WORDS become asterisks, SLOW_WORDS answer SLOW_SECONDS late."""

    def __init__(self, blocked_words: str, masked_words: str, slow_words: str = "", slow_seconds: float = 1.0) -> None:
        self.blocked = word_list(blocked_words)
        self.masked = word_list(masked_words)
        self.slow = word_list(slow_words)
        self.slow_seconds = slow_seconds

    def review(self, room_id: str, user_id: str, text: str) -> Verdict:
        if self.slow and any(word.strip(".,;:!?\"'").casefold() in self.slow for word in text.split()):
            time.sleep(self.slow_seconds)
        return word_review(text, self.blocked, self.masked)


def handle_review(event: Any, rules: WordRules) -> dict[str, str]:
    """A payload without a text string is answered deny, so that a broken caller never passes text unread."""
    if not isinstance(event, dict) or not isinstance(event.get("text"), str):
        return verdict_to_json(Deny("the review request has no text"))
    return verdict_to_json(rules.review(str(event.get("roomId", "")), str(event.get("userId", "")), event["text"]))
