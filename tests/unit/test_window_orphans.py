"""Issue 10 point 4, review of the flush: a window whose first writer died between the claim of its flush and
the send is flushed even when Lambda retries the batch bisected (other comments, so no ``Held:`` marker),
in the same window's slot (its claim taken over) or a later one (the next window's first writer resends
it); a StreamFunction finding its window leased to another flusher leaves it to that one. On the fakes
(the DynamoDB side: tests/integration/test_frame_windows.py)."""

# The paced room's fixtures are test_pacing_rules' (imported, then requested by name as parameters).
# ruff: noqa: F811

from __future__ import annotations

import pytest
from aws_lambda_powertools import Metrics
from test_pacing_rules import (  # noqa: F401
    NOW,
    Paced,
    comments_of,
    flusher,
    flushes,
    now,
    paced,
    subscribed,
    windows,
)
from test_window_flush_rules import InvocationDied, died_before_the_send, room_behind

from roomcast.domain.chat import CommentView
from roomcast.domain.errors import TransientError
from roomcast.domain.frame_window import FrameBudget
from roomcast.usecases.fanout import FanoutResult
from roomcast.usecases.pacing import FLUSH_LEASE_SECONDS, Pacer
from roomcast.usecases.ports import Store
from support.memory import MemoryTable
from support.memory_windows import MemoryFlushQueue, MemoryWindows


@pytest.mark.parametrize("later", [0.5, 3.0, 7.0], ids=["same slot", "next slot", "two slots on"])
def test_a_window_whose_writer_died_before_the_send_is_flushed_by_its_bisected_retry(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float], later: float
) -> None:
    # Given a paced room whose batch of two comments claims its window's flush, then dies before the send
    live, connections, changes = died_before_the_send(paced, store, table, windows, now)

    # When Lambda retries it in halves (BisectBatchOnFunctionError), maybe in a later window's slot
    now[0] += later
    live.deliver(changes[:-1])
    live.deliver(changes[-1:])
    sent = paced.flush_all()

    # Then the first attempt's window is flushed; each comment reaches everyone (a half appended to a later
    # window is posted with it again, as the single hop's retry would: clients dedupe by commentId)
    assert int(NOW) in [f.start for f in sent]
    for connection in connections:
        got = comments_of(paced.poster, connection)
        assert got[0] == ["c0", "c1"] and {c for frame in got for c in frame} == {"c0", "c1"}


def test_an_orphaned_window_is_resent_by_one_writer_only(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float]
) -> None:
    died_before_the_send(paced, store, table, windows, now)
    now[0] += 3

    ((feed, _),) = windows.items

    # Then the next window's first writer resends its flush; a second one finds it claimed again, and sent
    ((start, seconds),) = windows.orphans(feed, int(NOW) + 3)
    assert (start, seconds) == (int(NOW), windows.items[(feed, int(NOW))].seconds) and seconds > 0
    windows.mark_sent(feed, int(NOW))
    assert windows.orphans(feed, int(NOW) + 3) == []


class TakenByACopy(MemoryFlushQueue):
    """SQS took the flush message but its answer was lost, and a copy of the flush closed the window (under
    its lease) before the StreamFunction's fallback close."""

    def __init__(self, windows: MemoryWindows) -> None:
        super().__init__()
        self.windows = windows

    def send_delayed(self, body: str, delay_seconds: int) -> None:
        super().send_delayed(body, delay_seconds)
        flush = self.sent[-1][0]
        self.windows.close(flush.feed, flush.start)
        raise TransientError("flush message not sent: read timeout")


def test_a_window_leased_to_another_flusher_is_left_to_it_without_failing_the_batch(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float]
) -> None:
    live, connections = room_behind(TakenByACopy(windows), paced, store, windows, now)

    # When the StreamFunction's fallback finds the window closed by the copy, still within its lease
    result = live.deliver(table.drain())

    # Then the batch succeeds and posts nothing: the copy posts the window
    assert result.failed_sequences == set()
    assert all(comments_of(paced.poster, c) == [] for c in connections)


def die(connection_id: str, data: bytes) -> None:
    raise InvocationDied("the function timed out while posting")


