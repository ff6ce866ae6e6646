"""Issue 10 point 4, the frame-rate budget per connection (domain/frame_window.py, usecases/pacing.py): which
rooms are paced and for how long; a paced room's comments held in a window and posted once per window; a
flush's retries; exits that stay immediate. On the in-memory table, its stream and the windows' fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.domain.chat import CommentView, Room, room_feed
from roomcast.domain.commands import BanUser, Command, LeaveChatRoom
from roomcast.domain.errors import TransientError
from roomcast.domain.events import Outcome
from roomcast.domain.frame_window import MAX_WINDOW_SECONDS, FrameBudget, flush_delay, window_start
from roomcast.edges.slice_batch import InvalidSlice, SliceBatch
from roomcast.usecases.pacing import Pacer, WindowFlusher
from roomcast.usecases.ports import Store
from roomcast.usecases.stream import LiveProcessor
from roomcast.usecases.subscriptions import Caller
from roomcast.wire.flush import WindowFlush, flush_body, parse_fanout_message
from roomcast.wire.slices import FanoutSlice, SliceTarget
from support.memory import MemoryTable
from support.memory_windows import MemoryFlushQueue, MemoryWindows
from support.recording import RecordingPoster

FRAME_LIMIT = 32 * 1024
NOW = 1_800_000_000.0  # on a window boundary for windows of 1, 2, 3, 4, 5 and 10 s


# ---- the rules -------------------------------------------------------------------------------------------


def test_the_default_threshold_is_a_quarter_of_the_room_budget() -> None:
    budget = FrameBudget()

    assert (budget.room_posts_per_second, budget.pacing_threshold) == (8_000, 2_000)
    assert budget.window_seconds(2_000) is None  # policy 1: no added latency
    assert budget.window_seconds(2_001) == 1
    assert budget.window_seconds(10_000) == 2  # 1.25 s, rounded up to SQS's whole seconds
    assert budget.window_seconds(100_000) == 13


def test_a_window_is_whole_seconds_between_one_and_fifteen_minutes() -> None:
    budget = FrameBudget(room_posts_per_second=2, threshold=0)

    assert budget.window_seconds(1) == 1
    assert budget.window_seconds(3) == 2
    assert budget.window_seconds(10**9) == MAX_WINDOW_SECONDS


@pytest.mark.parametrize(("budget", "threshold"), [(0, None), (8_000, -1)])
def test_a_budget_below_one_post_or_a_negative_threshold_is_refused(budget: int, threshold: int | None) -> None:
    with pytest.raises(ValueError, match="at least"):
        FrameBudget(budget, threshold)


def test_windows_are_a_grid_of_wall_clock_slots_flushed_at_their_end() -> None:
    assert window_start(NOW + 2.5, 2) == NOW + 2
    assert flush_delay(int(NOW), 3, NOW + 0.2) == 3  # 2.8 s to the end, in whole seconds
    assert flush_delay(int(NOW), 3, NOW + 5) == 1  # a late flush still waits a second
    assert flush_delay(int(NOW), 900, NOW - 10) == MAX_WINDOW_SECONDS


def test_a_flush_and_a_slice_are_told_apart_by_their_shapes() -> None:
    flush = parse_fanout_message(flush_body("art", "i1", 30, 2))
    piece = parse_fanout_message(
        FanoutSlice(
            room_id="art",
            incarnation="i1",
            part=1,
            parts=1,
            frames=["{}"],
            targets=[SliceTarget(connection_id="c1", user_id="u1", expires_at=1)],
        ).model_dump_json(by_alias=True)
    )

    assert isinstance(flush, WindowFlush) and (flush.feed, flush.start, flush.seconds) == (
        room_feed("art", "i1"),
        30,
        2,
    )
    assert isinstance(piece, FanoutSlice)


# ---- the use case ----------------------------------------------------------------------------------------


@pytest.fixture
def windows() -> MemoryWindows:
    return MemoryWindows()


@pytest.fixture
def flushes() -> MemoryFlushQueue:
    return MemoryFlushQueue()


@pytest.fixture
def now() -> list[float]:
    return [NOW]


@pytest.fixture
def live(
    store: Store, poster: RecordingPoster, windows: MemoryWindows, flushes: MemoryFlushQueue, now: list[float]
) -> LiveProcessor:
    """Rooms above 2 live subscribers paced at 1 post/s: 3 subscribers get a window of 3 s."""
    pacer = Pacer(FrameBudget(room_posts_per_second=1, threshold=2), windows, flushes, clock=lambda: now[0])
    return LiveProcessor(store, poster, FRAME_LIMIT, max_workers=4, out_of_time=lambda: False, pacer=pacer)


@pytest.fixture
def flusher(store: Store, poster: RecordingPoster, windows: MemoryWindows) -> WindowFlusher:
    return WindowFlusher(windows, store.connections, poster, FRAME_LIMIT, max_workers=4)


@pytest.fixture
def subscribed(
    art: Room, connect: Callable[..., Caller], send: Callable[..., list[dict[str, Any]]], poster: RecordingPoster
) -> Callable[[int], list[str]]:
    """n connections of alice and bob subscribed to art; the subscribe answers cleared."""

    def run(count: int) -> list[str]:
        ids = []
        for n in range(count):
            caller = connect(f"c{n}", ("alice", "bob")[n % 2])
            assert send(caller, {"action": "subscribe", "roomId": "art"})[0]["type"] == "subscribed"
            ids.append(caller.connection_id)
        poster.clear()
        return ids

    return run


@dataclass
class Paced:
    """A paced room's test parts: subscribe, write, one stream batch, the flush messages and their function."""

    subscribed: Callable[[int], list[str]]
    write: Callable[..., list[CommentView]]
    process_stream: Callable[[], Any]
    flushes: MemoryFlushQueue
    flusher: WindowFlusher
    poster: RecordingPoster

    def flush_all(self) -> list[WindowFlush]:
        """Every flush sent so far, run as if its delay had run out."""
        taken = self.flushes.take()
        for flush in taken:
            self.flusher.flush(flush)
        return taken


