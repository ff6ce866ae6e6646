"""Issue 10 point 4, the seventh review of the frame window, on the fake and each backend's DynamoDB: the
marker of a resent window outlives its flush however long that flush is queued (P2); a room no longer paced
still resends a window the StreamFunction closed and never posted (P1); an exit reads its held windows'
batches by one Query a run, and the StreamFunction deletes the marker of a window it handed over (M1)."""

# The clocked room's fixture is test_window_recovery's (imported, then requested by name as a parameter).
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools import Metrics
from test_window_recovery import (  # noqa: F401
    ClockedRoom,
    closed_unposted_behind_a_handed_run,
    deletion_of,
    numbered,
    room,
    unmarked,
)

from roomcast.adapters.dynamodb.windows import DynamoWindows
from roomcast.usecases.cutoff import Exit
from roomcast.usecases.fanout import FanoutResult
from support.memory_windows import MemoryWindows

pytestmark = pytest.mark.integration


def leaver_gets(room: ClockedRoom) -> list[str]:
    frames = room.pacer().with_held(room.feed, [Exit("leaver", [])], 32 * 1024)[0].frames
    return sorted(c["commentId"] for f in frames for c in json.loads(f).get("comments", []))


def test_the_marker_of_a_resent_window_outlives_its_flush_queued_past_the_settled_span(room: ClockedRoom) -> None:
    """The seventh review's P2: a scan deleted the marker of a resent window 105 s after the resend's claim,
    not once its flush ran; behind an outage's backlog (FlushConcurrency 5) a leaver then missed the window."""
    start = closed_unposted_behind_a_handed_run(room)
    room.hold(start + 20.2, 20)  # X's lease over: this scan resends X; its flush waits in the queue's backlog
    assert start in {flush.start for flush in room.queue.take()}

    # When the next window's scan comes 106 s after the resend, its flush still not received
    room.hold(start + 126.2, 126)

    # Then a leave at +130 s still gets X's comment
    room.clock[0] = start + 130
    assert "c000" in leaver_gets(room)


def test_a_deletion_in_a_room_no_longer_paced_resends_a_window_closed_and_never_posted(room: ClockedRoom) -> None:
    """The seventh review's P1: the orphan scan ran only for a new window's first writer, so once the room
    dropped to the threshold (its batches posted at once) a window the StreamFunction closed and never
    posted was never resent, and expired an hour on, posted to leavers only."""
    start = closed_unposted_behind_a_handed_run(room)

    # When the room is no longer paced and a batch with a deletion comes 40 s on (its latest window handed over)
    room.clock[0] = start + 40.3
    assert room.pacer().still_held(room.feed, [deletion_of(numbered(3))]) is None

    # Then that batch resent X's flush, once: a second such batch within 105 s resends nothing
    assert [flush.start for flush in room.queue.take()] == [start]
    room.clock[0] = start + 60.3
    assert room.pacer().still_held(room.feed, [deletion_of(numbered(4))]) is None
    assert room.queue.take() == []


def test_a_window_the_stream_function_posted_and_handed_over_leaves_no_marker(room: ClockedRoom) -> None:
    """The seventh review's M1: such a marker stayed until a scan found its window handed over, and every
    exit meanwhile read its head (590 RCU an exit after an outage of 600 windows)."""
    start = room.start
    room.queue.failing = True
    room.clock[0] = start + 0.2
    pacer = room.pacer()
    assert pacer.hold(room.feed, [numbered(0)], 1).comments, "closed here: the caller posts it"
    pacer.settle(room.feed, FanoutResult(posts=1, delivered=1))
    assert unmarked(room, start)


def test_an_exit_after_an_outage_reads_its_windows_batches_by_one_query_a_run(room: ClockedRoom) -> None:
    """The seventh review's M1: an exit ran one Query per window not handed over (627 after an outage of 600
    windows); now one range Query per run of held windows with no other window between."""
    queries: list[int] = []
    if isinstance(room.windows, DynamoWindows):
        room.windows.client.meta.events.register("provide-client-params.dynamodb.Query", lambda **_: queries.append(1))
    start = room.start
    # Given 30 windows an outage left released, one window flushed and handed over, then 30 more
    room.queue.failing = True
    for k in range(30):
        Metrics().clear_metrics()
        room.released(start + k + 0.2, k)
    room.queue.failing = False
    room.hold(start + 30.2, 30)  # its scan resends 10 of them: sent, not handed over yet
    assert room.windows.close(room.feed, start + 30) is not None
    room.windows.mark_handed(room.feed, start + 30)
    room.queue.failing = True
    for k in range(31, 61):
        Metrics().clear_metrics()
        room.released(start + k + 0.2, k)

    # When an exit reads the held windows
    queries.clear()
    held = room.windows.held(room.feed)

    # Then it gets every released window's comment, not the handed one's, in 3 pages of heads, the
    # markers' Query and 2 range Queries (a run each side of the handed window)
    assert sorted(c.comment_id for c in held.comments) == [f"c{k:03d}" for k in range(61) if k != 30]
    assert isinstance(room.windows, MemoryWindows) or len(queries) == 3 + 1 + 2
