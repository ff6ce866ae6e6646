"""Issue 10 point 4, the seventh review of the frame window, on the fake and each backend's DynamoDB: the
marker of a resent window outlives its flush however long that flush is queued (P2); a room no longer paced
still resends a window the StreamFunction closed and never posted (P1)."""

# The clocked room's fixture is test_window_recovery's (imported, then requested by name as a parameter).
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from test_window_recovery import (  # noqa: F401
    ClockedRoom,
    closed_unposted_behind_a_handed_run,
    deletion_of,
    numbered,
    room,
)

from roomcast.usecases.cutoff import Exit

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
