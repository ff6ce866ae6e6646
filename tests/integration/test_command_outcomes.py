"""Exactly one effect and one recorded outcome per command, whatever fails, on each backend (issue 9).

Each test sends real SQS messages and runs the CommandFunction on them; failures are injected
through botocore's own event hooks, so the adapters see what DynamoDB would make them see.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ReadTimeoutError

from roomcast.adapters import aws_clients
from roomcast.domain.outcomes import CommandOutcome, outcome_key, producer_of
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom, LeaveChatRoom
from roomcast.usecases.history import history
from support.stack import Stack

pytestmark = pytest.mark.integration
MOTO_SENDER = "AIDAIT2UOQQY3AUEKVGXU"  # moto's SenderId for every message


def texts(stack: Stack, room: str = "art") -> list[str]:
    return [c.text for c in history(stack.store, room).comments]


def outcome(stack: Stack, event: dict[str, Any], command_id: str | None = None, index: int = 0) -> CommandOutcome:
    record = event["Records"][index]
    producer = producer_of(record["attributes"]["SenderId"])
    found = stack.store.ledger.recorded(outcome_key(producer, command_id, record["messageId"]))
    assert found is not None, "every command ends in a recorded outcome"
    return found[0]


def run(stack: Stack, *commands: Any) -> dict[str, Any]:
    """Send the commands, receive them as one event, run the function once; returns the event."""
    stack.send(*commands)
    event = stack.receive_event(len(commands))
    stack.invoke("CommandFunction", event)
    return event


@pytest.fixture
def room(stack: Stack) -> Stack:
    """Given room art, created by alice, joined by bob."""
    run(stack, CreateChatRoom(room_id="art", user_id="alice"), JoinChatRoom(room_id="art", user_id="bob"))
    return stack


@pytest.fixture
def lost_answers() -> Iterator[dict[str, int]]:
    """DynamoDB commits the next N transactions, but their answers never arrive (a read timeout)."""
    state = {"left": 0}

    def hook(**_: Any) -> None:
        if state["left"] > 0:
            state["left"] -= 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb")

    events = aws_clients.dynamodb().meta.events
    events.register("after-call.dynamodb.TransactWriteItems", hook)
    yield state
    events.unregister("after-call.dynamodb.TransactWriteItems", hook)


def test_an_ambiguous_commit_is_retried_and_has_one_effect(room: Stack, lost_answers: dict[str, int]) -> None:
    # Given a comment whose transaction commits but whose answer is lost (a timeout, a dying Lambda)
    lost_answers["left"] = 1
    room.send(AddComment(room_id="art", user_id="bob", text="once", command_id="c-1"))
    event = room.receive_event(1)
    # (the function cannot know: the record fails, and when all fail BatchProcessor raises)
    with pytest.raises(BatchProcessingError):
        room.invoke("CommandFunction", event)

    # When SQS delivers it again
    second = room.invoke("CommandFunction", event)

    # Then there is one comment, and its outcome is the first delivery's
    assert second == {"batchItemFailures": []}
    assert texts(room) == ["once"]
    recorded = outcome(room, event, "c-1")
    assert recorded.summary() == "applied commentAdded"


def test_two_hundred_deliveries_of_one_command_make_one_comment(room: Stack) -> None:
    room.send(AddComment(room_id="art", user_id="bob", text="once", command_id="c-200"))
    event = room.receive_event(1)

    for _ in range(20):
        batch = {"Records": [copy.deepcopy(event["Records"][0]) for _ in range(10)]}
        assert room.invoke("CommandFunction", batch) == {"batchItemFailures": []}

    assert texts(room) == ["once"]


def test_a_redelivery_after_the_author_left_returns_the_first_outcome(room: Stack) -> None:
    event = run(room, AddComment(room_id="art", user_id="bob", text="hello", command_id="c-2"))
    run(room, LeaveChatRoom(room_id="art", user_id="bob"))

    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}

    assert texts(room) == ["hello"]
    assert outcome(room, event, "c-2").summary() == "applied commentAdded"


def test_outcomes_outlive_the_dead_letter_queue_and_a_redrive(room: Stack) -> None:
    event = run(room, AddComment(room_id="art", user_id="bob", text="hello", command_id="c-3"))
    key = outcome_key(producer_of(event["Records"][0]["attributes"]["SenderId"]), "c-3", "")
    item = room.dynamodb.get_item(
        TableName=room.table_name, Key={"PK": {"S": f"Outcome:{key}"}, "SK": {"S": "outcome"}}
    )
    recorded_at = int(item["Item"]["ExpiresAt"]["N"])
    # The DLQ keeps messages 14 days; a redrive may come after them
    assert recorded_at - int(event["Records"][0]["attributes"]["SentTimestamp"]) // 1000 >= 28 * 86_400


def test_a_rejection_is_recorded_with_its_code(room: Stack) -> None:
    room.send(AddComment(room_id="art", user_id="carol", text="hi", command_id="c-4"))
    event = room.receive_event(1)
    # NotAMember is waited out until the last delivery SQS allows (an earlier join may be on its way)
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    room.invoke("CommandFunction", event)

    recorded = outcome(room, event, "c-4")
    assert (recorded.status, recorded.code) == ("rejected", "NotAMember")
    assert recorded.summary().startswith("rejected NotAMember")


def drain(stack: Stack) -> None:
    """Run the command queue's event source until the queue is empty. Failed records come back at once;
    one refused only for now comes back after the function's back-off (2, 4, 8, 16 s)."""
    url = stack.url("CommandQueue")
    stack.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    source = stack.command_source()
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + 120
    empty_before = False
    while True:
        source.poll_once()
        left = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
        empty = sum(int(left[name]) for name in counts) == 0
        # Empty twice in a row: moto reads the clock once per count, so a message whose back-off ends between
        # the two is in neither (visible too late for the first, no longer invisible for the second).
        if empty and empty_before:
            return
        empty_before = empty
        assert time.monotonic() < deadline, "the queue never emptied"
        time.sleep(0.2)


