"""Issue 10 point 4, the third review of the frame window, on each backend's DynamoDB: a window the
StreamFunction closed itself and never posted is found once its lease is over; an exit reads only the heads
that can hold unposted comments; a batch alone over the byte limit is refused without sealing the window."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from aws_lambda_powertools import Metrics
from test_frame_windows import views

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb import windows as window_adapter
from roomcast.adapters.dynamodb.windows import (
    HANDED_RUN,
    HELD_PAGE_HEADS,
    OPEN_WINDOW_HORIZON_SECONDS,
    SETTLED_SECONDS,
    DynamoWindows,
)
from roomcast.domain.chat import CommentView
from roomcast.domain.events import CommentDeleted
from roomcast.domain.frame_window import WINDOW_MAX_BYTES, FrameBudget
from roomcast.usecases import pacing
from roomcast.usecases.cutoff import Exit
from roomcast.usecases.fanout import FanoutResult
from roomcast.usecases.pacing import WINDOW_TTL_SECONDS, Appended, Pacer, WindowFlusher, Windows
from support.memory_windows import MemoryFlushQueue, MemoryWindows
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
    assert windows.orphans(feed, START + 3) == [(START, 0)]
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

    assert windows.orphans(feed, START + 16) == [(START, 0)]


def put_handed_heads(windows: DynamoWindows, feed: str, starts: list[int]) -> None:
    """Heads as a flush leaves them: sent, closed, handed over."""
    now_ms = int(time.time() * 1000)
    for chunk in range(0, len(starts), 25):
        windows.client.batch_write_item(
            RequestItems={
                windows.table_name: [
                    {
                        "PutRequest": {
                            "Item": {
                                "PK": keys.pace_pk(feed),
                                "SK": keys.window_sk(start),
                                "Appends": 1,
                                "Scheduled": now_ms,
                                "Sent": True,
                                "Closed": now_ms,
                                "Handed": True,
                            }
                        }
                    }
                    for start in starts[chunk : chunk + 25]
                ]
            }
        )


def test_an_exit_reads_heads_newest_first_back_to_a_run_of_settled_ones_handed_over(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "big#i1"
    now = int(time.time())
    # Given a room paced at 1 s for 20 minutes, every window flushed and handed over but two: one of a minute
    # ago closed by its flush, which is still retrying, and one of 15 minutes ago whose flush dead-lettered
    windows.append(feed, now - 60, views("retrying"), now + 3600)
    windows.close(feed, now - 60)
    windows.append(feed, now - 900, views("dead-lettered"), now + 3600)
    windows.close(feed, now - 900)
    put_handed_heads(windows, feed, [s for s in range(now - 1200, now) if s not in (now - 60, now - 900)])
    scanned: list[int] = []
    windows.client.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: scanned.append(parsed.get("ScannedCount", 0))
    )

    held = windows.held(feed)

    # Then the window still retrying is read, and the read stopped at the first run of settled heads handed
    # over: a page past the heads of the lease and the flush's retries, not the 1,200 heads of 20 minutes
    assert [c.text for c in held.comments] == ["retrying"]
    heads = sum(scanned[:-1])  # the last Query is the retrying window's batch items
    assert heads <= SETTLED_SECONDS + HANDED_RUN + HELD_PAGE_HEADS + 2


def test_a_batch_alone_over_the_byte_limit_is_refused_without_sealing_the_window(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    assert windows.append(feed, START, views("a"), START + 3600) is Appended.FIRST
    windows.mark_sent(feed, START)

    assert windows.append(feed, START, views("x" * WINDOW_MAX_BYTES), START + 3600) is Appended.REFUSED
    assert windows.append(feed, START, views("b"), START + 3600) is Appended.JOINED


def test_the_latest_window_tells_its_w_until_it_is_handed_over(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    assert windows.open_seconds(feed) is None  # no window: a deletion goes out at once
    windows.append(feed, START, views("a"), START + 3600, seconds=3)
    windows.append(feed, START + 3, views("b"), START + 3600, seconds=3)
    assert windows.open_seconds(feed) == 3
    windows.close(feed, START + 3)
    assert windows.open_seconds(feed) == 3  # closed, its flush posting: not handed over yet
    windows.mark_handed(feed, START + 3)
    assert windows.open_seconds(feed) == 0  # handed over: posted at once, recorded first (an older may be held)


def test_every_window_an_sqs_outage_left_closed_and_released_is_an_orphan(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    # Given 40 s of an SQS outage in a room paced at 1 s: each window closed by the StreamFunction (its flush
    # refused), its post reaching nobody (the second tier's SQS refused too), so released; never handed over
    for start in range(START, START + 40):
        windows.append(feed, start, views(f"o{start}"), START + 3600)
        windows.mark_unposted(feed, start, START + 3600)  # as Pacer._take_over does, before its close
        closed = windows.close(feed, start)
        assert closed is not None
        windows.release(feed, start, closed.holder)

    # When SQS is back, the first writers of the next windows look for orphans: each finds 10, the oldest
    # first (ORPHAN_MARKERS_PER_SCAN; the sixth review's M2), far past the windows opened during one lease
    found = [windows.orphans(feed, START + 40) for _ in range(5)]
    assert found == [[(s, 0) for s in range(START + k, START + k + 10)] for k in (0, 10, 20, 30)] + [[]]
    # and once handed over, their markers are found so, once the scans' resends settled, and deleted
    for start in range(START, START + 40):
        windows.mark_handed(feed, start)
    later = time.time() + SETTLED_SECONDS + 1
    monkeypatch.setattr(window_adapter, "time", SimpleNamespace(time=lambda: later))
    for _ in range(4):
        assert windows.orphans(feed, START + 41) == []
    assert unposted_markers(windows, feed) == []


def unposted_markers(windows: DynamoWindows, feed: str) -> list[str]:
    found = windows.query_all(
        KeyConditionExpression="PK = :pk AND begins_with(SK, :marker)",
        ExpressionAttributeValues={":pk": keys.pace_pk(feed), ":marker": keys.WINDOW_UNPOSTED_PREFIX},
    )
    return [str(item["SK"]) for item in found]


def test_the_orphan_scan_finds_a_marked_window_behind_any_run_and_a_dead_claim_among_the_newest_heads(
    stack: Stack,
) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "big#i1"
    now = int(time.time())
    # Given a window the StreamFunction closed itself (marked) 10 minutes ago and released, behind 5 minutes
    # of windows handed over; and two claims whose writer died before the send, 10 s and 200 s ago
    windows.append(feed, now - 600, views("closed"), now + 3600, seconds=2)
    windows.mark_unposted(feed, now - 600, now + 3600)
    closed = windows.close(feed, now - 600)
    assert closed is not None
    windows.release(feed, now - 600, closed.holder)
    for start in (now - 200, now - 10):
        assert windows.append(feed, start, views(f"claimed{start}"), now + 3600) is Appended.FIRST
    put_handed_heads(windows, feed, [s for s in range(now - 300, now) if s not in (now - 200, now - 10)])

    # Then the scan finds the marked one however far back, and the dead claim among the newest heads only
    # (a claimer's bisected retry comes within seconds: docs/capacity.md)
    assert windows.orphans(feed, now) == [(now - 600, 2), (now - 10, 0)]  # each with its own w


@dataclass
class ClockedRoom:
    """A paced room of w = 1 s on the fake or DynamoWindows, both reading ``clock`` as their wall clock."""

    windows: Windows
    clock: list[float]
    queue: MemoryFlushQueue = field(default_factory=MemoryFlushQueue)
    feed: str = "art#i1"

    @property
    def start(self) -> int:
        return int(self.clock[0])

    def pacer(self) -> Pacer:
        return Pacer(FrameBudget(8000, 2), self.windows, self.queue, clock=lambda: self.clock[0])

    def released(self, at: float, i: int) -> None:
        """Comment ``i`` at ``at``, SQS refusing its window's flush: the window closed here (marked), its post
        reaching nobody (the second tier's SQS refuses too), so released."""
        self.clock[0] = at
        pacer = self.pacer()
        pacer.hold(self.feed, [numbered(i)], 1)
        pacer.settle(self.feed, FanoutResult(failed=["conn"]))

    def hold(self, at: float, i: int) -> list[CommentView]:
        """Comment ``i`` held (or what the pacer gives back to post now) at ``at``."""
        self.clock[0] = at
        return self.pacer().hold(self.feed, [numbered(i)], 1).comments


@pytest.fixture(params=["fake", "dynamo"])
def room(request: pytest.FixtureRequest, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> ClockedRoom:
    clock = [float(int(time.time()) - 3000)]
    if request.param == "fake":
        return ClockedRoom(MemoryWindows(clock=lambda: clock[0]), clock)
    monkeypatch.setattr(window_adapter, "time", SimpleNamespace(time=lambda: clock[0]))
    return ClockedRoom(DynamoWindows(stack.table_name), clock)


def numbered(i: int) -> CommentView:
    return views(f"t{i}")[0].model_copy(update={"comment_id": f"c{i:03d}", "position": f"{i:010d}"})


def closed_unposted_behind_a_handed_run(room: ClockedRoom) -> int:
    """The fifth review's G2: X's flush refused, X closed by the StreamFunction, which dies before posting
    it; the batch's retry within the lease posts nothing; X + 1 .. X + 4 are flushed and handed over."""
    start = room.start
    room.queue.failing = True
    assert room.hold(start + 0.2, 0), "closed here, to be posted (the invocation dies)"
    assert not room.hold(start + 0.6, 0), "its retry within the lease posts nothing"
    room.queue.failing = False
    for k in range(1, 5):
        room.hold(start + k + 0.2, k)
    for flush in room.queue.take():
        assert room.windows.close(room.feed, flush.start) is not None
        room.windows.mark_handed(room.feed, flush.start)
    return start


def test_a_window_closed_unposted_during_a_lease_is_resent_after_a_run_of_handed_windows_and_a_quiet(
    room: ClockedRoom,
) -> None:
    """G2, then the room quiet 2 minutes: the next windows' first writer still sends X's flush (its marker)."""
    start = closed_unposted_behind_a_handed_run(room)
    for k in range(5, 10):
        room.hold(start + 120 + k + 0.2, k)

    assert start in {flush.start for flush in room.queue.take()}


def test_an_exit_reads_a_marked_window_behind_a_settled_run_and_past_the_horizon_until_it_is_handed_over(
    room: ClockedRoom,
) -> None:
    """The sixth review's H1: G2's setting, then the room quiet, and a member leaves: the leaver gets X's
    comment (it used to stop at the run of handed heads, and X was posted later to the members left)."""

    def leaver_gets() -> list[str]:
        frames = room.pacer().with_held(room.feed, [Exit("leaver", [])], 32 * 1024)[0].frames
        return sorted(c["commentId"] for f in frames for c in json.loads(f).get("comments", []))

    start = closed_unposted_behind_a_handed_run(room)

    # Then a leave 2 minutes on, and one past the exit's 25-minute horizon (within the window's TTL), gets X
    room.clock[0] = start + 120
    assert leaver_gets() == ["c000"]
    room.clock[0] = start + OPEN_WINDOW_HORIZON_SECONDS + 60
    assert leaver_gets() == ["c000"]
    # and once X is handed over, an exit reads it no more (its marker left for the next scan to delete)
    room.windows.mark_handed(room.feed, start)
    assert leaver_gets() == []


def test_an_sqs_outage_leaves_no_orphan_scan_and_its_windows_are_resent_ten_a_window_oldest_first(
    room: ClockedRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sixth review's M2: every first writer of an outage took over every marker before its own send
    failed, N UpdateItems for the N-th window (quadratic on the room's one Pace: partition)."""
    start, scans = room.start, []
    scan = room.windows.orphans
    monkeypatch.setattr(room.windows, "orphans", lambda feed, before: scans.append(scan(feed, before)) or scans[-1])
    updates: list[int] = []
    if isinstance(room.windows, DynamoWindows):
        room.windows.client.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem", lambda **_: updates.append(1)
        )
    # Given 30 s of an SQS outage in a room paced at 1 s, each window closed by the StreamFunction, its post
    # reaching nobody (the second tier's SQS refuses too), so released
    room.queue.failing, per_window = True, []
    for k in range(30):
        before = len(updates)
        Metrics().clear_metrics()
        room.released(start + k + 0.2, k)
        per_window.append(len(updates) - before)

    # Then no first writer scanned for orphans while SQS refused its own flush: the same writes every window
    assert scans == [] and len(set(per_window[1:])) <= 1
    # and once SQS is back each new window's first writer resends 10 of them, the oldest first
    room.queue.failing = False
    for k in range(30, 34):
        room.hold(start + k + 0.2, k)
    assert [sorted(found) for found in scans] == [[(start + i + k, 1) for i in range(10)] for k in (0, 10, 20)] + [[]]
    assert sorted(f.start for f in room.queue.take() if f.start < start + 30) == list(range(start, start + 30))


def test_a_window_resent_by_a_later_writer_is_flushed_with_its_own_w(
    room: ClockedRoom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sixth review's M1: an orphan's flush (and a retried batch's resent one) carried the finder's w;
    after w shrank, its flush read the tombstones from too late and posted a deleted comment's text."""
    posted: list[bytes] = []
    monkeypatch.setattr(
        pacing, "hand_off_or_post", lambda _t, _f, frames, *_a, **_k: posted.extend(frames) or FanoutResult()
    )
    x = room.start // 10 * 10
    # Given a window of w = 10 s whose first writer died after its claim, before the send, and its comment's
    # deletion recorded 30 s before the window (posted at once, its comment spilled into this window)
    room.clock[0] = x - 30
    assert room.windows.append(room.feed, x, [numbered(0), numbered(5)], x + 3610, (), 10) is Appended.FIRST
    room.windows.bury(room.feed, [deletion_of(numbered(0))], x - 30, x + 9000)
    # and a batch of w = 10 s whose first attempt died likewise
    room.clock[0] = x + 20.2
    assert room.windows.append(room.feed, x + 20, [numbered(2)], x + 3630, (), 10) is Appended.FIRST

    # When the room's w is 1 s: a new window's first writer finds the orphan, and the batch's retry its window
    room.hold(x + 32.2, 1)
    assert not room.hold(x + 33.2, 2)

    # Then each flush carries its window's own w, and the orphan's flush leaves the deleted text out
    flushes = {flush.start: flush for flush in room.queue.take()}
    assert (flushes[x].seconds, flushes[x + 20].seconds, flushes[x + 32].seconds) == (10, 10, 1)
    WindowFlusher(
        room.windows, SimpleNamespace(all_subscribers=lambda *_, **__: []), SimpleNamespace(), 32 * 1024, 1
    ).flush(flushes[x])
    assert b'"t5"' in b"".join(posted) and b'"t0"' not in b"".join(posted)


def deletion_of(comment: CommentView) -> CommentDeleted:
    return CommentDeleted(room_id="art", user_id="u1", comment_id=comment.comment_id, position=comment.position)


def test_a_marker_whose_window_was_resent_and_never_handed_over_is_kept_and_tried_once_per_settled_span(
    room: ClockedRoom,
) -> None:
    """The sixth review's L1: a marked window resent (Sent) whose flush never handed it over (dead-lettered
    after reaching nobody, or its Handed mark failed) kept its marker, and every later first writer paid a
    refused take-over for it until the window's TTL (an hour: some 3,600 WCU at w = 1 s). The seventh
    review's P2: its marker is kept (the flush may still be queued), tried once per ``SETTLED_SECONDS``."""
    takes: list[str] = []
    if isinstance(room.windows, DynamoWindows):
        room.windows.client.meta.events.register(
            "provide-client-params.dynamodb.UpdateItem", lambda params, **_: takes.append(str(params["Key"]["SK"]))
        )
    start = room.start
    room.queue.failing = True
    room.released(start + 0.2, 0)
    room.queue.failing = False
    room.hold(start + 20.2, 1)
    assert start in {flush.start for flush in room.queue.take()}, "resent; its flush then never hands it over"

    # When a window's first writer comes every second for SETTLED_SECONDS + 5 s after the resend's span
    before = takes.count(keys.window_sk(start))
    for k in range(SETTLED_SECONDS + 5):
        Metrics().clear_metrics()  # Powertools flushes at 100 metrics, and these tests set no namespace
        room.hold(start + 20 + SETTLED_SECONDS + k + 1.2, 2 + k)

    # Then the marker is kept, the exit still reads the window, and its head took one refused try a span
    assert not unmarked(room, start)
    assert numbered(0) in room.windows.held(room.feed).comments
    assert isinstance(room.windows, MemoryWindows) or takes.count(keys.window_sk(start)) - before == 2
    # and once its flush hands it over, the next try deletes the marker
    room.windows.mark_handed(room.feed, start)
    room.hold(start + 20 + 3 * SETTLED_SECONDS + 10.2, 999)
    assert unmarked(room, start)


def unmarked(room: ClockedRoom, start: int) -> bool:
    if isinstance(room.windows, MemoryWindows):
        return (room.feed, start) not in room.windows.unposted
    assert isinstance(room.windows, DynamoWindows)
    return f"Unposted:{start:012d}" not in unposted_markers(room.windows, room.feed)


def test_a_window_past_its_ttl_is_neither_read_resent_nor_held_while_dynamodb_has_not_deleted_it_yet(
    room: ClockedRoom,
) -> None:
    """The sixth review's L2: DynamoDB's TTL deletes expired items lazily (up to about 48 hours later; moto
    never): an expired head and its marker were still read by exits, taken over by scans, and an expired
    latest head kept deletions recorded (still_held) in a room long unpaced."""
    start = room.start
    room.queue.failing = True
    room.released(start + 0.2, 0)
    room.queue.failing = False

    # When the window's TTL has passed (an hour after its end) and its items are still there
    room.clock[0] = start + 1 + WINDOW_TTL_SECONDS + 1

    # Then an exit reads nothing of it, no scan resends it (its marker is deleted), and the room has no window
    assert room.windows.held(room.feed).comments == []
    assert room.windows.orphans(room.feed, start + 5000) == []
    assert unmarked(room, start)
    assert room.windows.open_seconds(room.feed) is None


def test_a_scan_tries_the_markers_of_resent_windows_once_a_span_and_still_takes_over_ten_more(
    room: ClockedRoom,
) -> None:
    """M2's cap counts take-overs, not the tries refused on windows resent 105 s before (P2: kept, their
    flushes may still be queued, and tried again a span later)."""
    start = room.start
    room.queue.failing = True
    for k in range(25):
        room.released(start + k + 0.2, k)
    room.queue.failing = False
    first = room.windows.orphans(room.feed, start + 30)
    assert [s for s, _ in first] == list(range(start, start + 10))
    for s, _ in first:
        room.windows.mark_sent(room.feed, s)  # their flushes sent; not handed over yet

    # When the next scan comes after SETTLED_SECONDS, then another at once
    room.clock[0] = start + 30 + SETTLED_SECONDS + 1
    second = room.windows.orphans(room.feed, start + 30)
    third = room.windows.orphans(room.feed, start + 30)

    # Then it keeps their 10 markers and takes over the next 10; the one after it tries none of those again
    assert [s for s, _ in second] == list(range(start + 10, start + 20))
    assert not any(unmarked(room, s) for s, _ in first)
    assert [s for s, _ in third] == list(range(start + 20, start + 25))
