"""Issue 10's second fan-out tier: a big room's batch through the stream, the fan-out queue and FanoutFunction.

The StreamFunction behind the template's stream mapping hands a room above FanoutThreshold to the fan-out
queue (FIFO) in slices of FanoutSliceSize, one message group per stable bucket of its connections; the
FanoutFunction behind the queue's mapping posts each slice. Both run as the template declares them, with
the thresholds lowered through the template's parameters. The connection ids are fixed, so which bucket
each falls in is too (``buckets``).
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
from roomcast.wire.slices import FanoutSlice, bucket_count, bucket_of
from roomcast_local import invoke as local_invoke
from roomcast_local import template
from roomcast_local.sqs_source import BatchResult, SqsEventSource, lambda_record
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
        for record in event["Records"]:
            piece = FanoutSlice.model_validate_json(record["body"])
            assert record["attributes"]["MessageGroupId"] == piece.group, "each slice in its bucket's group"
            given.append(piece)
        return local_invoke.invoke(spec, event)

    source = SqsEventSource(
        stack.sqs, stack.url("FanoutQueue"), stack.provisioned.attrs[("FanoutQueue", "Arn")], invoke, batch_size=1
    )
    return given, source


def buckets(connections: list[str], slice_size: int) -> list[list[str]]:
    """The room's connections by bucket, in bucket order (as the slices are numbered), empty ones left out."""
    count = bucket_count(len(connections), slice_size)
    by_bucket = [[c for c in connections if bucket_of(c, count) == bucket] for bucket in range(count)]
    return [bucket for bucket in by_bucket if bucket]


class FanoutSources:
    """The FanoutFunction's two mappings polled as one: the frame windows' flush queue (standard, each flush
    delayed to its window's end) and the fan-out queue (FIFO, the slices a flush hands over)."""

    def __init__(self, stack: Stack, invoke: Any) -> None:
        self.sources = [
            SqsEventSource(stack.sqs, stack.url(queue), stack.provisioned.attrs[(queue, "Arn")], invoke, batch_size=1)
            for queue in ("FrameWindowQueue", "FanoutQueue")
        ]

    def poll_once(self, wait_seconds: int = 0) -> BatchResult:
        flushes = self.sources[0].poll_once(wait_seconds=0)
        slices = self.sources[1].poll_once(wait_seconds=0 if flushes.received else wait_seconds)
        return BatchResult(flushes.received + slices.received, flushes.failed + slices.failed)


def drain(source: SqsEventSource | FanoutSources, until: Any, deadline_seconds: float = 30) -> None:
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


def room_of_eleven_in_slices_of_four(stack: Stack) -> tuple[list[str], list[int], Any, list[FanoutSlice], Any]:
    """A room of 11 subscribers sliced above 4 in slices of 4: its connections, the StreamFunction's batch
    sizes and source, the slices the FanoutFunction is given and its source."""
    slicing(stack, threshold=4, slice_size=4)
    connections, _ = room_with_subscribers(stack, "art", 11)
    batches, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    return connections, batches, stream, given, fanout


def comment(stack: Stack, texts: list[str]) -> None:
    for text in texts:
        commands.apply(AddComment(room_id="art", user_id="art-u00", text=text), stack.store)


def test_a_big_room_goes_out_in_slices_each_connection_once_in_order(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 11 subscribers, sliced above 4 in slices of 4
    connections, batches, stream, given, fanout = room_of_eleven_in_slices_of_four(stack)

    # When 5 comments go through the stream, then the fan-out queue
    texts = [f"m{n}" for n in range(5)]
    comment(stack, texts)
    stream.drain()
    assert connections_api.posts == [], "the StreamFunction hands a big room over, posting nothing itself"
    drain(fanout, lambda: len(given) == 4)

    # Then one slice per bucket (4 buckets of 11 / 4 * 4 / 3 subscribers, rounded up to a power of two) holds
    # every connection once, and each got every comment once, in order
    assert sorted([t.connection_id for t in s.targets] for s in given) == sorted(buckets(connections, 4))
    assert {(s.part, s.parts) for s in given} == {(1, 4), (2, 4), (3, 4), (4, 4)}
    assert len({s.group for s in given}) == 4
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
    # Given a room of 9 in slices of 3, one bucket's connections throttled for one whole invocation
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 9)
    stack.sqs.set_queue_attributes(
        QueueUrl=stack.url("FanoutQueue"), Attributes={"VisibilityTimeout": str(SLICE_RETRY_VISIBILITY)}
    )
    max_attempts = 4  # POST_MAX_ATTEMPTS' default
    first = buckets(connections, 3)[0]
    connections_api.throttled.update(dict.fromkeys(first, max_attempts))
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)

    # When a comment goes through both tiers
    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then the first slice came twice, the others once, and every connection has exactly one copy
    parts = sorted(s.part for s in given)
    assert parts == [1, 1, 2, 3, 4]
    assert [t.connection_id for t in given[0].targets] == first
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
    for n, body in enumerate((good.model_dump_json(by_alias=True), '{"roomId": "art"}')):
        stack.sqs.send_message(
            QueueUrl=stack.url("FanoutQueue"), MessageBody=body, MessageGroupId=f"g{n}", MessageDeduplicationId=f"d{n}"
        )
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
    # Given a room of 6 in slices of 3 (3 buckets of 2), one connection refused (403) for good
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 6)
    refused = buckets(connections, 3)[0][1]
    connections_api.refused.add(refused)
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    capsys.readouterr()

    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: len(given) == 3)

    # Then each slice came once, every other connection has one copy, and the refusal is the alarm's metric
    for connection in connections:
        assert texts_received(connections_api, connection) == ([] if connection == refused else ["hello"])
    assert sorted(s.part for s in given) == [1, 2, 3] and queue_depth(stack, "FanoutQueue") == 0
    alarm = template.load()["Resources"]["FanoutPostsRefusedAlarm"]["Properties"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    refusals = [m[alarm["MetricName"]] for m in emitted if m.get("service") == "fanout" and alarm["MetricName"] in m]
    assert sorted(refusals) == [[0.0], [0.0], [1.0]]  # one slice refused one post, the others none
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"service": "fanout"}


