"""A warm reader of a room's subscriptions reads the shards' heads, and Queries only the shards that changed.

Each test has a writer (the store another function uses) and a reader (another warm container's
``DynamoConnections``, whose kept copy outlives its reads), on every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.connections import DynamoConnections
from roomcast.adapters.dynamodb.subscriber_heads import KEPT_SECONDS, KeptShards
from roomcast.domain.chat import Room, room_feed
from roomcast.domain.errors import TransientError
from roomcast.models import AddComment, CommentAdded, CreateChatRoom, JoinChatRoom, LeaveChatRoom, MemberLeft
from roomcast.usecases import commands
from roomcast.usecases.stream import Change, LiveProcessor
from support.fakes import RecordingApi
from support.requests import counted
from support.stack import Stack
from support.subscriptions import connect_and_subscribe

pytestmark = pytest.mark.integration

USERS = ["ann", "bob", "cat"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Room24:
    """A room of three members and 24 connections (every shard holds some), subscribed by the writer."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.writer = stack.store.connections
        commands.apply(CreateChatRoom(room_id="live", user_id=USERS[0]), stack.store)
        for user in USERS[1:]:
            commands.apply(JoinChatRoom(room_id="live", user_id=user), stack.store)
        room = stack.store.rooms.get_room("live")
        assert room is not None
        self.room: Room = room
        self.feed = room_feed("live", room.incarnation)
        self.clock = Clock()
        self.reader = DynamoConnections(stack.table_name, kept=KeptShards(clock=self.clock))
        for n in range(24):
            self.subscribe(f"c{n:02d}", USERS[n % len(USERS)])

    def subscribe(self, connection: str, user: str = USERS[0]) -> None:
        connect_and_subscribe(self.writer, self.room, connection, user)

    def read(self) -> tuple[list[str], dict[str, int]]:
        """What the reader reads, and the requests it made for it."""
        with counted(self.reader.client) as calls:
            found = [s.connection_id for s in self.reader.all_subscribers(self.feed, consistent=True)]
        return found, dict(calls)


@pytest.fixture
def live(stack: Stack) -> Room24:
    return Room24(stack)


def expected(*, without: frozenset[str] = frozenset(), extra: tuple[str, ...] = ()) -> list[str]:
    return sorted({f"c{n:02d}" for n in range(24)} - without | set(extra))


def test_a_warm_reader_reads_only_the_heads_while_nothing_changes(live: Room24) -> None:
    first, cold = live.read()
    again, warm = live.read()

    assert first == again == expected()
    assert cold == {"BatchGetItem": 1, "Query": keys.SUBSCRIBER_SHARDS}
    assert warm == {"BatchGetItem": 1}


def test_a_subscription_another_container_adds_is_read_at_once_by_one_query(live: Room24) -> None:
    live.read()

    live.subscribe("new")
    found, calls = live.read()

    assert found == expected(extra=("new",))
    assert calls == {"BatchGetItem": 1, "Query": 1}  # the new subscription's shard only