def test_a_window_the_stream_function_closed_and_never_posted_is_flushed_once_its_lease_is_over(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float]
) -> None:
    # Given a paced room whose flush message SQS refuses: the StreamFunction closes the window to post it
    # itself, and dies posting it (before marking it handed over or releasing it)
    windows.clock = lambda: now[0]
    queue = MemoryFlushQueue()
    queue.failing = True
    live, connections = room_behind(queue, paced, store, windows, now)
    changes = table.drain()
    paced.poster.observe = die
    with pytest.raises(InvocationDied):
        live.deliver(changes)
    paced.poster.observe = None

    # When Lambda retries the batch within the window's lease, SQS still refusing: it posts nothing
    now[0] += 2
    assert live.deliver(changes).failed_sequences == set()
    assert all(comments_of(paced.poster, c) == [] for c in connections)

    # Then once the lease is over, a later window's first writer finds the window (closed, never sent nor
    # handed over) and sends its flush, which takes the window over and posts it
    queue.failing = False
    now[0] += FLUSH_LEASE_SECONDS
    paced.write(1, text="later{index}")
    live.deliver(table.drain())
    assert int(NOW) in [f.start for f in paced.flush_all()]
    for connection in connections:
        assert sorted(comments_of(paced.poster, connection)) == [["c0", "c1"], ["later0"]]


def test_every_window_left_unposted_by_a_long_queue_outage_is_flushed_once_the_queue_is_back() -> None:
    # Given a room paced at w = 1 s while SQS refuses for 40 s: each window's first writer closes it to post
    # it itself (its flush refused), the post reaches nobody (the second tier's SQS refuses too), so the window
    # is released and the batch retried, twice, then given up by Lambda: 40 windows closed, never handed over
    clock = [NOW]
    windows, queue = MemoryWindows(clock=lambda: clock[0]), MemoryFlushQueue()
    queue.failing = True
    for k in range(40):
        clock[0] = NOW + k + 0.2
        Metrics().clear_metrics()  # 120 invocations' metrics: Powertools would flush them by itself at 100
        for _ in range(3):
            pacer = Pacer(FrameBudget(8_000, 2), windows, queue, clock=lambda: clock[0])
            pacer.hold(FEED, [view(k)], 1)
            pacer.settle(FEED, FanoutResult(failed=["conn"]))

    # When SQS is back and the room goes on
    queue.failing = False
    for k in range(40, 45):
        clock[0] = NOW + k + 0.2
        Pacer(FrameBudget(8_000, 2), windows, queue, clock=lambda: clock[0]).hold(FEED, [view(k)], 1)

    # Then the first new window's writer sent the flush of every window of the outage, each once
    flushed = [flush.start for flush, _ in queue.sent]
    assert sorted(s for s in flushed if s < NOW + 40) == [int(NOW) + k for k in range(40)]


FEED = "art#1"


def view(k: int) -> CommentView:
    return CommentView(
        comment_id=f"c{k:03d}", user_id="u", text=f"t{k}", created_at="2026-12-01T06:00:00.000Z", position=f"{k:010d}"
    )


def test_a_window_whose_unposted_marker_cannot_be_written_is_not_closed_and_its_batch_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a paced room whose flush message SQS refuses, and a table refusing the marker's write
    windows, queue = MemoryWindows(clock=lambda: NOW), MemoryFlushQueue()
    queue.failing = True

    def unwritable(feed: str, start: int, expires_at: int) -> None:
        raise TransientError("marker not written: throttled")

    monkeypatch.setattr(windows, "mark_unposted", unwritable)

    # Then the batch fails (Lambda retries it) before the window is closed: its retry sends the flush again
    with pytest.raises(TransientError):
        Pacer(FrameBudget(8_000, 2), windows, queue, clock=lambda: NOW).hold(FEED, [view(0)], 1)
    window = windows.items[(FEED, int(NOW))]
    assert not window.closed and not window.sent and window.scheduled


def test_a_marker_of_a_window_handed_over_is_dropped_by_the_next_scan() -> None:
    windows = MemoryWindows(clock=lambda: NOW)
    windows.append(FEED, int(NOW), [view(0)], int(NOW) + 3600, seconds=1)
    windows.mark_unposted(FEED, int(NOW), int(NOW) + 3600)
    windows.close(FEED, int(NOW))
    windows.mark_handed(FEED, int(NOW))

    assert windows.orphans(FEED, int(NOW) + 5) == [] and windows.unposted == set()
