"""docs/websocket.md "Deleted rooms" and data-model.md's cleanup: the production cleanup on the in-memory
table, driven by the stream records a deleteChatRoom writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import Command, CreateChatRoom, DeleteChatRoom, JoinChatRoom
from roomcast.domain.events import CleanupScheduled, MemberLeft, Outcome
from roomcast.usecases.cleanup import clean_up_room
from roomcast.usecases.ports import Store
from roomcast.usecases.subscriptions import Caller
from support.memory import MemoryTable
from support.recording import RecordingPoster, feed_of

Apply = Callable[[Command], Outcome]
Send = Callable[..., list[dict[str, Any]]]
Write = Callable[..., list[CommentView]]
ROOM_DELETED = {"type": "roomDeleted", "roomId": "art"}


@pytest.fixture
def busy(
    art: Room,
    apply: Apply,
    write: Write,
    connect: Callable[..., Caller],
    send: Send,
    table: MemoryTable,
    poster: RecordingPoster,
) -> str:
    """Given art with members carol and dan too, five comments, and subscriptions of bob (two connections),
    carol (one expired) and of bob to another room; nothing delivered yet. Returns art's feed."""
    for user_id in ("carol", "dan"):
        apply(JoinChatRoom(room_id="art", user_id=user_id))
    apply(CreateChatRoom(room_id="music", user_id="bob"))
    write(5)
    for connection_id, user_id, expired in [
        ("c-bob-1", "bob", False),
        ("c-bob-2", "bob", False),
        ("c-old", "carol", True),
    ]:
        send(connect(connection_id, user_id, expired=expired), {"action": "subscribe", "roomId": "art"})
    send(connect("c-music", "bob"), {"action": "subscribe", "roomId": "music"})
    table.drain()
    poster.clear()
    return feed_of(art)


@pytest.fixture
def run_out_after(store: Store, poster: RecordingPoster) -> Callable[[str, int], Any]:
    """Run the cleanup of a feed with time for ``steps`` steps, one item per page."""

    def run(feed: str, steps: int) -> Any:
        budget = iter(range(steps, -1, -1))
        return clean_up_room(store, poster, feed, out_of_time=lambda: next(budget) == 0, page_size=1)

    return run


def test_a_deleted_rooms_subscribers_get_room_deleted_then_everything_of_it_is_removed(
    busy: str, apply: Apply, poster: RecordingPoster, table: MemoryTable, process_stream: Any
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))

    result = process_stream()

    assert result.failed == []
    for connection_id in ("c-bob-1", "c-bob-2"):
        assert poster.frames(connection_id)[-1] == ROOM_DELETED
    assert poster.frames("c-old") == [] and poster.frames("c-music") == []
    assert [feed for feed, _ in table.subscribers] == [feed for _, feed in table.subscriptions]
    assert {feed.split("#")[0] for feed, _ in table.subscribers} == {"music"}
    assert [key for key in table.joins if key[1] == "art"] == []
    assert [key for key in table.members if key[0] == "art"] == []
    assert [feed for feed, _ in table.comments.values() if feed == busy] == []
    assert table.cleanup_tasks == {}
    assert set(table.connections) == {"c-bob-1", "c-bob-2", "c-old", "c-music"}  # connections stay open


def test_room_deleted_comes_after_the_batchs_other_frames(
    busy: str, apply: Apply, write: Write, poster: RecordingPoster, table: MemoryTable, process_stream: Any
) -> None:
    (last,) = write(1)
    apply(DeleteChatRoom(room_id="art", user_id="alice"))

    process_stream()

    frames = poster.frames("c-bob-1")
    assert [f["type"] for f in frames] == ["comments", "roomDeleted"]
    assert [c["commentId"] for c in frames[0]["comments"]] == [last.comment_id]