@pytest.fixture
def paced(
    subscribed: Callable[[int], list[str]],
    write: Callable[..., list[CommentView]],
    process_stream: Callable[[], Any],
    flushes: MemoryFlushQueue,
    flusher: WindowFlusher,
    poster: RecordingPoster,
) -> Paced:
    return Paced(subscribed, write, process_stream, flushes, flusher, poster)


def comments_of(poster: RecordingPoster, connection_id: str) -> list[list[str]]:
    """Each comments frame a connection got, as its comments' texts."""
    return [[c["text"] for c in f["comments"]] for f in poster.frames(connection_id) if f["type"] == "comments"]


def test_a_paced_room_gets_one_frame_per_window_holding_every_batch_in_order(paced: Paced, now: list[float]) -> None:
    # Given a room of 3 subscribers (paced: a window of 3 s), and comments over three stream batches in it
    connections = paced.subscribed(3)
    for batch in range(3):
        paced.write(2, text=f"b{batch}-{{index}}")
        assert paced.process_stream().failed == []
        now[0] += 0.5

    # Then nothing is posted until the window's end, and its first writer scheduled one flush, for its end
    assert paced.poster.posts == []
    assert [(f.start, f.seconds, delay) for f, delay in paced.flushes.sent] == [(int(NOW), 3, 3)]

    # When the flush comes, each connection gets one frame of all six comments, in position order
    paced.flush_all()
    texts = ["b0-0", "b0-1", "b1-0", "b1-1", "b2-0", "b2-1"]
    for connection in connections:
        assert comments_of(paced.poster, connection) == [texts]


