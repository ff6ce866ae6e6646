"""A batch's outcome records read ahead (CommandIntake.read_ahead), on the in-memory table.

The read ahead only saves requests: every outcome the intake records, and every effect it writes,
is the one it would write reading each record on its own (tests/unit/test_outcome_rules.py).
"""

from __future__ import annotations

import pytest

from roomcast.domain.outcomes import outcome_key, producer_of
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.models import AddComment
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.intake import SENDER, intake_in_art, record
from support.recording import StepClock


@pytest.fixture
def intake(store: Store, clock: StepClock) -> CommandIntake:
    return intake_in_art(store, clock, "bob")


def texts(store: Store) -> list[str]:
    return [c.text for c in history(store, "art").comments]


def test_a_command_read_ahead_as_applied_is_not_applied_again(intake: CommandIntake, store: Store) -> None:
    comment = record(AddComment(room_id="art", user_id="bob", text="once", command_id="c-1"))
    intake.handle_record(comment)

    intake.read_ahead([comment.raw_event])
    intake.handle_record(comment)

    assert texts(store) == ["once"]


def test_a_duplicate_in_the_batch_is_applied_once(intake: CommandIntake, store: Store) -> None:
    first = record(AddComment(room_id="art", user_id="bob", text="once", command_id="c-2"), "m-1")
    again = record(AddComment(room_id="art", user_id="bob", text="once", command_id="c-2"), "m-2")

    intake.read_ahead([first.raw_event, again.raw_event])  # both read as not recorded yet
    intake.handle_record(first)
    intake.handle_record(again)

    assert texts(store) == ["once"]
    found = store.ledger.recorded(outcome_key(producer_of(SENDER), "c-2", "m-1"))
    assert found is not None and found[0].summary() == "applied commentAdded"


def test_a_record_it_cannot_key_leaves_the_batch_to_its_own_reads(intake: CommandIntake, store: Store) -> None:
    comment = record(AddComment(room_id="art", user_id="bob", text="fine", command_id="c-3"))

    intake.read_ahead([{"messageId": "m-9", "body": "{}"}, comment.raw_event])  # no attributes: no key
    intake.handle_record(comment)

    assert texts(store) == ["fine"]
