"""The command function end to end on each backend: real SQS messages in, table and DLQ out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from roomcast.adapters import aws_clients
from roomcast.domain.outcomes import outcome_key, producer_of
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from roomcast.usecases.history import history
from support.stack import Stack, body_of

pytestmark = pytest.mark.integration


def failures(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


def texts(stack: Stack, room: str = "art") -> list[str]:
    return [c.text for c in history(stack.store, room).comments]


@pytest.fixture
def room(stack: Stack) -> Stack:
    """Given room art, created by alice, joined by bob, through the function itself."""
    stack.send(CreateChatRoom(room_id="art", user_id="alice"), JoinChatRoom(room_id="art", user_id="bob"))
    assert stack.invoke("CommandFunction", stack.receive_event(2)) == {"batchItemFailures": []}
    return stack


def test_a_batch_of_good_commands_is_applied_and_acknowledged(room: Stack) -> None:
    room.send(*(AddComment(room_id="art", user_id="bob", text=f"m{n}") for n in range(3)))

    response = room.invoke("CommandFunction", room.receive_event(3))

    assert response == {"batchItemFailures": []}
    assert sorted(texts(room)) == ["m0", "m1", "m2"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "Invalid JSON"),
        ('{"type": "shout", "roomId": "art", "userId": "bob"}', "does not match any of the expected tags"),
        # a NUL quoted back in the reason would make SQS refuse the attribute: it is replaced
        ('{"type": "sh\\u0000out", "roomId": "art", "userId": "bob"}', "Input tag 'sh?out'"),
        ('{"type": "addComment", "roomId": "art", "userId": "bob"}', "addComment.text: Field required"),
        ('{"type": "addComment", "roomId": "a#b", "userId": "bob", "text": "x"}', "addComment.roomId"),
        ('{"type": "joinChatRoom", "roomId": "art", "userId": "bob", "colour": "red"}', "colour: Extra inputs"),
        (json.dumps({"type": "addComment", "roomId": "art", "userId": "bob", "text": "x" * 2001}), "at most 2000"),
    ],
)
def test_a_poison_message_goes_to_the_dlq_at_once_with_its_reason(room: Stack, body: str, reason: str) -> None:
    # Given a poison message between two good ones
    good_before, poison, good_after = room.send(
        AddComment(room_id="art", user_id="bob", text="before"),
        body,
        AddComment(room_id="art", user_id="bob", text="after"),
    )

    # When one batch carries all three
    response = room.invoke("CommandFunction", room.receive_event(3))

    # Then the batch succeeds (nothing is retried), the good ones are applied...
    assert response == {"batchItemFailures": []}
    assert sorted(texts(room)) == ["after", "before"]
    # ...and the poison one sits in the DLQ, body intact, with its reason attached
    [dead] = room.dead_letters()
    assert dead["Body"] == body
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "InvalidCommand"
    assert reason in attributes["ErrorMessage"]
    assert attributes["OriginalMessageId"] == poison
    assert {good_before, good_after}.isdisjoint({attributes["OriginalMessageId"]})


def test_a_business_rejection_is_logged_counted_and_not_retried(
    room: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    room.send(AddComment(room_id="art", user_id="mallory", text="let me in"))
    event = room.receive_event(1)
    # A NotAMember is waited out (an earlier join may be on its way) until the last delivery SQS allows
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"

    response = room.invoke("CommandFunction", event)

    assert response == {"batchItemFailures": []}
    assert texts(room) == []
    assert room.dead_letters() == []
    [log] = [r for r in caplog.records if r.getMessage() == "command rejected"]
    assert (log.reason, log.userId) == ("NotAMember", "mallory")  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_reason = [line for line in lines if "CommandRejected" in line and "Reason" in line]
    assert [(m["Reason"], m["CommandRejected"]) for m in by_reason] == [("NotAMember", [1.0])]


class Throttle:
    """Makes DynamoDB answer ThrottlingException to every write of a comment whose text is doomed."""

    def __init__(self) -> None:
        self.doomed: set[str] = set()
        self.hits = 0


@pytest.fixture
def throttle(room: Stack) -> Iterator[Throttle]:
    state = Throttle()

    def hook(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        request = json.loads(params["body"])  # before-call sees the serialised request
        puts = [i["Put"]["Item"] for i in request.get("TransactItems", []) if "Put" in i]
        if any(item.get("Comment", {}).get("S") in state.doomed for item in puts):
            state.hits += 1
            error = {
                "Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the allowed throughput."}
            }
            return AWSResponse("https://dynamodb", 400, {}, None), error
        return None

    aws_clients.dynamodb().meta.events.register("before-call.dynamodb.TransactWriteItems", hook)
    yield state
    aws_clients.dynamodb().meta.events.unregister("before-call.dynamodb.TransactWriteItems", hook)


def test_a_transient_failure_retries_its_author_s_group_only(room: Stack, throttle: Throttle) -> None:
    throttle.doomed.add("slow")
    ok, slow, after_slow, also_ok = room.send(
        AddComment(room_id="art", user_id="alice", text="fine"),
        AddComment(room_id="art", user_id="bob", text="slow"),
        AddComment(room_id="art", user_id="bob", text="after slow"),
        AddComment(room_id="art", user_id="alice", text="also fine"),
    )

    response = room.invoke("CommandFunction", room.receive_event(4))

    # bob's next comment comes back with the failed one, so it cannot overtake it; alice's go on
    assert failures(response) == {slow, after_slow}
    assert sorted(texts(room)) == ["also fine", "fine"]
    assert {ok, also_ok}.isdisjoint(failures(response))


def test_a_record_that_keeps_failing_lands_in_the_dlq_after_max_receive_count(room: Stack, throttle: Throttle) -> None:
    # Given a queue whose messages come back at once, and a record DynamoDB always throttles
    room.sqs.set_queue_attributes(QueueUrl=room.url("CommandQueue"), Attributes={"VisibilityTimeout": "0"})
    redrive = json.loads(
        room.sqs.get_queue_attributes(QueueUrl=room.url("CommandQueue"), AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    throttle.doomed.add("doomed")
    room.send(
        AddComment(room_id="art", user_id="alice", text="doomed"),
        AddComment(room_id="art", user_id="alice", text="behind it", command_id="b-1"),
        AddComment(room_id="art", user_id="bob", text="ok"),
    )
    source = room.command_source()

    # When the event source polls until the queue is empty
    polls = 0
    while source.poll_once().received:
        polls += 1
        assert polls <= 20

    # Then bob's record was applied once; the doomed one was tried maxReceiveCount times, then parked,
    # and alice's next comment, kept behind it in her group, went with it, its outcome saying why
    assert texts(room) == ["ok"]
    dead = room.dead_letters()
    assert [body_of(d)["text"] for d in dead] == ["doomed", "behind it"]
    found = room.store.ledger.recorded(outcome_key(producer_of(dead[1]["Attributes"]["SenderId"]), "b-1", ""))
    assert found is not None
    assert (found[0].status, found[0].code) == ("deadLettered", "RetriesExhausted")
    assert "an earlier command of group art#alice failed" in (found[0].message or "")
    # (a before-call answer skips botocore's own retries: one hit per delivery)
    assert throttle.hits == int(redrive["maxReceiveCount"])


def test_the_same_message_delivered_twice_has_one_effect(room: Stack) -> None:
    room.send(AddComment(room_id="art", user_id="bob", text="once"))
    event = room.receive_event(1)

    first = room.invoke("CommandFunction", event)
    second = room.invoke("CommandFunction", event)

    assert first == second == {"batchItemFailures": []}
    assert texts(room) == ["once"]


def test_sqs_drops_a_command_sent_again_within_its_deduplication_window(room: Stack) -> None:
    command = AddComment(room_id="art", user_id="bob", text="once", command_id="c-41")
    room.send(command, command)

    assert room.invoke("CommandFunction", room.receive_event(1)) == {"batchItemFailures": []}
    assert room.sqs.receive_message(QueueUrl=room.url("CommandQueue")).get("Messages", []) == []
    assert texts(room) == ["once"]


def test_the_same_command_id_sent_twice_has_one_effect(room: Stack) -> None:
    command = AddComment(room_id="art", user_id="bob", text="once", command_id="c-42")
    # Past SQS's own deduplication (5 minutes, by commandId): the outcome record is what holds
    room.send(command, command, fresh=True)

    response = room.invoke("CommandFunction", room.receive_event(2))

    assert response == {"batchItemFailures": []}
    assert texts(room) == ["once"]


def test_a_command_id_reused_for_another_command_is_dead_lettered(room: Stack) -> None:
    room.send(AddComment(room_id="art", user_id="bob", text="first", command_id="c-7"))
    room.invoke("CommandFunction", room.receive_event(1))
    room.send(AddComment(room_id="art", user_id="bob", text="second", command_id="c-7"), fresh=True)

    response = room.invoke("CommandFunction", room.receive_event(1))

    assert response == {"batchItemFailures": []}
    assert texts(room) == ["first"]
    [dead] = room.dead_letters()
    assert "already used" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]


def test_a_dlq_that_cannot_be_reached_keeps_the_poison_message_for_retry(room: Stack) -> None:
    room.sqs.set_queue_attributes(QueueUrl=room.url("CommandQueue"), Attributes={"VisibilityTimeout": "0"})
    room.sqs.delete_queue(QueueUrl=room.url("CommandDeadLetterQueue"))
    [poison] = room.send("not json")

    result = room.command_source().poll_once()

    # The whole (one-record) batch failed, so the invocation errors and the message stays queued
    assert (result.received, result.failed) == (1, 1)
    assert [r["messageId"] for r in room.receive_event(1)["Records"]] == [poison]
