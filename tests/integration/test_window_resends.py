"""Issue 10 point 4, the seventh review of the frame window, on the fake and each backend's DynamoDB: the
marker of a resent window outlives its flush however long that flush is queued (P2)."""

# The clocked room's fixture is test_window_recovery's (imported, then requested by name as a parameter).
# ruff: noqa: F811

from __future__ import annotations

import json

import pytest
from test_window_recovery import (  # noqa: F401
    ClockedRoom,
    closed_unposted_behind_a_handed_run,
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
