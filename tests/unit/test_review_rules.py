"""docs/moderation.md, the review hook: addComment through ``commands.apply`` on the in-memory table
with fake reviewers (allow, deny, modify, a late answer as the adapter reports it, a raising one) in
both modes; the verdict's rules and the sample function's word rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roomcast.domain.chat import Room
from roomcast.domain.commands import AddComment, Command, SetRoomPolicy
from roomcast.domain.errors import Denied, NotAMember, ReviewUnavailable
from roomcast.domain.events import CommentAdded, Outcome
from roomcast.domain.review import (
    Allow,
    Deny,
    Modify,
    ReviewFailed,
    Verdict,
    verdict_from_json,
    verdict_to_json,
    word_list,
    word_review,
)
from roomcast.edges.review_sample import WordRules, handle_review
from roomcast.settings import ReviewSettings
from roomcast.usecases import commands
from roomcast.usecases.ports import Store
from support.memory import MemoryTable
from support.recording import StepClock


class FakeReviewer:
    """Answers with ``answer`` (a verdict, or an exception to raise) and remembers what it was asked."""

    def __init__(self, answer: Verdict | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, str]] = []

    def review(self, room_id: str, user_id: str, text: str) -> Verdict:
        self.asked.append((room_id, user_id, text))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


LATE = ReviewFailed("ReadTimeoutError: no answer within 200 ms")  # what the Lambda adapter raises on timeout
BROKEN = RuntimeError("the adapter itself broke")


def post(store: Store, clock: StepClock, reviewer: FakeReviewer | None, text: str = "hello") -> Outcome:
    clock.step()
    return commands.apply(AddComment(room_id="art", user_id="bob", text=text), store, clock, reviewer=reviewer)


def written_text(outcome: Outcome) -> str:
    assert isinstance(outcome.event, CommentAdded)
    return outcome.event.comment.text


@pytest.fixture
def policy(art: Room, apply: Callable[[Command], Outcome]) -> Callable[[str], None]:
    def set_mode(mode: str) -> None:
        apply(SetRoomPolicy.model_validate({"roomId": "art", "userId": "alice", "reviewMode": mode}))

    return set_mode


@pytest.mark.parametrize("mode", ["failOpen", "failClosed"])
def test_an_allowed_comment_is_written_as_sent_after_one_review(
    mode: str, policy: Callable[[str], None], store: Store, clock: StepClock, table: MemoryTable
) -> None:
    policy(mode)
    reviewer = FakeReviewer(Allow())
    assert written_text(post(store, clock, reviewer)) == "hello"
    assert reviewer.asked == [("art", "bob", "hello")]


@pytest.mark.parametrize("mode", ["failOpen", "failClosed"])
def test_a_denied_comment_is_refused_with_the_reason_and_not_written(
    mode: str, policy: Callable[[str], None], store: Store, clock: StepClock, table: MemoryTable
) -> None:
    policy(mode)
    before = len(table.comments)
    with pytest.raises(Denied, match=r"^blocked word: spam$"):
        post(store, clock, FakeReviewer(Deny("blocked word: spam")), "buy spam")
    assert len(table.comments) == before


@pytest.mark.parametrize("mode", ["failOpen", "failClosed"])
def test_a_modified_comment_is_written_with_the_new_text(
    mode: str, policy: Callable[[str], None], store: Store, clock: StepClock, table: MemoryTable
) -> None:
    policy(mode)
    outcome = post(store, clock, FakeReviewer(Modify("oh **** it")), "oh darn it")
    assert written_text(outcome) == "oh **** it"
    assert [entry.text for _, entry in table.comments.values() if hasattr(entry, "text")] == ["oh **** it"]


@pytest.mark.parametrize("failure", [LATE, BROKEN], ids=["late", "raising"])
def test_fail_open_writes_the_original_when_the_review_fails(
    failure: Exception, policy: Callable[[str], None], store: Store, clock: StepClock
) -> None:
    policy("failOpen")
    assert written_text(post(store, clock, FakeReviewer(failure), "unreviewed")) == "unreviewed"


@pytest.mark.parametrize("failure", [LATE, BROKEN], ids=["late", "raising"])
def test_fail_closed_refuses_when_the_review_fails(
    failure: Exception, policy: Callable[[str], None], store: Store, clock: StepClock, table: MemoryTable
) -> None:
    policy("failClosed")
    before = len(table.comments)
    with pytest.raises(ReviewUnavailable, match="gave no verdict"):
        post(store, clock, FakeReviewer(failure))
    assert len(table.comments) == before


@pytest.mark.parametrize(
    ("mode", "expected"), [("failOpen", "ok"), ("failClosed", None)], ids=["failOpen", "failClosed"]
)
def test_a_rewrite_that_breaks_the_text_rules_is_a_failed_review(
    mode: str, expected: str | None, policy: Callable[[str], None], store: Store, clock: StepClock
) -> None:
    policy(mode)
    reviewer = FakeReviewer(Modify("\u200b"))  # nothing visible: the text rules refuse it
    if expected is None:
        with pytest.raises(ReviewUnavailable, match=r"new text is invalid: .*blank"):
            post(store, clock, reviewer, "ok")
    else:
        assert written_text(post(store, clock, reviewer, "ok")) == expected


def test_a_room_with_review_off_never_calls_the_reviewer(art: Room, store: Store, clock: StepClock) -> None:
    reviewer = FakeReviewer(Deny("never asked"))
    assert written_text(post(store, clock, reviewer)) == "hello"
    assert reviewer.asked == []


def test_without_a_review_function_the_mode_decides(
    policy: Callable[[str], None], store: Store, clock: StepClock
) -> None:
    policy("failOpen")
    assert written_text(post(store, clock, None)) == "hello"
    policy("failClosed")
    with pytest.raises(ReviewUnavailable, match="no review function is configured"):
        post(store, clock, None)


def test_the_rules_run_before_the_review(art: Room, apply: Callable[[Command], Outcome], store: Store) -> None:
    """A comment the room refuses anyway (not a member) costs no review."""
    apply(SetRoomPolicy(room_id="art", user_id="alice", review_mode="failClosed"))
    reviewer = FakeReviewer(Allow())
    with pytest.raises(NotAMember):
        commands.apply(AddComment(room_id="art", user_id="stranger", text="hi"), store, reviewer=reviewer)
    assert reviewer.asked == []


# ---- the answer's JSON shape and the sample's word rules ---------------------------------


@pytest.mark.parametrize("verdict", [Allow(), Deny("no"), Modify("new text")])
def test_verdicts_round_trip_through_their_json_shape(verdict: Verdict) -> None:
    assert verdict_from_json(verdict_to_json(verdict)) == verdict


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], "not a JSON object"),
        ({}, "verdict None"),
        ({"verdict": "maybe"}, "verdict 'maybe'"),
        ({"verdict": "modify"}, "verdict 'modify'"),
        ({"verdict": "deny", "reason": 3}, "verdict 'deny'"),
    ],
)
def test_an_unreadable_answer_is_a_failed_review(answer: object, problem: str) -> None:
    with pytest.raises(ReviewFailed, match=problem):
        verdict_from_json(answer)


def test_word_rules_deny_blocked_words_mask_masked_ones_and_allow_the_rest() -> None:
    blocked, masked = word_list(" Spam, scam ,"), word_list("darn")
    assert blocked == {"spam", "scam"}
    assert word_review("Buy SPAM!", blocked, masked) == Deny("blocked word: spam")
    assert word_review("oh Darn, it", blocked, masked) == Modify("oh ****, it")
    assert word_review("spammy darning", blocked, masked) == Allow()


def test_the_sample_handler_answers_in_the_documented_shape() -> None:
    settings = ReviewSettings.from_env({"BLOCKED_WORDS": "spam", "MASKED_WORDS": "darn"})
    rules = WordRules(settings.blocked_words, settings.masked_words, settings.slow_words, settings.slow_seconds)
    assert handle_review({"roomId": "art", "userId": "bob", "text": "spam"}, rules) == {
        "verdict": "deny",
        "reason": "blocked word: spam",
    }
    assert handle_review({"roomId": "art", "userId": "bob", "text": "darn"}, rules) == {
        "verdict": "modify",
        "text": "****",
    }
    assert handle_review({"text": "fine"}, rules) == {"verdict": "allow"}
    assert handle_review({"roomId": "art"}, rules) == {"verdict": "deny", "reason": "the review request has no text"}