def test_a_room_at_the_threshold_is_posted_every_batch(paced: Paced, windows: MemoryWindows) -> None:
    connections = paced.subscribed(2)
    paced.write(2)

    paced.process_stream()

    assert paced.flushes.sent == [] and windows.items == {}
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_an_append_after_the_close_lands_in_the_next_window_and_its_flush(paced: Paced) -> None:
    connections = paced.subscribed(3)
    paced.write(1, text="first")
    paced.process_stream()
    paced.flush_all()

    # When a comment arrives while the clock is still in the closed window's slot
    paced.write(1, text="second")
    paced.process_stream()
    (late,) = paced.flush_all()

    # Then the next window took it (flushed at its own end), and nothing came twice
    assert (late.start, late.seconds) == (int(NOW) + 3, 3)
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["first"], ["second"]]


def test_a_retried_stream_batch_is_delivered_once(paced: Paced, live: LiveProcessor, table: MemoryTable) -> None:
    connections = paced.subscribed(3)
    paced.write(2)
    changes = table.drain()
    live.deliver(changes)
    live.deliver(changes[1:])  # Lambda retries from a failed record: part of the batch again

    paced.flush_all()

    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_a_flush_that_reached_nobody_is_retried_and_a_handed_one_never_posts_again(paced: Paced) -> None:
    connections = paced.subscribed(3)
    paced.write(2)
    paced.process_stream()
    (flush,) = paced.flushes.take()

    # The API fails every post of the first attempt: the message comes back
    paced.poster.failing.update(connections)
    with pytest.raises(TransientError, match="reached nobody"):
        paced.flusher.flush(flush)
    paced.poster.failing.clear()

    # The second attempt finds the window closed, nothing handed over: it posts
    paced.flusher.flush(flush)
    # A third delivery of the message (SQS delivers at least once): closed and handed over, nothing posted
    assert paced.flusher.flush(flush).posts == 0

    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_a_flush_that_reached_some_is_not_posted_again(paced: Paced) -> None:
    connections = paced.subscribed(3)
    paced.write(1)
    paced.process_stream()
    (flush,) = paced.flushes.take()
    paced.poster.failing.add(connections[0])

    result = paced.flusher.flush(flush)
    paced.poster.failing.clear()
    again = paced.flusher.flush(flush)

    assert (result.failed, again.posts) == ([connections[0]], 0)
    assert [comments_of(paced.poster, c) for c in connections] == [[], [["c0"]], [["c0"]]]


def test_a_window_whose_flush_could_not_be_scheduled_is_posted_at_once(paced: Paced) -> None:
    connections = paced.subscribed(3)
    paced.flushes.failing = True
    paced.write(2)

    paced.process_stream()

    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_a_full_window_spills_into_the_next(paced: Paced, store: Store, table: MemoryTable, now: list[float]) -> None:
    windows = MemoryWindows(max_bytes=300)  # about two comments
    paced.flusher.windows = windows
    pacer = Pacer(FrameBudget(room_posts_per_second=1, threshold=2), windows, paced.flushes, clock=lambda: now[0])
    live = LiveProcessor(store, paced.poster, FRAME_LIMIT, max_workers=4, out_of_time=lambda: False, pacer=pacer)
    connections = paced.subscribed(3)
    for n in range(3):
        paced.write(1, text=f"s{n}")
        live.deliver(table.drain())

    sent = paced.flush_all()

    # Then the comments went to as many windows as they needed, each flushed once, none lost or twice
    assert len(sent) >= 2 and len({f.start for f in sent}) == len(sent)
    for connection in connections:
        assert [text for frame in comments_of(paced.poster, connection) for text in frame] == ["s0", "s1", "s2"]