def test_nobody_receives_the_member_left_records_of_the_cleanup(
    busy: str, apply: Apply, poster: RecordingPoster, table: MemoryTable, process_stream: Any
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    process_stream()
    poster.clear()

    left = [c for c in table.stream if isinstance(c.event, MemberLeft)]
    result = process_stream()

    assert {c.event.user_id for c in left if c.event} == {"alice", "bob", "carol", "dan"}
    assert (result.report.posts, poster.posts) == (0, [])


def test_the_cleanup_keeps_a_join_of_the_room_created_again(
    busy: str, apply: Apply, store: Store, table: MemoryTable, process_stream: Any
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    apply(CreateChatRoom(room_id="art", user_id="alice"))
    apply(JoinChatRoom(room_id="art", user_id="bob"))

    process_stream()

    room = store.rooms.get_room("art")
    assert room is not None
    _, membership = store.rooms.get_room_and_membership("art", "bob")
    assert membership is not None and membership.incarnation == room.incarnation
    assert sorted(m.user_id for m in store.rooms.list_members("art", room.incarnation)[0]) == ["alice", "bob"]


def test_out_of_time_the_cleanup_hands_over_and_a_later_invocation_finishes(
    busy: str, apply: Apply, table: MemoryTable, run_out_after: Callable[[str, int], Any], process_stream: Any
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    table.drain()

    first = run_out_after(busy, 2)

    assert not first.done and first.pages == 2
    assert table.cleanup_tasks == {busy: 1}
    assert [c.event for c in table.stream if isinstance(c.event, CleanupScheduled)] == [
        CleanupScheduled(room_id="art", incarnation=busy.split("#")[1])
    ]
    table.stream = [c for c in table.stream if isinstance(c.event, CleanupScheduled)]  # the hand-over's record

    process_stream()

    assert table.cleanup_tasks == {}
    assert [f for f, _ in table.comments.values() if f == busy] == []
    assert [k for k in table.members if k[0] == "art"] == []


def test_each_hand_over_bumps_the_task_step(busy: str, apply: Apply, run_out_after: Any, table: MemoryTable) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))

    steps = [run_out_after(busy, 1).done for _ in range(3)]

    assert steps == [False, False, False] and table.cleanup_tasks == {busy: 3}


def test_a_cleanup_run_again_finds_nothing_to_do(
    busy: str, apply: Apply, store: Store, poster: RecordingPoster, table: MemoryTable, process_stream: Any
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    process_stream()
    poster.clear()

    again = clean_up_room(store, poster, busy, out_of_time=lambda: False)

    assert (again.done, again.subscriptions, again.memberships, again.comments, again.posts) == (True, 0, 0, 0, 0)
    assert poster.posts == [] and table.cleanup_tasks == {}


def test_a_gone_subscriber_of_a_deleted_room_is_forgotten(
    busy: str, apply: Apply, poster: RecordingPoster, table: MemoryTable, process_stream: Any
) -> None:
    poster.gone.add("c-bob-2")
    apply(DeleteChatRoom(room_id="art", user_id="alice"))

    process_stream()

    assert "c-bob-2" not in table.connections
    assert poster.frames("c-bob-1")[-1] == ROOM_DELETED


def test_subscribers_are_notified_page_by_page(
    busy: str, apply: Apply, store: Store, poster: RecordingPoster, table: MemoryTable
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))

    report = clean_up_room(store, poster, busy, out_of_time=lambda: False, page_size=1)

    assert report.done and report.subscriptions == 3 and report.memberships == 4 and report.comments == 5
    assert sorted(poster.receivers()) == ["c-bob-1", "c-bob-2"]


def test_once_found_gone_subscriptions_and_members_are_not_read_again_in_the_invocation(
    busy: str, apply: Apply, store: Store, poster: RecordingPoster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deleted room with 3 subscriptions, 4 members and 5 comments, cleaned up one item a page
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    reads = {"subscribers": 0, "list_members": 0}
    for port, name in ((store.connections, "subscribers"), (store.rooms, "list_members")):
        original = getattr(port, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            reads[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(port, name, counted)

    report = clean_up_room(store, poster, busy, out_of_time=lambda: False, page_size=1)

    # Then each is read once per page it removes, plus one empty read, and never again (a deleted
    # incarnation takes no new subscription or member), not once per later page
    assert report.done and (report.subscriptions, report.memberships, report.comments) == (3, 4, 5)
    assert reads == {"subscribers": 3 + 1, "list_members": 4 + 1}


# ---- a comment racing the delete (addComment checks the author's join item only) ---------------------

LATE = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"  # positioned after every comment of the test


class FakeTime:
    """A monotonic clock that only ``sleep`` moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def comment_after_the_delete(apply: Apply, store: Store, table: MemoryTable) -> None:
    """bob's comment whose command read the room before alice's delete, and writes it after."""
    room = table.rooms["art"]
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    late = CommentView(comment_id=LATE, user_id="bob", text="late", created_at="t", position=LATE)
    store.comments.put_comment(room, late)


def test_a_comment_racing_the_delete_reaches_nobody_and_the_cleanup_sweeps_it(
    busy: str, apply: Apply, store: Store, poster: RecordingPoster, table: MemoryTable, process_stream: Any
) -> None:
    comment_after_the_delete(apply, store, table)

    result = process_stream()

    assert result.failed == []
    for connection_id in ("c-bob-1", "c-bob-2"):
        assert poster.frames(connection_id) == [ROOM_DELETED]
    assert [feed for feed, _ in table.comments.values() if feed == busy] == []
    assert ("bob", LATE) not in table.comments


def test_the_cleanup_reads_a_lagging_index_again_once_the_settle_time_has_passed(
    busy: str,
    apply: Apply,
    store: Store,
    poster: RecordingPoster,
    table: MemoryTable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    comment_after_the_delete(apply, store, table)
    time = FakeTime()
    monkeypatch.setattr(store.cleanup, "index_settle_ms", 2_000)
    indexed = table.feed_comments
    # The index has not caught up with the late comment for the first second after the members were gone.
    monkeypatch.setattr(
        table, "feed_comments", lambda feed: [r for r in indexed(feed) if r[0] != LATE or time.now >= 1.0]
    )

    report = clean_up_room(store, poster, busy, out_of_time=lambda: False, clock=time.clock, sleep=time.sleep)

    assert report.done and report.comments == 6
    assert time.slept == [2.0] and report.settled_ms == 2_000
    assert ("bob", LATE) not in table.comments


def test_the_cleanup_waits_for_nothing_once_the_settle_time_has_passed(
    busy: str, store: Store, poster: RecordingPoster, apply: Apply, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    monkeypatch.setattr(store.cleanup, "index_settle_ms", 2_000)
    ticks = iter([0.0, 5.0])  # the members gone at 0 s, the comment pages done at 5 s

    slept: list[float] = []
    report = clean_up_room(
        store, poster, busy, out_of_time=lambda: False, clock=lambda: next(ticks), sleep=slept.append
    )

    assert report.done and report.comments == 5
    assert slept == [] and report.settled_ms == 0
