"""Issue 10 point 4, the third review of the frame window, on each backend's DynamoDB: a window the
StreamFunction closed itself and never posted is found once its lease is over; an exit reads only the heads
that can hold unposted comments; a batch alone over the byte limit is refused without sealing the window."""

from __future__ import annotations

import time

import pytest
from test_frame_windows import views

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.windows import DynamoWindows
from roomcast.usecases.pacing import Appended
from support.stack import Stack

pytestmark = pytest.mark.integration

START = 1_800_000_000


def lease_over(windows: DynamoWindows, feed: str, start: int) -> None:
    """As if the lease's 15 s had passed (the adapter reads the wall clock)."""
    windows.client.update_item(
        TableName=windows.table_name,
        Key={"PK": keys.pace_pk(feed), "SK": keys.window_sk(start)},
        UpdateExpression="SET LeaseUntil = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )


def test_a_window_closed_never_sent_nor_handed_is_an_orphan_once_its_lease_is_over(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    # Given a window whose flush was claimed and refused, closed by the StreamFunction to post it itself
    assert windows.append(feed, START, views("a"), START + 3600) is Appended.FIRST
    closed = windows.close(feed, START)
    assert closed is not None and [c.text for c in closed.comments] == ["a"]

    # Then within its lease no first writer takes it; once the lease is over one does, and the flush it
    # sends takes the window over; a window handed over, or sent, is never taken
    assert windows.orphans(feed, START + 3) == []
    lease_over(windows, feed, START)
    assert windows.orphans(feed, START + 3) == [START]
    again = windows.close(feed, START)
    assert again is not None and (again.already_closed, [c.text for c in again.comments]) == (True, ["a"])
    windows.mark_handed(feed, START)
    lease_over(windows, feed, START)
    assert windows.orphans(feed, START + 3) == []


def test_the_orphan_scan_reaches_back_past_the_windows_opened_during_a_lease(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    windows.append(feed, START, views("a"), START + 3600)
    windows.close(feed, START)
    # Given a window of 1 s in every slot of the lease, each sent
    for start in range(START + 1, START + 16):
        windows.append(feed, start, views(f"x{start}"), START + 3600)
        windows.mark_sent(feed, start)
    lease_over(windows, feed, START)

    assert windows.orphans(feed, START + 16) == [START]