def test_a_slice_at_its_deadline_hands_the_rest_on_and_nobody_gets_a_frame_twice(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 6 in slices of 3 (3 buckets of 2), and a FanoutFunction whose invocations start at their
    # posting deadline (a 2 s timeout is slice_batch's margin): each posts to one connection, then hands the rest on
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 6)
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack, timeout=2)

    # When a comment goes through both tiers
    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then each slice came back shorter until it was done, and every connection has exactly one copy
    assert sorted(len(s.targets) for s in given) == [1, 1, 1, 2, 2, 2]
    assert all(s.group == next(g.group for g in given if g.part == s.part) for s in given), "rests in their group"
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert len(connections_api.posts) == len(connections)
    assert queue_depth(stack, "FanoutQueue") == 0 and queue_depth(stack, "FanoutDeadLetterQueue") == 0


def two_batches_queued(stack: Stack, first: list[str], second: list[str]) -> tuple[list[FanoutSlice], SqsEventSource]:
    """Two stream batches through the StreamFunction, their slices left queued; the fan-out's source."""
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    for texts in (first, second):
        comment(stack, texts)
        stream.drain()
    return given, fanout


def test_a_connections_slices_of_two_batches_share_its_group_and_come_in_order(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 11 in slices of 4, and two stream batches handed over before the fan-out runs
    slicing(stack, threshold=4, slice_size=4)
    connections, _ = room_with_subscribers(stack, "art", 11)
    given, fanout = two_batches_queued(stack, ["a1", "a2"], ["b1"])

    # When the fan-out queue drains
    drain(fanout, lambda: len(given) == 8)

    # Then each connection's two slices were in one group, and it got both batches once, in order
    for connection in connections:
        groups = [s.group for s in given if connection in {t.connection_id for t in s.targets}]
        assert len(groups) == 2 and groups[0] == groups[1]
        assert texts_received(connections_api, connection) == ["a1", "a2", "b1"]


def test_a_slice_that_reached_nobody_holds_back_its_groups_next_slice(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 9 in slices of 3, one bucket's connections throttled for one whole invocation, and
    # two batches' slices queued: on a standard queue the second batch's slice would overtake the retry
    slicing(stack, threshold=3, slice_size=3)
    connections, _ = room_with_subscribers(stack, "art", 9)
    stack.sqs.set_queue_attributes(
        QueueUrl=stack.url("FanoutQueue"), Attributes={"VisibilityTimeout": str(SLICE_RETRY_VISIBILITY)}
    )
    held = buckets(connections, 3)[0]
    connections_api.throttled.update(dict.fromkeys(held, 4))  # POST_MAX_ATTEMPTS' default: one invocation
    given, fanout = two_batches_queued(stack, ["first"], ["second"])

    # When the fan-out queue drains (the other groups' slices go on meanwhile)
    drain(fanout, lambda: all(texts_received(connections_api, c) == ["first", "second"] for c in connections))

    # Then the held group got the first batch's slice twice (failed, then posted), then the second batch's
    group = given[0].group
    assert [t.connection_id for t in given[0].targets] == held
    first, retry, second = (s.frames for s in given if s.group == group)
    assert first == retry != second
    assert queue_depth(stack, "FanoutQueue") == 0 and queue_depth(stack, "FanoutDeadLetterQueue") == 0