ENDINGS: dict[str, Callable[[Room24, str], object]] = {
    "remove_subscriptions": lambda live, connection: live.writer.remove_subscriptions(
        [s for s in live.writer.all_subscribers(live.feed, consistent=True) if s.connection_id == connection]
    ),
    "unsubscribe": lambda live, connection: live.writer.unsubscribe(connection, "live"),
    "delete_connection": lambda live, connection: live.writer.delete_connection(connection),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_every_way_a_subscription_ends_is_read_at_once(live: Room24, ending: str) -> None:
    live.read()

    ENDINGS[ending](live, "c07")
    found, calls = live.read()

    assert found == expected(without=frozenset({"c07"}))
    assert calls == {"BatchGetItem": 1, "Query": 1}


def test_a_subscription_written_without_its_head_is_read_once_the_copy_is_too_old(live: Room24) -> None:
    """Given a warm reader, when a subscription lands without a head (a writer that died before putting
    it, or one of a version that puts none), then the reader misses it for at most KEPT_SECONDS."""
    live.read()
    shard = keys.subscriber_shard("quiet")
    live.stack.dynamodb.put_item(
        TableName=live.stack.table_name,
        Item={
            "PK": {"S": keys.subscribers_pk(live.feed, shard)},
            "SK": {"S": keys.subscriber_sk("quiet")},
            "UserID": {"S": "ann"},
            "Incarnation": {"S": live.room.incarnation},
            "ExpiresAt": {"N": str(int(time.time()) + 600)},
        },
    )

    live.clock.now += KEPT_SECONDS - 0.5
    missed, _ = live.read()
    live.clock.now += 0.5
    found, calls = live.read()

    assert missed == expected()
    assert found == expected(extra=("quiet",))
    assert calls == {"BatchGetItem": 1, "Query": keys.SUBSCRIBER_SHARDS}


def test_a_room_without_heads_is_read_whole_and_a_later_subscribe_is_seen(live: Room24) -> None:
    """Subscriptions written before heads existed: the heads read as none, which is a token too."""
    heads = [
        {"PK": {"S": keys.subscribers_pk(live.feed, shard)}, "SK": {"S": keys.SUBSCRIBERS_HEAD}}
        for shard in range(keys.SUBSCRIBER_SHARDS)
    ]
    for key in heads:
        live.stack.dynamodb.delete_item(TableName=live.stack.table_name, Key=key)

    first, _ = live.read()
    again, warm = live.read()
    live.subscribe("late")
    found, calls = live.read()

    assert first == again == expected()
    assert warm == {"BatchGetItem": 1}
    assert found == expected(extra=("late",))
    assert calls == {"BatchGetItem": 1, "Query": 1}


def test_heads_are_never_read_as_subscriptions_and_expire_a_day_after_their_change(live: Room24) -> None:
    page, cursor = live.writer.subscribers(live.feed, limit=100, consistent=True)
    heads = [
        live.stack.dynamodb.get_item(
            TableName=live.stack.table_name,
            Key={"PK": {"S": keys.subscribers_pk(live.feed, shard)}, "SK": {"S": keys.SUBSCRIBERS_HEAD}},
            ConsistentRead=True,
        ).get("Item")
        for shard in range(keys.SUBSCRIBER_SHARDS)
    ]

    assert cursor is None and sorted(s.connection_id for s in page) == expected()
    assert all(head is not None for head in heads)
    assert len({head["Token"]["S"] for head in heads if head}) == keys.SUBSCRIBER_SHARDS
    for head in heads:
        assert head is not None
        assert 86_000 < int(head["ExpiresAt"]["N"]) - time.time() <= 86_400


def put_without_head(live: Room24, connection: str, user: str) -> None:
    """A subscription committed whose head is not put yet (its subscribe has not answered)."""
    live.stack.dynamodb.put_item(
        TableName=live.stack.table_name,
        Item={
            "PK": {"S": keys.subscribers_pk(live.feed, keys.subscriber_shard(connection))},
            "SK": {"S": keys.subscriber_sk(connection)},
            "UserID": {"S": user},
            "Incarnation": {"S": live.room.incarnation},
            "ExpiresAt": {"N": str(int(time.time()) + 600)},
        },
    )


def test_a_fresh_read_reads_every_shard_whatever_was_kept(live: Room24) -> None:
    live.read()
    put_without_head(live, "quiet", "ann")

    with counted(live.reader.client) as calls:
        found = [s.connection_id for s in live.reader.all_subscribers(live.feed, consistent=True, fresh=True)]
    kept, _ = live.read()

    assert found == kept == expected(extra=("quiet",))  # the fresh read is kept too
    assert dict(calls) == {"BatchGetItem": 1, "Query": keys.SUBSCRIBER_SHARDS}


def test_a_leave_cuts_a_subscription_whose_head_is_not_put_yet(live: Room24) -> None:
    """Given a warm stream processor, when bob's subscribe committed before his leave but had not put its
    head when the leave's record was read, then the leave still finds that subscription and removes it."""
    api = RecordingApi()
    processor = LiveProcessor(
        live.stack.store, ConnectionsApi(api, sleep=lambda _: None), 32 * 1024, 8, out_of_time=lambda: False
    )
    processor.deliver([comment(live, "before", 1)])
    put_without_head(live, "bob-late", "bob")
    commands.apply(LeaveChatRoom(room_id="live", user_id="bob"), live.stack.store)

    processor.deliver([Change("s-000002", live.feed, MemberLeft(room_id="live", user_id="bob"))])
    processor.deliver([comment(live, "after", 3)])

    assert "bob-late" in api.received  # its frames up to the leave
    assert not any(s.user_id == "bob" for s in live.writer.all_subscribers(live.feed, consistent=True, fresh=True))
    assert all(b"after" not in frame for frame in api.received["bob-late"])


def comment(live: Room24, text: str, sequence: int) -> Change:
    outcome = commands.apply(AddComment(room_id="live", user_id="ann", text=text), live.stack.store)
    assert isinstance(outcome.event, CommentAdded)
    return Change(f"s-{sequence:06d}", live.feed, outcome.event)


def test_a_leave_retried_after_its_heads_failed_still_reaches_every_warm_reader(
    live: Room24, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given another warm container that read bob's subscriptions, when the leave's deletes land but its
    heads' write fails for good, then the batch's retry (which finds nothing left to remove) still renews
    the heads, and the other container stops reading bob's connections at once."""
    other = live.reader
    assert any(s.user_id == "bob" for s in other.all_subscribers(live.feed, consistent=True))
    commands.apply(LeaveChatRoom(room_id="live", user_id="bob"), live.stack.store)
    store = live.stack.store
    put_items = store.connections.put_items  # type: ignore[attr-defined]
    failures = iter([True])

    def heads_refused_once(heads: list[dict[str, object]]) -> None:
        if next(failures, False):
            raise TransientError("throttled")
        put_items(heads)

    monkeypatch.setattr(store.connections, "put_items", heads_refused_once)
    processor = LiveProcessor(
        store, ConnectionsApi(RecordingApi(), sleep=lambda _: None), 32 * 1024, 8, out_of_time=lambda: False
    )
    leave = [Change("s-000002", live.feed, MemberLeft(room_id="live", user_id="bob"))]

    assert processor.deliver(leave).failed_sequences  # the batch is retried
    assert not processor.deliver(leave).failed_sequences
    live.clock.now += 1

    assert not [s for s in other.all_subscribers(live.feed, consistent=True) if s.user_id == "bob"]


def test_an_eventually_consistent_read_is_never_kept(live: Room24) -> None:
    live.reader.all_subscribers(live.feed)
    live.reader.all_subscribers(live.feed, consistent=False)

    assert len(live.reader.kept) == 0
    _, calls = live.read()
    assert calls == {"BatchGetItem": 1, "Query": keys.SUBSCRIBER_SHARDS}
