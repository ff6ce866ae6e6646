"""Order per author (docs/commands.md, issue 9): message groups, and refusals an earlier command may lift.

One author's commands in one room share a FIFO group, so SQS delivers them in order; these tests
hand the intake what SQS would deliver when commands of *different* groups arrive reversed, and what
a producer sending in the wrong group gets. Every case ends as intended or in a recorded outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from roomcast.domain.outcomes import CommandOutcome, outcome_key, producer_of
from roomcast.edges.sqs_intake import CommandIntake, Early
from roomcast.models import AddComment, CreateChatRoom, DeleteChatRoom, JoinChatRoom, LeaveChatRoom
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.intake import SENDER, RecordingSqs, record
from support.recording import StepClock

MAX_RECEIVES = 5


@pytest.fixture
def sqs() -> RecordingSqs:
    return RecordingSqs()


@pytest.fixture
def intake(store: Store, sqs: RecordingSqs, clock: StepClock) -> CommandIntake:
    return CommandIntake(
        store, sqs, "dlq.fifo", max_receive_count=MAX_RECEIVES, outcome_ttl_seconds=86_400, clock=clock
    )


def outcome(store: Store, command_id: str) -> CommandOutcome | None:
    found = store.ledger.recorded(outcome_key(producer_of(SENDER), command_id, ""))
    return found[0] if found else None


def members(store: Store, room: str, *users: str) -> set[str]:
    found = store.rooms.get_room(room)
    assert found is not None
    return store.rooms.members_among(room, found.incarnation, set(users))


def test_a_join_before_the_rooms_creation_waits_for_it(intake: CommandIntake, store: Store) -> None:
    join = JoinChatRoom(room_id="art", user_id="bob", command_id="j-1")
    with pytest.raises(Early, match="RoomNotFound"):
        intake.handle_record(record(join, "m-join"))
    assert outcome(store, "j-1") is None, "nothing recorded while it may still succeed"

    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice", command_id="c-1"), "m-create"))
    intake.handle_record(record(join, "m-join", receives=2))

    assert members(store, "art", "bob") == {"bob"}
    assert (found := outcome(store, "j-1")) is not None and found.summary() == "applied memberJoined"


def test_a_comment_before_its_authors_join_waits_for_it(intake: CommandIntake, store: Store) -> None:
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice")))
    comment = AddComment(room_id="art", user_id="carol", text="hi", command_id="a-1")
    with pytest.raises(Early, match="NotAMember"):
        intake.handle_record(record(comment, "m-comment"))

    intake.handle_record(record(JoinChatRoom(room_id="art", user_id="carol"), "m-join"))
    intake.handle_record(record(comment, "m-comment", receives=2))

    assert [c.text for c in history(store, "art").comments] == ["hi"]


def test_a_predecessor_that_never_comes_ends_in_a_recorded_rejection(intake: CommandIntake, store: Store) -> None:
    join = JoinChatRoom(room_id="nowhere", user_id="bob", command_id="j-2")
    for receives in range(1, MAX_RECEIVES):
        with pytest.raises(Early):
            intake.handle_record(record(join, "m", receives))
    intake.handle_record(record(join, "m", MAX_RECEIVES))

    found = outcome(store, "j-2")
    assert found is not None and (found.status, found.code) == ("rejected", "RoomNotFound")


def test_a_refusal_no_other_command_can_lift_is_final_at_once(intake: CommandIntake, store: Store) -> None:
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice")))
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="bob", command_id="c-2"), "m-2"))
    intake.handle_record(record(DeleteChatRoom(room_id="art", user_id="bob", command_id="d-2"), "m-3"))

    assert (found := outcome(store, "c-2")) is not None and found.code == "RoomAlreadyExists"
    assert (found := outcome(store, "d-2")) is not None and found.code == "NotRoomCreator"


def test_a_leave_before_the_join_of_the_same_author_cannot_happen_but_is_safe(
    intake: CommandIntake, store: Store
) -> None:
    """Same group: SQS keeps join before leave. Had they been reversed (a producer sending them in two
    groups is refused below), the leave is ``unchanged`` and recorded, not lost."""
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice")))
    intake.handle_record(record(LeaveChatRoom(room_id="art", user_id="dave", command_id="l-1"), "m-1"))

    assert (found := outcome(store, "l-1")) is not None and found.summary() == "unchanged NotAMember"


def test_a_command_in_another_group_is_dead_lettered_with_the_reason(
    intake: CommandIntake, store: Store, sqs: RecordingSqs
) -> None:
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice", command_id="c-3"), group="art"))

    [dead] = sqs.sent
    attributes = dead["MessageAttributes"]
    assert attributes["ErrorCode"]["StringValue"] == "WrongMessageGroup"
    assert "'art' is not the command's group 'art#alice'" in attributes["ErrorMessage"]["StringValue"]
    # The dead-letter queue is FIFO too: the copy keeps its group and is deduplicated by message id.
    assert (dead["MessageGroupId"], dead["MessageDeduplicationId"]) == ("art", "m-1")
    assert store.rooms.get_room("art") is None
    assert (found := outcome(store, "c-3")) is not None and found.status == "deadLettered"


def test_a_record_without_a_group_is_dead_lettered(intake: CommandIntake, sqs: RecordingSqs) -> None:
    """Only a standard queue delivers without a group: the command would escape its author's order."""
    bare = record(CreateChatRoom(room_id="art", user_id="alice"))
    del bare.raw_event["attributes"]["MessageGroupId"]
    intake.handle_record(bare)

    [dead] = sqs.sent
    assert "no MessageGroupId" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert dead["MessageGroupId"] == "ungrouped"


class VisibilitySqs(RecordingSqs):
    """Records the visibility changes the intake asks for, and knows one queue's URL."""

    def __init__(self) -> None:
        super().__init__()
        self.visibility: list[tuple[str, str, int]] = []

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, str]:  # noqa: N803
        return {"QueueUrl": f"https://sqs.local/{QueueOwnerAWSAccountId}/{QueueName}"}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        self.visibility.append((QueueUrl, ReceiptHandle, VisibilityTimeout))


def in_queue(body: JoinChatRoom | AddComment, message_id: str, receives: int) -> Any:
    early = record(body, message_id, receives)
    early.raw_event.update(eventSourceARN="arn:aws:sqs:eu-west-1:123456789012:q.fifo", receiptHandle=f"h-{message_id}")
    return early


def test_an_early_command_and_its_group_come_back_after_seconds(store: Store, clock: StepClock) -> None:
    sqs = VisibilitySqs()
    intake = CommandIntake(
        store, sqs, "dlq.fifo", max_receive_count=MAX_RECEIVES, outcome_ttl_seconds=86_400, clock=clock
    )

    for receives in (1, 3):
        with pytest.raises(Early):
            intake.handle_record(in_queue(JoinChatRoom(room_id="later", user_id="bob"), "m-1", receives))
    intake.skipped(in_queue(AddComment(room_id="later", user_id="bob", text="hi"), "m-2", 1), behind_early=True)
    intake.skipped(in_queue(AddComment(room_id="later", user_id="bob", text="ho"), "m-3", 1), behind_early=False)

    url = "https://sqs.local/123456789012/q.fifo"
    assert sqs.visibility == [(url, "h-m-1", 2), (url, "h-m-1", 8), (url, "h-m-2", 2)]
