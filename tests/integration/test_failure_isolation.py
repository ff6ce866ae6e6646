"""Issue 10's misbehaving connections, through the table's stream, its event source and the StreamFunction.

Before: one connection throttled for good in a room of 20 with 8 comments made 96 invocations and
2,185 posts, every healthy subscriber got every comment 14 times and all 8 records went to the
failure queue; a throttle reading one room's subscriptions failed every room's records; a 403 was
counted as posted.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.domain.chat import room_feed
from roomcast.models import FRAME_ADAPTER, AddComment, CommentAdded, CommentsFrame, CreateChatRoom, JoinChatRoom
from roomcast.models import Subscription as SubscriptionModel
from roomcast.usecases import commands
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast_local import template
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def room_with_subscribers(stack: Stack, room_id: str, count: int) -> tuple[list[str], str]:
    """A room of ``count`` members, each subscribed on a connection of its own; its connections and feed."""
    members = [f"{room_id}-u{n:02d}" for n in range(count)]
    commands.apply(CreateChatRoom(room_id=room_id, user_id=members[0]), stack.store)
    for member in members[1:]:
        commands.apply(JoinChatRoom(room_id=room_id, user_id=member), stack.store)
    room = stack.store.rooms.get_room(room_id)
    assert room is not None
    connections = [f"{room_id}-c{n:02d}" for n in range(count)]
    for member, connection in zip(members, connections, strict=True):
        subscription = SubscriptionModel(
            connection_id=connection,
            user_id=member,
            room_id=room_id,
            incarnation=room.incarnation,
            expires_at=int(time.time()) + 600,
        )
        stack.store.connections.add_subscription(room, subscription)
    return connections, room_feed(room_id, room.incarnation)


def texts_received(api: RecordingApi, connection: str) -> list[str]:
    frames = [FRAME_ADAPTER.validate_json(data) for data in api.received[connection]]
    return [c.text for f in frames if isinstance(f, CommentsFrame) for c in f.comments]


def stream_function_run(stack: Stack) -> tuple[list[int], Any]:
    """The StreamFunction behind the template's event source mapping, from now on; records each batch's size."""
    batches: list[int] = []

    def invoke(event: dict[str, Any]) -> Any:
        batches.append(len(event["Records"]))
        return stack.invoke("StreamFunction", event)

    return batches, stack.stream_source(invoke, starting_position="LATEST")


def failure_queue_depth(stack: Stack) -> int:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.url("StreamFailureQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_one_connection_throttled_for_good_costs_the_others_nothing(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given the room of 20, one connection throttled for good
    connections, _ = room_with_subscribers(stack, "art", 20)
    throttled = connections[7]
    connections_api.throttled[throttled] = 10**9
    batches, source = stream_function_run(stack)

    # When 8 comments go through the stream
    texts = [f"m{n}" for n in range(8)]
    for text in texts:
        commands.apply(AddComment(room_id="art", user_id="art-u00", text=text), stack.store)
    source.drain()

    # Then one invocation, one copy of each comment to every healthy connection, nothing to the failure queue
    assert len(batches) == 1
    for connection in connections:
        assert texts_received(connections_api, connection) == ([] if connection == throttled else texts)
    max_attempts = 4  # POST_MAX_ATTEMPTS' default
    assert len(connections_api.posts) == 19 + max_attempts
    assert failure_queue_depth(stack) == 0


def test_a_refused_connection_is_counted_with_the_metric_the_alarm_watches(
    stack: Stack, connections_api: RecordingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    connections, _ = room_with_subscribers(stack, "art", 5)
    connections_api.refused.add(connections[2])
    batches, source = stream_function_run(stack)
    capsys.readouterr()

    commands.apply(AddComment(room_id="art", user_id="art-u00", text="hello"), stack.store)
    source.drain()

    assert len(batches) == 1 and failure_queue_depth(stack) == 0
    for connection in connections:
        assert texts_received(connections_api, connection) == ([] if connection == connections[2] else ["hello"])
    alarm = template.load()["Resources"]["PostsRefusedAlarm"]["Properties"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (metrics,) = [m for m in emitted if alarm["MetricName"] in m]
    assert metrics[alarm["MetricName"]] == [1.0]  # EMF: the values the invocation added
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == alarm["Namespace"]
    assert {d["Name"]: metrics[d["Name"]] for d in alarm["Dimensions"]} == {
        d["Name"]: d["Value"] for d in alarm["Dimensions"]
    }


def test_a_throttled_read_of_one_rooms_subscriptions_fails_only_that_rooms_records(stack: Stack) -> None:
    art_connections, art_feed = room_with_subscribers(stack, "art", 2)
    music_connections, music_feed = room_with_subscribers(stack, "music", 2)
    batch = [
        change_of(stack, "art", art_feed, "a1"),
        change_of(stack, "music", music_feed, "m1"),
        change_of(stack, "art", art_feed, "a2"),
    ]
    api = RecordingApi()
    live = LiveProcessor(stack.store, ConnectionsApi(api), 32 * 1024, 4, lambda: False)
    # DynamoDB throttles the reads of art's subscriptions partition (botocore's own error, before any request)
    aws_clients.dynamodb().meta.events.register("before-call.dynamodb.Query", throttle_reads_of(f"Subs:{art_feed}"))

    report = live.deliver(batch)

    assert report.failed_sequences == {"a1", "a2"}
    for connection in music_connections:
        assert texts_received(api, connection) == ["m1"]
    assert all(texts_received(api, connection) == [] for connection in art_connections)


def change_of(stack: Stack, room_id: str, feed: str, text: str) -> Change:
    outcome = commands.apply(AddComment(room_id=room_id, user_id=f"{room_id}-u00", text=text), stack.store)
    assert isinstance(outcome.event, CommentAdded)
    return Change(text, feed, outcome.event)


def throttle_reads_of(partition: str) -> Any:
    def handler(params: dict[str, Any], **_: Any) -> Any:
        if partition.encode() not in params.get("body", b""):
            return None
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"}
        return AWSResponse("", 400, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    return handler