def recorded(stack: Stack, command_id: str) -> CommandOutcome:
    found = stack.store.ledger.recorded(outcome_key(producer_of(MOTO_SENDER), command_id, ""))
    assert found is not None, f"{command_id}: every command ends in a recorded outcome"
    return found[0]


def test_a_join_sent_before_the_rooms_creation_waits_for_it(stack: Stack) -> None:
    # bob's join and alice's create travel in different groups: the queue may hand the join over first
    stack.send(JoinChatRoom(room_id="new", user_id="bob", command_id="j-1"))
    stack.send(CreateChatRoom(room_id="new", user_id="alice", command_id="c-1"))

    drain(stack)

    assert recorded(stack, "c-1").summary() == "applied chatRoomCreated"
    assert recorded(stack, "j-1").summary() == "applied memberJoined"


def test_a_join_waiting_for_the_rooms_creation_comes_back_in_seconds_not_the_visibility_timeout(
    stack: Stack,
) -> None:
    # The template's 180 s visibility timeout: the function shortens it for a command refused only for now
    stack.send(JoinChatRoom(room_id="soon", user_id="bob", command_id="j-5"))
    source = stack.command_source()
    assert source.poll_once().failed == 1
    stack.send(CreateChatRoom(room_id="soon", user_id="alice", command_id="c-5"))

    deadline = time.monotonic() + 60
    while stack.store.ledger.recorded(outcome_key(producer_of(MOTO_SENDER), "j-5", "")) is None:
        assert time.monotonic() < deadline, "bob's join never came back"
        source.poll_once()
        time.sleep(0.2)

    assert recorded(stack, "j-5").summary() == "applied memberJoined"


def test_a_comment_sent_before_its_authors_join_is_rejected_and_the_join_still_applies(room: Stack) -> None:
    # One author, one group: the producer's own order is kept, so the comment really came first
    room.send(
        AddComment(room_id="art", user_id="carol", text="too early", command_id="c-5"),
        JoinChatRoom(room_id="art", user_id="carol", command_id="c-6"),
        AddComment(room_id="art", user_id="carol", text="in time", command_id="c-7"),
    )

    drain(room)

    assert (recorded(room, "c-5").status, recorded(room, "c-5").code) == ("rejected", "NotAMember")
    assert recorded(room, "c-6").summary() == "applied memberJoined"
    assert texts(room) == ["in time"]


def test_a_join_for_a_room_that_never_comes_ends_in_a_readable_rejection(stack: Stack) -> None:
    stack.send(JoinChatRoom(room_id="never", user_id="bob", command_id="j-9"))

    drain(stack)

    assert recorded(stack, "j-9").summary() == "rejected RoomNotFound: room 'never' does not exist"


def test_unchanged_is_recorded_as_applied(room: Stack) -> None:
    event = run(room, JoinChatRoom(room_id="art", user_id="bob", command_id="j-2"))

    assert outcome(room, event, "j-2").summary() == "unchanged AlreadyMember"


def test_an_invalid_command_is_recorded_as_dead_lettered(room: Stack) -> None:
    event = run(room, '{"type": "addComment", "roomId": "art", "userId": "bob", "commandId": "bad-1"}')

    recorded = outcome(room, event, "bad-1")
    assert (recorded.status, recorded.code) == ("deadLettered", "InvalidCommand")
    assert "text" in (recorded.message or "")
    assert len(room.dead_letters()) == 1


def test_command_ids_are_scoped_per_producer(room: Stack) -> None:
    # Given two producers that both number their commands from 1
    room.send(
        AddComment(room_id="art", user_id="bob", text="from one", command_id="1"),
        AddComment(room_id="art", user_id="bob", text="from two", command_id="1"),
        fresh=True,
    )
    event = room.receive_event(2)
    event["Records"][0]["attributes"]["SenderId"] = "AROAPRODUCERONE:task-1"
    event["Records"][1]["attributes"]["SenderId"] = "AROAPRODUCERTWO:task-9"

    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}

    assert sorted(texts(room)) == ["from one", "from two"]
    assert room.dead_letters() == []


def test_a_command_without_command_id_is_known_by_its_message(room: Stack) -> None:
    event = run(room, AddComment(room_id="art", user_id="bob", text="no id"))

    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}
    assert texts(room) == ["no id"]
    assert outcome(room, event).summary() == "applied commentAdded"
