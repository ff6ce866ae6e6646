"""Fan-out of a stream batch: one frame per room per connection, 410 and throttling handled."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import keys
from roomcast.domain.chat import room_feed
from roomcast.edges.websocket import handle_message
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentAdded,
    CommentsFrame,
    CommentView,
    CreateChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    MemberJoined,
    MemberLeft,
    encode_frame,
)
from roomcast.usecases import commands
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from support.fakes import RecordingApi
from support.requests import counted
from support.stack import Stack

pytestmark = pytest.mark.integration


class Room:
    """A room with members and subscribed connections, and the stream changes its comments make."""

    def __init__(self, stack: Stack, room_id: str, members: list[str]) -> None:
        self.stack, self.room_id = stack, room_id
        commands.apply(CreateChatRoom(room_id=room_id, user_id=members[0]), stack.store)
        for member in members[1:]:
            commands.apply(JoinChatRoom(room_id=room_id, user_id=member), stack.store)
        room = stack.store.rooms.get_room(room_id)
        assert room is not None
        self.feed = room_feed(room_id, room.incarnation)
        self.sequence = 0

    def subscribe(self, connection_id: str, user_id: str) -> None:
        routes = Routes(self.stack.store, ConnectionsApi(RecordingApi()), 7_500, 32 * 1024)
        caller = Caller(connection_id, user_id, int(time.time() * 1000), "r")
        handle_message(routes, caller, json.dumps({"action": "subscribe", "roomId": self.room_id}))

    def comment(self, user_id: str, text: str) -> Change:
        outcome = commands.apply(AddComment(room_id=self.room_id, user_id=user_id, text=text), self.stack.store)
        assert isinstance(outcome.event, CommentAdded)
        return Change(self._next(), self.feed, outcome.event)

    def presence(self, kind: type[MemberJoined | MemberLeft], user_id: str) -> Change:
        return Change(self._next(), self.feed, kind(room_id=self.room_id, user_id=user_id))

    def _next(self) -> str:
        self.sequence += 1
        return f"{self.room_id}-{self.sequence:06d}"


def comment_of(change: Change) -> CommentView:
    assert isinstance(change.event, CommentAdded)
    return change.event.comment


def processor(stack: Stack, api: RecordingApi, frame_limit: int = 32 * 1024) -> LiveProcessor:
    return LiveProcessor(
        stack.store, ConnectionsApi(api, sleep=lambda _: None), frame_limit, 8, out_of_time=lambda: False
    )


def frames(api: RecordingApi, connection_id: str) -> list[object]:
    return [FRAME_ADAPTER.validate_json(data) for data in api.received[connection_id]]


@pytest.mark.parametrize(("connections", "comments"), [(1, 1), (5, 1), (5, 10), (12, 30)])
def test_m_comments_to_c_connections_make_c_posts(stack: Stack, connections: int, comments: int) -> None:
    # Given a room whose members are subscribed on C connections
    members = [f"u{n}" for n in range(connections)]
    art = Room(stack, "art", members)
    for n, member in enumerate(members):
        art.subscribe(f"conn-{n}", member)
    batch = [art.comment(members[n % connections], f"m{n}") for n in range(comments)]
    api = RecordingApi()

    # When one stream batch carries M comments
    report = processor(stack, api).deliver(batch)

    # Then each connection gets one frame with all M, in position order
    assert report.posts == len(api.posts) == connections
    expected = sorted((comment_of(c) for c in batch), key=lambda c: c.position)
    for n in range(connections):
        assert frames(api, f"conn-{n}") == [CommentsFrame(room_id="art", comments=expected)]


def test_a_comment_reaches_every_subscriber_of_its_room_and_no_one_else(stack: Stack) -> None:
    art = Room(stack, "art", ["alice", "bob", "carol"])
    music = Room(stack, "music", ["dave", "bob"])
    art.subscribe("a-alice", "alice")
    art.subscribe("a-bob", "bob")
    music.subscribe("m-dave", "dave")
    music.subscribe("m-bob", "bob")
    api = RecordingApi()

    processor(stack, api).deliver([art.comment("carol", "to art"), music.comment("dave", "to music")])

    def texts(connection: str) -> list[str]:
        return [c.text for f in frames(api, connection) for c in f.comments]  # type: ignore[attr-defined]

    assert texts("a-alice") == texts("a-bob") == ["to art"]
    assert texts("m-dave") == texts("m-bob") == ["to music"]
    assert len(api.posts) == 4


def test_a_gone_connection_is_removed_and_the_rest_still_receive(stack: Stack) -> None:
    art = Room(stack, "art", ["alice", "bob", "carol"])
    for user in ("alice", "bob", "carol"):
        art.subscribe(f"conn-{user}", user)
    api = RecordingApi(gone={"conn-bob"})

    report = processor(stack, api).deliver([art.comment("alice", "hi")])

    assert report.gone == 1
    assert report.failed_sequences == set()
    assert {c for c, _ in api.received.items() if api.received[c]} == {"conn-alice", "conn-carol"}
    assert [s.connection_id for s in stack.store.connections.all_subscribers(art.feed)] == ["conn-alice", "conn-carol"]
    assert stack.store.connections.connection_items("conn-bob") == []


def test_a_throttled_post_is_retried(stack: Stack) -> None:
    art = Room(stack, "art", ["alice", "bob"])
    art.subscribe("conn-alice", "alice")
    art.subscribe("conn-bob", "bob")
    api = RecordingApi(throttled={"conn-bob": 2})

    report = processor(stack, api).deliver([art.comment("alice", "hi")])

    assert report.posts == 4  # alice 1, bob 2 throttled + 1
    assert report.failed_sequences == set()
    assert len(api.received["conn-bob"]) == 1


def test_delivery_that_still_fails_fails_that_rooms_records_only(stack: Stack) -> None:
    art = Room(stack, "art", ["alice", "bob"])
    music = Room(stack, "music", ["carol"])
    art.subscribe("conn-bob", "bob")
    music.subscribe("conn-carol", "carol")
    art_change, music_change = art.comment("alice", "hi"), music.comment("carol", "yo")
    api = RecordingApi(throttled={"conn-bob": 100})

    report = processor(stack, api).deliver([art_change, music_change])

    assert report.failed_sequences == {art_change.sequence}
    assert len(api.received["conn-carol"]) == 1
    # the failed connection keeps its subscription: the retried batch will reach it
    assert [s.connection_id for s in stack.store.connections.all_subscribers(art.feed)] == ["conn-bob"]


def test_frames_split_only_where_one_would_pass_the_limit(stack: Stack) -> None:
    art = Room(stack, "art", ["alice", "bob"])
    art.subscribe("conn-bob", "bob")
    batch = [art.comment("alice", "z" * 900) for _ in range(10)]
    api = RecordingApi()

    processor(stack, api, frame_limit=4_096).deliver(batch)

    sent: list[CommentsFrame] = frames(api, "conn-bob")  # type: ignore[assignment]
    assert all(len(data) <= 4_096 for data in api.received["conn-bob"])
    assert len(sent) > 1
    # each frame but the last is full: the next frame's first comment would not have fitted
    for frame, following in itertools.pairwise(sent):
        merged = CommentsFrame(room_id="art", comments=[*frame.comments, following.comments[0]])
        assert len(encode_frame(merged)) > 4_096
    assert [c for f in sent for c in f.comments] == [comment_of(c) for c in batch]


def test_presence_keeps_its_place_between_comments_and_a_leaver_is_unsubscribed(stack: Stack) -> None:
    art = Room(stack, "art", ["alice", "bob"])
    art.subscribe("conn-alice", "alice")
    art.subscribe("conn-bob", "bob")
    first = art.comment("alice", "one")
    commands.apply(LeaveChatRoom(room_id="art", user_id="bob"), stack.store)
    batch = [first, art.presence(MemberJoined, "carol"), art.presence(MemberLeft, "bob")]
    api = RecordingApi()

    processor(stack, api).deliver(batch)

    expected = [
        CommentsFrame(room_id="art", comments=[comment_of(first)]),
        MemberJoined(room_id="art", user_id="carol"),
        MemberLeft(room_id="art", user_id="bob"),
    ]
    assert frames(api, "conn-alice") == frames(api, "conn-bob") == expected
    assert [s.user_id for s in stack.store.connections.all_subscribers(art.feed)] == ["alice"]


def test_requests_per_fan_out(stack: Stack) -> None:
    """The figures the capacity model uses for a cold reader: the shards' heads, and one Query per
    subscription shard per room per batch, whatever M and C (each shard is one page up to about 8,000
    subscriptions). A warm one Queries only the shards whose head changed (test_subscriber_heads.py)."""
    art = Room(stack, "art", ["alice", "bob", "carol"])
    for user in ("alice", "bob", "carol"):
        art.subscribe(f"conn-{user}", user)
    batch = [art.comment("alice", f"m{n}") for n in range(10)]
    live = processor(stack, RecordingApi(gone={"conn-carol"}))

    with counted(aws_clients.dynamodb()) as calls:
        report = live.deliver(batch)

    # The shards' heads, each shard once, the gone connection's partition; its deletes, then its shard's head.
    assert dict(calls) == {"BatchGetItem": 1, "Query": keys.SUBSCRIBER_SHARDS + 1, "BatchWriteItem": 2}
    assert report.posts == 3


def test_a_gone_connection_loses_a_room_side_subscription_even_without_its_twin(stack: Stack) -> None:
    # Given a subscription whose connection-side item was lost (a partial batch of deletes, say)
    art = Room(stack, "art", ["alice", "bob"])
    art.subscribe("conn-bob", "bob")
    stack.dynamodb.delete_item(
        TableName=stack.table_name,
        Key={"PK": {"S": keys.connection_pk("conn-bob")}, "SK": {"S": keys.subscription_sk(art.feed)}},
    )

    processor(stack, RecordingApi(gone={"conn-bob"})).deliver([art.comment("alice", "hi")])

    assert stack.store.connections.all_subscribers(art.feed) == []
