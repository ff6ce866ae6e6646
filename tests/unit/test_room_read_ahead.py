"""A batch's rooms and memberships read ahead for its comments (edges/batch_rooms.py), on the in-memory table.

The read ahead only saves requests: each batch here is run both ways, with it and with a read per
comment, and must come out the same (texts, refusals, failures).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.domain.chat import Membership, Room
from roomcast.domain.commands import Command
from roomcast.domain.errors import TransientError
from roomcast.domain.outcomes import outcome_key, producer_of
from roomcast.edges.batch_rooms import HELD_MS
from roomcast.edges.fifo_batch import CommandBatch
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.models import (
    AddComment,
    BanUser,
    DeleteChatRoom,
    LeaveChatRoom,
    MuteUser,
    SetRoomPolicy,
    UnmuteUser,
)
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.intake import SENDER, intake_in_art, intake_on, record
from support.recording import StepClock

Pair = tuple[str, str]


class Reads:
    """Counts the store's reads of rooms and memberships; ``refuse`` fails the batch's read."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.one = 0
        self.many = 0
        self.pairs: list[Pair] = []
        self.refuse = False
        one, many = store.rooms.get_room_and_membership, store.rooms.get_rooms_and_memberships

        def read_one(room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
            self.one += 1
            return one(room_id, user_id)

        def read_many(pairs: list[Pair]) -> dict[Pair, tuple[Room | None, Membership | None]]:
            self.many += 1
            self.pairs += pairs
            if self.refuse:
                raise TransientError("refused by the test")
            return many(pairs)

        monkeypatch.setattr(store.rooms, "get_room_and_membership", read_one)
        monkeypatch.setattr(store.rooms, "get_rooms_and_memberships", read_many)


@pytest.fixture(params=[True, False], ids=["read-ahead", "per-command"])
def ahead(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def intake(store: Store, clock: StepClock) -> CommandIntake:
    """Room art, created by alice, joined by bob and carol."""
    return intake_in_art(store, clock, "bob", "carol")


@pytest.fixture
def reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> Reads:
    return Reads(store, monkeypatch)


Batch = Callable[..., list[str]]


@pytest.fixture
def batch(intake: CommandIntake, clock: StepClock, ahead: bool) -> Batch:
    """Runs commands as one FIFO batch (the function's processor); returns the failed message ids.
    ``steps`` moves the clock before each command (1 ms by default); ``before[n]`` runs just before
    command n is handled (another invocation's write)."""
    sent = 0

    def run(
        *commands: Command, steps: list[int] | None = None, before: dict[int, Callable[[], None]] | None = None
    ) -> list[str]:
        nonlocal sent
        records = [record(command, f"m-{sent + n}") for n, command in enumerate(commands)]
        sent += len(records)
        moves = iter(enumerate(steps or [1] * len(records)))

        def handle(record: SQSRecord) -> None:
            n, step = next(moves)
            clock.step(step)
            (before or {}).get(n, lambda: None)()
            intake.handle_record(record)

        events: list[dict[str, Any]] = [dict(r.raw_event) for r in records]
        processor = CommandBatch()
        processor.on_skipped = intake.skipped
        with intake.reading_ahead(events) if ahead else nullcontext():
            answer = process_partial_response(event={"Records": events}, record_handler=handle, processor=processor)
        return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]

    return run


def elsewhere(store: Store, clock: StepClock, command: Command) -> Callable[[], None]:
    """``command`` applied by another invocation (another intake on the same table)."""
    return lambda: intake_on(store, clock).handle_record(record(command, f"o-{command.type}"))


def texts(store: Store) -> list[str]:
    return [c.text for c in history(store, "art").comments]


def outcome(store: Store, message_id: str) -> str:
    found = store.ledger.recorded(outcome_key(producer_of(SENDER), None, message_id))
    return found[0].summary() if found is not None else "none"


def comment(user: str, text: str) -> AddComment:
    return AddComment(room_id="art", user_id=user, text=text)


def test_one_authors_ten_comments_take_one_read_and_increasing_positions(
    batch: Batch, store: Store, reads: Reads, ahead: bool
) -> None:
    # the clock stands still: only the membership moved on by each comment places the next one after it
    assert batch(*(comment("bob", f"c{n}") for n in range(10)), steps=[0] * 10) == []

    assert texts(store) == [f"c{n}" for n in range(10)]
    positions = [c.position for c in history(store, "art").comments]
    assert positions == sorted(set(positions))
    assert (reads.many, reads.one) == ((1, 0) if ahead else (0, 10))


def test_ten_authors_take_one_read(batch: Batch, store: Store, reads: Reads, ahead: bool) -> None:
    assert batch(*(comment(user, f"{user}{n}") for n in range(5) for user in ("bob", "carol"))) == []

    assert len(texts(store)) == 10
    assert (reads.many, reads.one) == ((1, 0) if ahead else (0, 10))


def test_slow_mode_within_a_batch_refuses_the_second_comment(batch: Batch, store: Store, reads: Reads) -> None:
    batch(SetRoomPolicy(room_id="art", user_id="alice", slow_mode_seconds=1))

    # 0.5 s after the first, then 1 s after it: refused, then allowed, as with a read per comment
    assert batch(comment("bob", "first"), comment("bob", "early"), comment("bob", "later"), steps=[1, 500, 500]) == []

    assert texts(store) == ["first", "later"]
    assert outcome(store, "m-2").startswith("rejected SlowMode")


@pytest.mark.parametrize(
    "between",
    [
        MuteUser(room_id="art", user_id="alice", target_user_id="bob"),
        BanUser(room_id="art", user_id="alice", target_user_id="bob"),
        LeaveChatRoom(room_id="art", user_id="bob"),
        DeleteChatRoom(room_id="art", user_id="alice"),
    ],
    ids=lambda command: command.type,
)
def test_a_command_earlier_in_the_batch_is_seen_by_a_later_comment(
    batch: Batch, store: Store, reads: Reads, between: Command
) -> None:
    failed = batch(comment("bob", "before"), between, comment("bob", "after"))

    after = outcome(store, "m-2")
    assert after != "applied commentAdded"
    # refused at once (muted), or retried as possibly early (no longer a member; no room)
    assert (after.split(":")[0], failed) in [("rejected Muted", []), ("rejected Banned", []), ("none", ["m-2"])]
    if between.type != "deleteChatRoom":
        assert texts(store) == ["before"]


def test_a_failed_read_ahead_falls_back_to_a_read_per_comment(
    batch: Batch, store: Store, reads: Reads, ahead: bool
) -> None:
    reads.refuse = True

    assert batch(comment("bob", "a"), comment("bob", "b"), comment("carol", "c")) == []

    assert texts(store) == ["a", "b", "c"]
    assert reads.one == 3


def test_a_failed_comment_does_not_poison_the_next(
    batch: Batch, store: Store, reads: Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = store.comments.put_comment
    lost: list[str] = []

    def written_but_unanswered(*args: Any, **kwargs: Any) -> None:
        # the first of bob's writes commits, and its answer is lost: the batch must not assume either way
        put(*args, **kwargs)
        if not lost:
            lost.append("once")
            raise TransientError("answer lost")

    monkeypatch.setattr(store.comments, "put_comment", written_but_unanswered)
    failed = batch(comment("bob", "a"), comment("carol", "c"), comment("bob", "b"))
    assert failed == ["m-0", "m-2"]  # bob's group stops at the failure; carol's goes on

    # sent again: "b" is placed after "a", whose write did commit
    assert batch(comment("bob", "b"), comment("bob", "d")) == []
    assert texts(store) == ["a", "c", "b", "d"]


def test_a_refused_comment_leaves_later_ones_their_membership(batch: Batch, store: Store, reads: Reads) -> None:
    batch(MuteUser(room_id="art", user_id="alice", target_user_id="bob", duration_seconds=1))

    # muted for the first, then no longer: the refusal does not stick to bob in the batch
    failed = batch(comment("bob", "muted"), comment("carol", "c"), comment("bob", "free"), steps=[1, 1, 1000])

    assert failed == []
    assert texts(store) == ["c", "free"]
    assert outcome(store, "m-1").startswith("rejected Muted")


def test_a_room_deleted_elsewhere_stops_comments_once_their_pair_is_held_ms_old(
    batch: Batch, store: Store, clock: StepClock
) -> None:
    # The comment's transaction checks only the join item's incarnation, and a deletion leaves the
    # join items to the stream's cleanup: only a read sees it. A held pair is read again when old.
    delete = elsewhere(store, clock, DeleteChatRoom(room_id="art", user_id="alice"))

    failed = batch(comment("bob", "before"), comment("bob", "after"), steps=[1, HELD_MS + 1], before={1: delete})

    assert (failed, outcome(store, "m-1")) == (["m-1"], "none")  # retried as possibly early: no room


@pytest.mark.parametrize("setting", ["muted", "unmuted"])
def test_a_mute_or_unmute_elsewhere_is_seen_once_the_pair_is_held_ms_old(
    batch: Batch, store: Store, clock: StepClock, setting: str
) -> None:
    mute, unmute = (
        MuteUser(room_id="art", user_id="alice", target_user_id="bob"),
        UnmuteUser(room_id="art", user_id="alice", target_user_id="bob"),
    )
    if setting == "unmuted":
        batch(mute)
    change = elsewhere(store, clock, mute if setting == "muted" else unmute)

    assert batch(comment("carol", "c"), comment("bob", "b"), steps=[1, HELD_MS + 1], before={1: change}) == []

    bobs = "m-2" if setting == "unmuted" else "m-1"
    assert outcome(store, bobs).split(":")[0] == ("rejected Muted" if setting == "muted" else "applied commentAdded")


def test_a_pair_read_again_serves_the_next_comments(batch: Batch, store: Store, reads: Reads, ahead: bool) -> None:
    assert batch(comment("bob", "a"), comment("bob", "b"), comment("bob", "c"), steps=[1, HELD_MS + 1, 1]) == []

    assert texts(store) == ["a", "b", "c"]
    assert (reads.many, reads.one) == ((1, 1) if ahead else (0, 3))


def test_only_the_comments_before_the_first_other_command_are_read_ahead(
    batch: Batch, store: Store, reads: Reads, ahead: bool
) -> None:
    leave = LeaveChatRoom(room_id="art", user_id="carol")
    assert batch(leave, *(comment("bob", f"b{n}") for n in range(9))) == []
    assert (reads.many, reads.one) == (0, 9)  # nothing read that the leave would drop

    assert batch(comment("bob", "x"), leave, comment("alice", "y")) == []
    assert reads.pairs == ([("art", "bob")] if ahead else [])


def test_the_outcomes_are_read_before_the_rooms(
    intake: CommandIntake, store: Store, reads: Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a comment recorded between the two reads then leaves no pair it moved behind it
    order: list[str] = []
    among, many = store.ledger.recorded_among, store.rooms.get_rooms_and_memberships
    monkeypatch.setattr(store.ledger, "recorded_among", lambda keys: order.append("outcomes") or among(keys))
    monkeypatch.setattr(store.rooms, "get_rooms_and_memberships", lambda pairs: order.append("rooms") or many(pairs))

    intake.read_ahead([record(comment("bob", "a")).raw_event])

    assert order == ["outcomes", "rooms"]


def test_a_comment_recorded_elsewhere_since_the_read_drops_its_pair(
    batch: Batch, store: Store, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # outcomes not read ahead: the first comment's own read finds it applied by another invocation,
    # after the rooms were read; the second must not be served the pair the first moved on
    def refused(keys: Any) -> Any:
        raise TransientError("refused by the test")

    monkeypatch.setattr(store.ledger, "recorded_among", refused)
    first = comment("bob", "a")
    skewed = intake_on(store, lambda: clock() + 50)  # another host, its clock ahead: c2 is placed before c1
    applied = lambda: skewed.handle_record(record(first, "m-0"))  # noqa: E731

    assert batch(first, comment("bob", "b"), before={0: applied}) == []

    assert texts(store) == ["a", "b"]


def test_nothing_read_ahead_is_served_after_its_batch(
    batch: Batch, intake: CommandIntake, store: Store, clock: StepClock
) -> None:
    # the intake is kept per container: a record handled without a read ahead reads its own
    assert batch(comment("bob", "a")) == []
    elsewhere(store, clock, MuteUser(room_id="art", user_id="alice", target_user_id="bob"))()

    intake.handle_record(record(comment("bob", "muted"), "n-0"))

    found = store.ledger.recorded(outcome_key(producer_of(SENDER), None, "n-0"))
    assert found is not None and found[0].summary().startswith("rejected Muted")