def test_a_leaver_of_a_paced_room_gets_the_held_comments_before_their_exit(
    paced: Paced, apply: Callable[[Command], Outcome]
) -> None:
    # Given bob's connections (c1, c3) in a paced room of 4, and two comments held in its window
    assert paced.subscribed(4) == ["c0", "c1", "c2", "c3"]
    paced.write(2, text="held{index}")
    paced.process_stream()
    assert paced.poster.posts == []

    # When bob leaves
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()
    paced.flush_all()

    # Then bob's connections got the held comments, then their memberLeft, and nothing from the flush
    for connection in ("c1", "c3"):
        assert [f["type"] for f in paced.poster.frames(connection)] == ["comments", "memberLeft"]
        assert comments_of(paced.poster, connection) == [["held0", "held1"]]
    # and alice's got memberLeft at once and the comments at the window's end
    for connection in ("c0", "c2"):
        assert [f["type"] for f in paced.poster.frames(connection)] == ["memberLeft", "comments"]
        assert comments_of(paced.poster, connection) == [["held0", "held1"]]


def test_a_batch_no_window_takes_is_posted_at_once(
    paced: Paced, store: Store, table: MemoryTable, now: list[float]
) -> None:
    windows = MemoryWindows(max_bytes=10)  # not even one comment fits
    pacer = Pacer(FrameBudget(room_posts_per_second=1, threshold=2), windows, paced.flushes, clock=lambda: now[0])
    live = LiveProcessor(store, paced.poster, FRAME_LIMIT, max_workers=4, out_of_time=lambda: False, pacer=pacer)
    connections = paced.subscribed(3)
    paced.write(2)

    live.deliver(table.drain())

    assert paced.flushes.sent == [] and windows.items == {}
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


class ForgetfulWindows(MemoryWindows):
    """Windows whose ``Handed`` mark cannot be written (DynamoDB throttles it)."""

    def mark_handed(self, feed: str, start: int) -> None:
        raise TransientError("DynamoDB: ProvisionedThroughputExceededException")


def test_a_window_whose_hand_over_mark_fails_is_still_acknowledged(paced: Paced, windows: MemoryWindows) -> None:
    connections = paced.subscribed(3)
    paced.write(1)
    paced.process_stream()
    forgetful = ForgetfulWindows()
    forgetful.items = windows.items
    paced.flusher.windows = forgetful

    (flush,) = paced.flush_all()  # raising here would bring the message back and post it twice

    assert flush.seconds == 3
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0"]]


def test_a_flush_of_a_window_that_is_gone_posts_nothing(paced: Paced) -> None:
    paced.subscribed(3)

    result = paced.flusher.flush(WindowFlush.model_validate_json(flush_body("art", "i1", int(NOW), 3)))

    assert (result.posts, paced.poster.posts) == (0, [])


def record(body: str) -> SQSRecord:
    return SQSRecord({"messageId": "m1", "body": body, "attributes": {}, "messageAttributes": {}})


def test_the_fan_out_edge_refuses_a_flush_without_windows_and_a_body_that_is_neither(paced: Paced) -> None:
    edge = SliceBatch(paced.poster, paced.flusher.connections, max_workers=4)

    with pytest.raises(InvalidSlice, match="is a window flush, and no window is configured"):
        edge.handle_record(record(flush_body("art", "i1", int(NOW), 3)))
    with pytest.raises(InvalidSlice, match="is not a slice"):
        edge.handle_record(record('{"kind": "windowFlush", "roomId": "art"}'))


def test_a_banned_user_of_a_paced_room_gets_the_held_comments_before_banned(
    paced: Paced, apply: Callable[[Command], Outcome]
) -> None:
    paced.subscribed(4)
    paced.write(2, text="held{index}")
    paced.process_stream()

    apply(BanUser(room_id="art", user_id="alice", target_user_id="bob"))
    paced.process_stream()
    paced.flush_all()

    for connection in ("c1", "c3"):
        assert [f["type"] for f in paced.poster.frames(connection)] == ["comments", "banned"]
        assert comments_of(paced.poster, connection) == [["held0", "held1"]]
    for connection in ("c0", "c2"):
        assert comments_of(paced.poster, connection) == [["held0", "held1"]]
