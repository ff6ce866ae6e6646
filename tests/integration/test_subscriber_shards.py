"""Issue 10 point 3: a room's subscriptions spread over ``keys.SUBSCRIBER_SHARDS`` partitions.

A room of 120 connections lands in every shard; the fan-out reads every shard and reaches each connection
once; every way a subscription ends (unsubscribe, $disconnect, 410, leave, cleanup) removes both of its items,
the room's in the shard it is in; and a subscription written before the spread (room side in shard 0, no
``Shard`` on the connection side, whatever its hash) is read and removed all the same.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import keys
from roomcast.domain.chat import Room, room_feed
from roomcast.edges.websocket import handle_message
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentAdded,
    CommentsFrame,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    MemberLeft,
)
from roomcast.usecases import commands
from roomcast.usecases.cleanup import clean_up_room
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from support.fakes import RecordingApi
from support.requests import counted
from support.stack import Stack
from support.subscriptions import connect_and_subscribe

pytestmark = pytest.mark.integration

MEMBERS = 10
CONNECTIONS = 40  # 3 to 8 a shard: every shard holds some
BIG = 120  # about 15 a shard (moto copies the table for every subscribe: 300 took 3 minutes)


class ShardedRoom:
    """Room art: MEMBERS members, CONNECTIONS connections subscribed (connection n is member n % MEMBERS's)."""

    def __init__(self, stack: Stack, connections: int = CONNECTIONS) -> None:
        self.stack = stack
        self.users = [f"u{n:02d}" for n in range(MEMBERS)]
        commands.apply(CreateChatRoom(room_id="art", user_id=self.users[0]), stack.store)
        for user in self.users[1:]:
            commands.apply(JoinChatRoom(room_id="art", user_id=user), stack.store)
        room = stack.store.rooms.get_room("art")
        assert room is not None
        self.room: Room = room
        self.feed = room_feed("art", room.incarnation)
        self.connections = [f"c{n:03d}" for n in range(connections)]
        self.owners: dict[str, str] = {}
        for n, connection in enumerate(self.connections):
            self.subscribe(connection, self.users[n % MEMBERS])
        self.sequence = 0

    def owner(self, connection: str) -> str:
        return self.owners[connection]

    def subscribe(self, connection: str, user: str) -> None:
        self.owners[connection] = user
        connect_and_subscribe(self.stack.store.connections, self.room, connection, user)

    def subscribe_legacy(self, connection: str, user: str) -> None:
        """Both items as written before the spread: the room side in ``Subs:<feed>``, no ``Shard``."""
        expires = int(time.time()) + 600
        self.owners[connection] = user
        attributes = {
            "UserID": {"S": user},
            "Incarnation": {"S": self.room.incarnation},
            "ExpiresAt": {"N": str(expires)},
        }
        for pk, sk in [
            (keys.connection_pk(connection), keys.META),
            (f"Subs:{self.feed}", f"Conn:{connection}"),
            (keys.connection_pk(connection), f"Sub:{self.feed}"),
        ]:
            item = {"PK": {"S": pk}, "SK": {"S": sk}, **attributes}
            self.stack.dynamodb.put_item(TableName=self.stack.table_name, Item=item)

    def comment(self, text: str) -> Change:
        outcome = commands.apply(AddComment(room_id="art", user_id=self.users[0], text=text), self.stack.store)
        assert isinstance(outcome.event, CommentAdded)
        return Change(self._next(), self.feed, outcome.event)

    def leave(self, user: str) -> Change:
        commands.apply(LeaveChatRoom(room_id="art", user_id=user), self.stack.store)
        return Change(self._next(), self.feed, MemberLeft(room_id="art", user_id=user))

    def _next(self) -> str:
        self.sequence += 1
        return f"art-{self.sequence:06d}"

    def room_side(self) -> dict[str, str]:
        """Each room-side item's connection, and the partition it is in."""
        return {
            item["SK"].removeprefix("Conn:"): item["PK"]
            for item in self.stack.items()
            if item["PK"].startswith(f"Subs:{self.feed}") and item["SK"].startswith("Conn:")
        }

    def connection_side(self) -> dict[str, Any]:
        """Each connection-side subscription item's connection, and the shard it records (None: no record)."""
        return {
            item["PK"].removeprefix("Conn:"): item.get("Shard")
            for item in self.stack.items()
            if item["SK"] == f"Sub:{self.feed}"
        }


def live(stack: Stack, api: RecordingApi) -> LiveProcessor:
    return LiveProcessor(
        stack.store, ConnectionsApi(api, sleep=lambda _: None), 32 * 1024, 8, out_of_time=lambda: False
    )


def routes(stack: Stack) -> Routes:
    return Routes(stack.store, ConnectionsApi(RecordingApi()), 7_500, 32 * 1024)


def comment_frames(api: RecordingApi, connection: str) -> list[list[str]]:
    frames = [FRAME_ADAPTER.validate_json(data) for data in api.received[connection]]
    return [[c.text for c in f.comments] for f in frames if isinstance(f, CommentsFrame)]


def legacy_connection(room: ShardedRoom) -> str:
    """A connection id whose hash names another shard than 0: only its key says where it is."""
    return next(f"old{n}" for n in range(100) if keys.subscriber_shard(f"old{n}") != 0)


@pytest.fixture
def art(stack: Stack) -> ShardedRoom:
    return ShardedRoom(stack)


def test_a_big_room_lands_in_every_shard_and_the_fan_out_reaches_each_connection_once(stack: Stack) -> None:
    art = ShardedRoom(stack, BIG)
    room_side, connection_side = art.room_side(), art.connection_side()
    assert sorted(room_side) == sorted(connection_side) == art.connections
    assert sorted(Counter(connection_side.values())) == list(range(keys.SUBSCRIBER_SHARDS))
    for connection, pk in room_side.items():
        assert pk == keys.subscribers_pk(art.feed, keys.subscriber_shard(connection))
        assert connection_side[connection] == keys.subscriber_shard(connection)
    api = RecordingApi()
    batch = [art.comment("one"), art.comment("two")]

    with counted(aws_clients.dynamodb()) as calls:
        report = live(art.stack, api).deliver(batch)

    assert calls["Query"] == keys.SUBSCRIBER_SHARDS  # one Query a shard: each shard is one page here
    assert report.posts == BIG
    assert Counter(connection for connection, _ in api.posts) == {c: 1 for c in art.connections}
    assert all(comment_frames(api, c) == [["one", "two"]] for c in art.connections)


def test_paging_crosses_every_shard_and_returns_each_subscription_once(art: ShardedRoom) -> None:
    seen: list[str] = []
    page, cursor = art.stack.store.connections.subscribers(art.feed, limit=7, consistent=True)
    seen += [s.connection_id for s in page]
    while cursor is not None:
        assert page, "a page before the end is never empty"
        page, cursor = art.stack.store.connections.subscribers(art.feed, cursor, limit=7, consistent=True)
        seen += [s.connection_id for s in page]

    assert sorted(seen) == art.connections
    everyone = art.stack.store.connections.all_subscribers(art.feed)
    assert [s.connection_id for s in everyone] == art.connections  # ordered by connection id, as before
    assert all(s.shard == keys.subscriber_shard(s.connection_id) for s in everyone)


def test_a_cursor_that_is_not_one_is_refused(art: ShardedRoom) -> None:
    with pytest.raises(ValueError, match="not a subscribers cursor"):
        art.stack.store.connections.subscribers(art.feed, "c001", limit=7)


def gone_in_fan_out(art: ShardedRoom, connections: list[str]) -> None:
    live(art.stack, RecordingApi(gone=set(connections))).deliver([art.comment("hi")])


def unsubscribed(art: ShardedRoom, connections: list[str]) -> None:
    for connection in connections:
        caller = Caller(connection, art.owner(connection), int(time.time() * 1000), "r")
        handle_message(routes(art.stack), caller, json.dumps({"action": "unsubscribe", "roomId": "art"}))


def disconnected(art: ShardedRoom, connections: list[str]) -> None:
    for connection in connections:
        routes(art.stack).disconnect(connection)


REMOVALS = {"410": gone_in_fan_out, "unsubscribe": unsubscribed, "disconnect": disconnected}


@pytest.mark.parametrize("removal", sorted(REMOVALS))
def test_each_removal_takes_both_sides_in_their_shards(art: ShardedRoom, removal: str) -> None:
    # Given a connection in every shard, and one written before the spread (room side in shard 0)
    doomed = [next(c for c in art.connections if keys.subscriber_shard(c) == s) for s in range(keys.SUBSCRIBER_SHARDS)]
    old = legacy_connection(art)
    art.subscribe_legacy(old, art.users[1])
    assert art.room_side()[old] == f"Subs:{art.feed}" and art.connection_side()[old] is None

    REMOVALS[removal](art, [*doomed, old])

    kept = sorted(set(art.connections) - set(doomed))
    assert sorted(art.room_side()) == sorted(art.connection_side()) == kept


def test_a_leave_cuts_its_members_connections_in_every_shard_and_the_legacy_one(art: ShardedRoom) -> None:
    leaver = art.users[3]
    old = legacy_connection(art)
    art.subscribe_legacy(old, leaver)
    theirs = {c for c in art.connections if art.owner(c) == leaver} | {old}
    assert len({keys.subscriber_shard(c) for c in theirs if c != old}) > 1  # spread, not one shard
    api = RecordingApi()

    live(art.stack, api).deliver([art.leave(leaver), art.comment("after")])

    kept = sorted(set(art.connections) - theirs)
    assert sorted(art.room_side()) == sorted(art.connection_side()) == kept
    assert all(comment_frames(api, c) == [] for c in theirs)
    assert all(comment_frames(api, c) == [["after"]] for c in kept)


def test_the_cleanup_of_a_deleted_room_empties_every_shard_and_the_legacy_item(art: ShardedRoom) -> None:
    old = legacy_connection(art)
    art.subscribe_legacy(old, art.users[1])
    commands.apply(DeleteChatRoom(room_id="art", user_id=art.users[0]), art.stack.store)
    api = RecordingApi()

    report = clean_up_room(art.stack.store, ConnectionsApi(api), art.feed, out_of_time=lambda: False, page_size=50)

    assert report.done and report.subscriptions == CONNECTIONS + 1
    assert art.room_side() == {} and art.connection_side() == {}
    assert Counter(connection for connection, _ in api.posts) == {c: 1 for c in [*art.connections, old]}


def test_a_legacy_subscription_is_read_from_shard_0_and_reached_once(art: ShardedRoom) -> None:
    old = legacy_connection(art)
    art.subscribe_legacy(old, art.users[1])
    api = RecordingApi()

    [found] = [
        s for s in art.stack.store.connections.all_subscribers(art.feed, consistent=True) if s.connection_id == old
    ]
    live(art.stack, api).deliver([art.comment("hi")])

    assert found.shard == 0
    assert comment_frames(api, old) == [["hi"]]
    assert len(api.posts) == CONNECTIONS + 1


def test_subscribing_again_before_the_spread_keeps_the_room_side_in_shard_0(art: ShardedRoom) -> None:
    """A second room-side item would get every frame twice and outlive an unsubscribe."""
    old = legacy_connection(art)
    art.subscribe_legacy(old, art.users[1])

    art.subscribe(old, art.users[1])

    assert art.room_side()[old] == f"Subs:{art.feed}" and art.connection_side()[old] == 0
    api = RecordingApi()
    live(art.stack, api).deliver([art.comment("once")])
    assert comment_frames(api, old) == [["once"]]
    unsubscribed(art, [old])
    assert old not in art.room_side() and old not in art.connection_side()
