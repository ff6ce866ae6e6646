"""Issue 10's second fan-out tier: a big room's batch through the stream, the fan-out queue and FanoutFunction.

The StreamFunction behind the template's stream mapping hands a room above FanoutThreshold to the fan-out
queue in slices of FanoutSliceSize; the FanoutFunction behind the queue's mapping posts each slice. Both run
as the template declares them, with the thresholds lowered through the template's parameters.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest
from test_failure_isolation import room_with_subscribers, stream_function_run, texts_received

from roomcast.models import AddComment
from roomcast.usecases import commands
from roomcast.wire.slices import FanoutSlice
from roomcast_local import invoke as local_invoke
from roomcast_local import template
from roomcast_local.sqs_source import SqsEventSource, lambda_record
from support.fakes import RecordingApi
from support.stack import Stack, body_of

pytestmark = pytest.mark.integration

SLICE_RETRY_VISIBILITY = 1  # seconds: a failed slice comes back this soon


def slicing(stack: Stack, threshold: int, slice_size: int) -> None:
    stack.provisioned.parameters.update(FanoutThreshold=str(threshold), FanoutSliceSize=str(slice_size))


def fanout_run(stack: Stack, timeout: int | None = None) -> tuple[list[FanoutSlice], SqsEventSource]:
    """The FanoutFunction behind the template's Slices mapping (``timeout``: other than the template's);
    records each slice it is given."""
    given: list[FanoutSlice] = []
    spec = stack.spec("FanoutFunction")
    spec = spec if timeout is None else replace(spec, timeout=timeout)

    def invoke(event: dict[str, Any]) -> Any:
        given.extend(FanoutSlice.model_validate_json(r["body"]) for r in event["Records"])
        return local_invoke.invoke(spec, event)

    source = SqsEventSource(
        stack.sqs, stack.url("FanoutQueue"), stack.provisioned.attrs[("FanoutQueue", "Arn")], invoke, batch_size=1
    )
    return given, source


def drain(source: SqsEventSource, until: Any, deadline_seconds: float = 30) -> None:
    """Polls the queue (long polls of 1 s) until ``until()`` holds; a generous deadline, never a timing."""
    deadline = time.monotonic() + deadline_seconds
    while not until():
        assert time.monotonic() < deadline, "the fan-out queue did not drain in time"
        source.poll_once(wait_seconds=1)


def queue_depth(stack: Stack, logical_id: str) -> int:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.url(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def comment(stack: Stack, texts: list[str]) -> None:
    for text in texts:
        commands.apply(AddComment(room_id="art", user_id="art-u00", text=text), stack.store)


def test_a_big_room_goes_out_in_slices_each_connection_once_in_order(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 11 subscribers, sliced above 4 in slices of 4
    slicing(stack, threshold=4, slice_size=4)
    connections, _ = room_with_subscribers(stack, "art", 11)
    batches, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)

    # When 5 comments go through the stream, then the fan-out queue
    texts = [f"m{n}" for n in range(5)]
    comment(stack, texts)
    stream.drain()
    assert connections_api.posts == [], "the StreamFunction hands a big room over, posting nothing itself"
    drain(fanout, lambda: len(given) == 3)

    # Then three slices (4 + 4 + 3) hold every connection once, and each got every comment once, in order
    assert sorted(len(s.targets) for s in given) == [3, 4, 4]
    assert sorted(t.connection_id for s in given for t in s.targets) == sorted(connections)
    assert {(s.part, s.parts) for s in given} == {(1, 3), (2, 3), (3, 3)}
    for connection in connections:
        assert texts_received(connections_api, connection) == texts
    assert len(connections_api.posts) == len(connections)  # one frame holds the batch's comments
    assert len(batches) == 1 and queue_depth(stack, "FanoutQueue") == 0


def test_a_room_at_the_threshold_keeps_the_single_hop(stack: Stack, connections_api: RecordingApi) -> None:
    slicing(stack, threshold=4, slice_size=2)
    connections, _ = room_with_subscribers(stack, "art", 4)
    _, stream = stream_function_run(stack)

    comment(stack, ["hello"])
    stream.drain()

    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert queue_depth(stack, "FanoutQueue") == 0


def test_a_slice_that_reached_nobody_is_retried_alone(stack: Stack, connections_api: RecordingApi) -> None:
    # Given a room of 9 in slices of 3, the first slice's connections throttled for one whole invocation
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 9)
    stack.sqs.set_queue_attributes(
        QueueUrl=stack.url("FanoutQueue"), Attributes={"VisibilityTimeout": str(SLICE_RETRY_VISIBILITY)}
    )
    max_attempts = 4  # POST_MAX_ATTEMPTS' default
    first = sorted(connections)[:3]  # subscribers are read in connection id order
    connections_api.throttled.update(dict.fromkeys(first, max_attempts))
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)

    # When a comment goes through both tiers
    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then the first slice came twice, the others once, and every connection has exactly one copy
    parts = sorted(s.part for s in given)
    assert parts == [1, 1, 2, 3]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert queue_depth(stack, "FanoutQueue") == 0 and queue_depth(stack, "FanoutDeadLetterQueue") == 0


def test_a_gone_connection_in_a_slice_loses_its_subscriptions(stack: Stack, connections_api: RecordingApi) -> None:
    slicing(stack, threshold=2, slice_size=2)
    connections, feed = room_with_subscribers(stack, "art", 4)
    connections_api.gone.add(connections[1])
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)

    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: len(given) == 2)

    remaining = {s.connection_id for s in stack.store.connections.all_subscribers(feed)}
    assert remaining == set(connections) - {connections[1]}
    assert [texts_received(connections_api, c) for c in connections] == [["hello"], [], ["hello"], ["hello"]]


def test_a_message_that_is_not_a_slice_fails_alone(stack: Stack, connections_api: RecordingApi) -> None:
    good = FanoutSlice.model_validate(
        {
            "roomId": "art",
            "incarnation": "i1",
            "part": 1,
            "parts": 1,
            "frames": ['{"type":"roomDeleted","roomId":"art"}'],
            "targets": [{"connectionId": "c1", "userId": "u1", "expiresAt": int(time.time()) + 600}],
        }
    )
    for body in (good.model_dump_json(by_alias=True), '{"roomId": "art"}'):
        stack.sqs.send_message(QueueUrl=stack.url("FanoutQueue"), MessageBody=body)
    messages = stack.sqs.receive_message(QueueUrl=stack.url("FanoutQueue"), MaxNumberOfMessages=10)["Messages"]
    arn = stack.provisioned.attrs[("FanoutQueue", "Arn")]
    event = {"Records": [lambda_record(m, arn, "eu-west-1") for m in messages]}

    response = stack.invoke("FanoutFunction", event)

    bad = next(m["MessageId"] for m in messages if "frames" not in body_of(m))
    assert response == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert connections_api.received["c1"] == [b'{"type":"roomDeleted","roomId":"art"}']


def test_slices_the_queue_refuses_fail_the_room_for_a_retry_when_nobody_got_them(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a big room whose fan-out queue is gone (deleted, or a policy refuses the StreamFunction)
    slicing(stack, threshold=2, slice_size=2)
    room_with_subscribers(stack, "art", 4)
    stack.sqs.delete_queue(QueueUrl=stack.url("FanoutQueue"))
    batches, stream = stream_function_run(stack)

    # When a comment goes through the stream
    comment(stack, ["hello"])
    polled = stream.poll_once()

    # Then nobody was posted to and the record failed, so the stream retries it
    assert connections_api.posts == []
    assert (batches, polled.failed_batches) == ([1], 1)


def test_a_refused_connection_in_a_slice_leaves_the_others_one_copy_and_is_alarmed(
    stack: Stack, connections_api: RecordingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a room of 6 in slices of 3, one connection refused (403) for good
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 6)
    refused = sorted(connections)[1]
    connections_api.refused.add(refused)
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    capsys.readouterr()

    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: len(given) == 2)

    # Then each slice came once, every other connection has one copy, and the refusal is the alarm's metric
    for connection in connections:
        assert texts_received(connections_api, connection) == ([] if connection == refused else ["hello"])
    assert sorted(s.part for s in given) == [1, 2] and queue_depth(stack, "FanoutQueue") == 0
    alarm = template.load()["Resources"]["FanoutPostsRefusedAlarm"]["Properties"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    refusals = [m[alarm["MetricName"]] for m in emitted if m.get("service") == "fanout" and alarm["MetricName"] in m]
    assert sorted(refusals) == [[0.0], [1.0]]  # one slice refused one post, the other none
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": "fanout"}


def test_a_slice_at_its_deadline_hands_the_rest_on_and_nobody_gets_a_frame_twice(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 6 in slices of 3, and a FanoutFunction whose invocations start at their posting deadline
    # (a 2 s timeout is slice_batch's margin): each invocation posts to one connection, then hands the rest on
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 6)
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack, timeout=2)

    # When a comment goes through both tiers
    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then each slice came back shorter until it was done, and every connection has exactly one copy
    assert sorted(len(s.targets) for s in given) == [1, 1, 2, 2, 3, 3]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert len(connections_api.posts) == len(connections)
    assert queue_depth(stack, "FanoutQueue") == 0 and queue_depth(stack, "FanoutDeadLetterQueue") == 0
