"""The review hook's verdicts and rules (docs/moderation.md, review hook); no I/O.

A room whose reviewMode is not ``off`` passes each comment to a review function before it is
written: it allows, denies (with a reason: **Denied**) or modifies the text. A failure or an answer
later than the budget is decided by the mode: failOpen writes the original, failClosed refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from roomcast.domain.chat import ReviewMode
from roomcast.domain.commands import Text
from roomcast.domain.errors import Denied, ReviewUnavailable

# IVS Chat's budget for its message review handler: a comment waits at most this long for its review.
REVIEW_BUDGET_MS = 200
MAX_DENY_REASON_CHARS = 500
_TEXT: TypeAdapter[str] = TypeAdapter(Text)


@dataclass(frozen=True)
class Allow:
    pass


@dataclass(frozen=True)
class Deny:
    reason: str


@dataclass(frozen=True)
class Modify:
    text: str


Verdict = Allow | Deny | Modify


class ReviewFailed(Exception):
    """The review function did not answer in time, failed, or answered something unreadable."""


def reviewed_text(mode: ReviewMode, original: str, verdict: Verdict | ReviewFailed) -> str:
    """The text to write, or Denied / ReviewUnavailable."""
    if isinstance(verdict, ReviewFailed):
        if mode == "failClosed":
            raise ReviewUnavailable(f"the review function gave no verdict: {verdict}")
        return original
    if isinstance(verdict, Deny):
        raise Denied(verdict.reason[:MAX_DENY_REASON_CHARS] or "refused by the room's review function")
    if isinstance(verdict, Modify):
        try:
            return _TEXT.validate_python(verdict.text)
        except ValidationError as error:
            # A rewrite the text rules refuse is the review function's fault: the mode decides.
            return reviewed_text(mode, original, ReviewFailed(f"its new text is invalid: {_first(error)}"))
    return original


def _first(error: ValidationError) -> str:
    return str(error.errors(include_url=False)[0]["msg"])


def word_review(text: str, blocked: frozenset[str], masked: frozenset[str]) -> Verdict:
    """The sample review function's rule: a blocked word denies, a masked word becomes asterisks
    (words compare case-insensitively, trimmed of punctuation)."""
    words = text.split()
    hits = [word for word in words if _bare(word) in blocked]
    if hits:
        return Deny(f"blocked word: {_bare(hits[0])}")
    if not any(_bare(word) in masked for word in words):
        return Allow()
    return Modify(" ".join(_mask(word) if _bare(word) in masked else word for word in text.split(" ")))


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'()[]{}").casefold()


def _mask(word: str) -> str:
    bare = word.strip(".,;:!?\"'()[]{}")
    return word.replace(bare, "*" * len(bare)) if bare else word


def word_list(value: str) -> frozenset[str]:
    """A comma-separated list from the environment, case-folded."""
    return frozenset(word.strip().casefold() for word in value.split(",") if word.strip())


def verdict_from_json(answer: object) -> Verdict:
    """The review function's answer (docs/moderation.md): {"verdict": "allow" | "deny" | "modify", ...}."""
    if not isinstance(answer, dict):
        raise ReviewFailed("the answer is not a JSON object")
    kind = answer.get("verdict")
    if kind == "allow":
        return Allow()
    if kind == "deny" and isinstance(answer.get("reason", ""), str):
        return Deny(str(answer.get("reason", "")))
    if kind == "modify" and isinstance(answer.get("text"), str):
        return Modify(answer["text"])
    raise ReviewFailed(f"unreadable answer: verdict {kind!r}")


def verdict_to_json(verdict: Verdict) -> dict[str, str]:
    if isinstance(verdict, Deny):
        return {"verdict": "deny", "reason": verdict.reason}
    if isinstance(verdict, Modify):
        return {"verdict": "modify", "text": verdict.text}
    return {"verdict": "allow"}
