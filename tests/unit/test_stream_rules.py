"""docs/websocket.md section 4, the live path: what commands wrote, read back from the in-memory table's
stream and delivered by the production ``LiveProcessor`` (fan-out, presence, leavers, failures)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import Command, CreateChatRoom, DeleteChatRoom, JoinChatRoom, LeaveChatRoom
from roomcast.domain.events import Outcome
from roomcast.usecases.stream import Change
from roomcast.usecases.subscriptions import Caller
from support.memory import MemoryTable
from support.recording import RecordingPoster, feed_of

Apply = Callable[[Command], Outcome]
Connect = Callable[..., Caller]
Send = Callable[..., list[dict[str, Any]]]
Write = Callable[..., list[CommentView]]


@pytest.fixture
def subscribe(connect: Connect, send: Send, poster: RecordingPoster) -> Callable[..., Caller]:
    """Connect and subscribe to a room; what the subscribe itself answered is cleared from the poster."""

    def run(connection_id: str, user_id: str, room_id: str = "art", expired: bool = False) -> Caller:
        caller = connect(connection_id, user_id, expired=expired)
        assert send(caller, {"action": "subscribe", "roomId": room_id})[0]["type"] == "subscribed"
        poster.clear()
        return caller

    return run


@dataclass
class World:
    """Room art (alice, bob) and what a test of the live path drives: commands, subscriptions, stream batches."""

    art: Room
    apply: Apply
    write: Write
    subscribe: Callable[..., Caller]
    poster: RecordingPoster
    table: MemoryTable
    process_stream: Callable[[], Any]


@pytest.fixture
def world(
    art: Room,
    apply: Apply,
    write: Write,
    subscribe: Callable[..., Caller],
    poster: RecordingPoster,
    table: MemoryTable,
    process_stream: Callable[[], Any],
) -> World:
    return World(art, apply, write, subscribe, poster, table, process_stream)


def comment_positions(frame: dict[str, Any]) -> list[str]:
    assert frame["type"] == "comments"
    return [c["position"] for c in frame["comments"]]


def test_m_comments_to_c_connections_make_c_posts_of_one_frame_each(world: World) -> None:
    for n in range(5):
        world.subscribe(f"c{n}", ("alice", "bob")[n % 2])
    written = world.write(8)

    result = world.process_stream()

    assert (result.report.posts, result.report.frames, result.failed) == (5, 1, [])
    for n in range(5):
        (frame,) = world.poster.frames(f"c{n}")
        assert frame["roomId"] == "art"
        assert comment_positions(frame) == [c.position for c in written]  # one's own comments come back too


def test_presence_frames_keep_their_place_between_comments(world: World) -> None:
    world.subscribe("c-bob", "bob")
    before = world.write(2)
    world.apply(JoinChatRoom(room_id="art", user_id="carol"))
    after = world.write(1)
    world.apply(LeaveChatRoom(room_id="art", user_id="carol"))

    world.process_stream()

    frames = world.poster.frames("c-bob")
    assert [f["type"] for f in frames] == ["comments", "memberJoined", "comments", "memberLeft"]
    assert comment_positions(frames[0]) == [c.position for c in before]
    assert frames[1] == {"type": "memberJoined", "roomId": "art", "userId": "carol"}
    assert comment_positions(frames[2]) == [c.position for c in after]
    assert frames[3] == {"type": "memberLeft", "roomId": "art", "userId": "carol"}


def test_comments_are_split_only_where_a_frame_would_pass_32_kb(world: World) -> None:
    world.subscribe("c-bob", "bob")
    written = world.write(20, text="é" * 1_990 + "{index:>10}")  # about 4 KB of UTF-8 each

    world.process_stream()

    frames = world.poster.frames("c-bob")
    assert len(frames) > 1
    assert all(len(data) <= 32 * 1024 for _, data in world.poster.posts)
    assert [p for f in frames for p in comment_positions(f)] == [c.position for c in written]


def test_a_gone_connection_is_removed_with_its_subscriptions_and_the_others_still_receive(world: World) -> None:
    world.apply(CreateChatRoom(room_id="music", user_id="bob"))
    world.subscribe("c-gone", "bob")
    world.subscribe("c-gone", "bob", room_id="music")
    world.subscribe("c-alice", "alice")
    world.table.drain()
    world.poster.gone.add("c-gone")
    world.write(2)

    result = world.process_stream()

    assert result.report.gone == 1 and result.failed == []
    assert "c-gone" not in world.table.connections
    assert [c for c, _ in world.table.subscriptions] == ["c-alice"]
    assert [c for _, c in world.table.subscribers] == ["c-alice"]
    assert len(world.poster.frames("c-alice")) == 1


def test_a_failing_room_fails_only_its_own_records(world: World) -> None:
    world.apply(CreateChatRoom(room_id="music", user_id="bob"))
    world.apply(JoinChatRoom(room_id="music", user_id="alice"))
    world.subscribe("c-art", "bob")
    world.subscribe("c-music", "bob", room_id="music")
    world.table.drain()
    world.poster.failing.add("c-art")
    world.write(2)
    world.write(2, room_id="music")
    batch = list(world.table.stream)

    result = world.process_stream()

    art_records = [c.sequence for c in batch if c.feed == feed_of(world.art)]
    assert result.failed == art_records and len(art_records) == 2
    assert len(world.poster.frames("c-music")) == 1
    assert [c for c, _ in world.table.subscriptions] == ["c-art", "c-music"]  # a transient failure removes nothing


def test_a_refused_post_is_not_retried_and_fails_nothing(world: World) -> None:
    world.subscribe("c-refusing", "bob")
    world.subscribe("c-alice", "alice")
    world.poster.refused.add("c-refusing")
    world.write(3)

    result = world.process_stream()

    assert result.failed == [] and result.report.posts == 2
    assert len(world.poster.frames("c-alice")) == 1


def test_expired_subscriptions_get_nothing(world: World) -> None:
    world.subscribe("c-old", "bob", expired=True)
    world.subscribe("c-new", "bob")
    world.write(1)

    result = world.process_stream()

    assert result.report.posts == 1 and world.poster.receivers() == {"c-new"}


def test_a_leavers_subscriptions_are_removed_after_their_own_member_left_frame(world: World) -> None:
    world.subscribe("c-bob-1", "bob")
    world.subscribe("c-bob-2", "bob")
    world.subscribe("c-alice", "alice")
    world.apply(LeaveChatRoom(room_id="art", user_id="bob"))

    world.process_stream()

    for connection_id in ("c-bob-1", "c-bob-2", "c-alice"):
        assert world.poster.frames(connection_id) == [{"type": "memberLeft", "roomId": "art", "userId": "bob"}]
    assert [c for c, _ in world.table.subscriptions] == ["c-alice"]
    assert [c for _, c in world.table.subscribers] == ["c-alice"]
    assert set(world.table.connections) == {"c-bob-1", "c-bob-2", "c-alice"}  # the connections stay open


def test_a_join_is_announced_once(world: World) -> None:
    world.subscribe("c-bob", "bob")
    world.apply(JoinChatRoom(room_id="art", user_id="carol"))
    world.apply(JoinChatRoom(room_id="art", user_id="carol"))  # unchanged: nothing written, nothing sent

    world.process_stream()

    assert world.poster.frames("c-bob") == [{"type": "memberJoined", "roomId": "art", "userId": "carol"}]


def test_subscribers_of_a_deleted_room_never_get_the_new_rooms_comments(world: World, live: Any) -> None:
    world.subscribe("c-bob", "bob")
    world.apply(DeleteChatRoom(room_id="art", user_id="alice"))
    world.apply(CreateChatRoom(room_id="art", user_id="alice"))
    world.table.drain()
    world.write(1, text="in the new room")

    live.deliver(world.table.drain())  # delivery only: the old room's cleanup has not run yet

    assert world.poster.posts == []


def test_records_that_mean_nothing_to_the_live_path_are_skipped(live: Any, poster: RecordingPoster) -> None:
    report = live.deliver([Change(sequence="1")])

    assert (report.feeds, report.posts) == (0, 0) and poster.attempts == 0


def test_joining_a_room_created_again_is_announced_to_the_new_rooms_subscribers(world: World) -> None:
    world.apply(DeleteChatRoom(room_id="art", user_id="alice"))
    world.apply(CreateChatRoom(room_id="art", user_id="alice"))
    world.subscribe("c-alice", "alice")
    world.table.drain()

    world.apply(JoinChatRoom(room_id="art", user_id="bob"))  # over bob's join of the deleted room
    world.process_stream()

    assert world.poster.frames("c-alice") == [{"type": "memberJoined", "roomId": "art", "userId": "bob"}]


def test_a_connection_that_still_fails_is_counted_and_its_room_gets_no_duplicates(world: World, live: Any) -> None:
    # Before: the room's records failed, and each retry posted the batch again to every healthy subscriber
    world.subscribe("c-ok", "alice")
    world.subscribe("c-failing", "bob")
    world.poster.failing.add("c-failing")
    (written,) = world.write(1)
    batch = world.table.drain()

    report = live.deliver(batch)

    assert report.failed_sequences == set() and report.unreached == 1
    frames = world.poster.frames("c-ok")
    assert [c["commentId"] for f in frames for c in f["comments"]] == [written.comment_id]
    assert world.poster.frames("c-failing") == []


def test_a_room_none_of_whose_connections_was_reached_is_retried_and_then_delivered_once(
    world: World, live: Any
) -> None:
    world.subscribe("c-one", "alice")
    world.subscribe("c-two", "bob")
    world.poster.failing.update({"c-one", "c-two"})
    (written,) = world.write(1)
    batch = world.table.drain()
    assert live.deliver(batch).failed_sequences == {c.sequence for c in batch}

    world.poster.failing.clear()
    live.deliver(batch)

    for connection_id in ("c-one", "c-two"):
        frames = world.poster.frames(connection_id)
        assert [c["commentId"] for f in frames for c in f["comments"]] == [written.comment_id]


def test_a_refused_post_is_counted_as_refused(world: World, live: Any) -> None:
    world.subscribe("c-refusing", "bob")
    world.subscribe("c-alice", "alice")
    world.poster.refused.add("c-refusing")
    world.write(1)

    report = live.deliver(world.table.drain())

    assert (report.refused, report.unreached, report.failed_sequences) == (1, 0, set())


def test_one_who_leaves_joins_and_subscribes_again_before_the_leave_is_delivered_stays_subscribed(
    world: World, send: Send
) -> None:
    bob = world.subscribe("c-bob", "bob")
    world.apply(LeaveChatRoom(room_id="art", user_id="bob"))
    world.apply(JoinChatRoom(room_id="art", user_id="bob"))
    assert send(bob, {"action": "subscribe", "roomId": "art"})[0]["type"] == "subscribed"

    world.process_stream()

    assert [c for c, _ in world.table.subscriptions] == ["c-bob"]
