"""Exactly one effect and one recorded outcome per command (docs/commands.md), on the in-memory table.

The command intake runs as CommandFunction runs it, on SQS records it is handed twice, late,
after the author left, or reusing another command's id; only the SQS client is a recording fake.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from roomcast.domain.outcomes import CommandOutcome, outcome_key, producer_of
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom, LeaveChatRoom
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.intake import SENDER, RecordingSqs, record
from support.recording import StepClock


@pytest.fixture
def sqs() -> RecordingSqs:
    return RecordingSqs()


@pytest.fixture
def intake(store: Store, sqs: RecordingSqs, clock: StepClock) -> CommandIntake:
    intake = CommandIntake(store, sqs, "dlq-url", max_receive_count=5, outcome_ttl_seconds=30 * 86_400, clock=clock)
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice"), "setup-1"))
    intake.handle_record(record(JoinChatRoom(room_id="art", user_id="bob"), "setup-2"))
    return intake


def outcome(store: Store, command_id: str | None, message_id: str = "m-1") -> CommandOutcome:
    found = store.ledger.recorded(outcome_key(producer_of(SENDER), command_id, message_id))
    assert found is not None
    return found[0]


def texts(store: Store) -> list[str]:
    return [c.text for c in history(store, "art").comments]


def test_a_command_delivered_again_returns_its_first_outcome(intake: CommandIntake, store: Store) -> None:
    comment = AddComment(room_id="art", user_id="bob", text="once", command_id="c-1")
    for message_id in ("m-1", "m-2", "m-1"):
        intake.handle_record(record(comment, message_id))

    assert texts(store) == ["once"]
    assert outcome(store, "c-1").summary() == "applied commentAdded"


def test_a_redelivery_after_the_author_left_is_not_rejected(intake: CommandIntake, store: Store) -> None:
    comment = record(AddComment(room_id="art", user_id="bob", text="hi", command_id="c-2"))
    intake.handle_record(comment)
    intake.handle_record(record(LeaveChatRoom(room_id="art", user_id="bob"), "m-9"))

    intake.handle_record(comment)

    assert texts(store) == ["hi"]
    assert outcome(store, "c-2").status == "applied"


def test_a_rejection_is_recorded_and_final(intake: CommandIntake, store: Store) -> None:
    # The last delivery SQS allows: a NotAMember is no longer waited out (tests/unit/test_order_rules.py).
    comment = record(AddComment(room_id="art", user_id="carol", text="hi", command_id="c-3"), receives=5)
    intake.handle_record(comment)
    intake.handle_record(record(JoinChatRoom(room_id="art", user_id="carol"), "m-8"))

    intake.handle_record(comment)  # the same command again: its outcome stands

    assert texts(store) == []
    assert (outcome(store, "c-3").status, outcome(store, "c-3").code) == ("rejected", "NotAMember")


def test_a_command_id_reused_for_another_command_goes_to_the_dlq(
    intake: CommandIntake, store: Store, sqs: RecordingSqs
) -> None:
    intake.handle_record(record(AddComment(room_id="art", user_id="bob", text="first", command_id="c-4")))
    intake.handle_record(record(AddComment(room_id="art", user_id="bob", text="second", command_id="c-4"), "m-2"))

    assert texts(store) == ["first"]
    [dead] = sqs.sent
    assert "already used" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert outcome(store, "c-4").status == "applied"


def test_an_invalid_message_is_recorded_dead_lettered_with_its_reason(
    intake: CommandIntake, store: Store, sqs: RecordingSqs
) -> None:
    intake.handle_record(record(json.dumps({"type": "addComment", "roomId": "art", "commandId": "c-5"})))

    recorded = outcome(store, "c-5")
    assert (recorded.status, recorded.code, recorded.room_id) == ("deadLettered", "InvalidCommand", "art")
    assert "userId" in (recorded.message or "")
    assert len(sqs.sent) == 1


def test_the_last_allowed_delivery_records_the_dead_letter_and_a_redrive_applies_it(
    intake: CommandIntake, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    comment = AddComment(room_id="art", user_id="bob", text="late", command_id="c-6")
    failing = store.comments.put_comment

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("the table is unreachable")

    monkeypatch.setattr(store.comments, "put_comment", broken)
    with pytest.raises(RuntimeError):
        intake.handle_record(record(comment, receives=5))
    recorded = outcome(store, "c-6")
    assert (recorded.status, recorded.code) == ("deadLettered", "RetriesExhausted")

    # When the cause is fixed and the DLQ is redriven, the command is applied at last
    monkeypatch.setattr(store.comments, "put_comment", failing)
    intake.handle_record(record(comment, "m-redriven"))
    assert texts(store) == ["late"]
    assert outcome(store, "c-6").summary() == "applied commentAdded"


def test_command_ids_are_scoped_per_producer(intake: CommandIntake, store: Store) -> None:
    one = AddComment(room_id="art", user_id="bob", text="from one", command_id="1")
    two = AddComment(room_id="art", user_id="bob", text="from two", command_id="1")
    intake.handle_record(record(one, "m-1", sender="AROAONE:task-1"))
    intake.handle_record(record(two, "m-2", sender="AROATWO:task-7"))
    intake.handle_record(record(one, "m-3", sender="AROAONE:task-2"))  # another task of the same service

    assert sorted(texts(store)) == ["from one", "from two"]
