"""Issue 10 point 4, a paced room's flush never lost and never posted twice (usecases/pacing.py): a retried
stream batch sends a flush its earlier attempt claimed and never sent, wherever that attempt ran; the
StreamFunction's own post of a window marks it handed over; two copies of a flush never both post; a flush
posted by the FanoutFunction itself stops at the deadline and hands the rest on as a slice. On the
in-memory table and the windows' fakes (the Stubber and moto cases: test_window_appends.py and
tests/integration/test_frame_windows.py)."""

# The paced room's fixtures are test_pacing_rules' (imported, then requested by name as parameters).
# ruff: noqa: F811

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from test_pacing_rules import (  # noqa: F401
    NOW,
    Paced,
    comments_of,
    flusher,
    flushes,
    live,
    now,
    paced,
    subscribed,
    windows,
)

from roomcast.domain.errors import TransientError
from roomcast.domain.frame_window import FrameBudget
from roomcast.edges.slice_batch import SliceBatch
from roomcast.usecases.pacing import FLUSH_LEASE_SECONDS, ClosedWindow, Pacer
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import SecondTier, deliver_slice
from roomcast.usecases.stream import LiveProcessor
from roomcast.wire.slices import FanoutSlice
from support.memory import Change, MemoryTable
from support.memory_windows import MemoryFlushQueue, MemoryWindows


class InvocationDied(Exception):
    """Not a TransientError: nothing catches it, as a timeout or a crash ends the invocation."""


def failing_close(feed: str, start: int) -> ClosedWindow | None:
    raise TransientError("DynamoDB: ProvisionedThroughputExceededException")


def test_a_window_whose_flush_and_fallback_close_failed_is_flushed_by_the_retried_batch(
    paced: Paced, live: LiveProcessor, table: MemoryTable, windows: MemoryWindows, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a paced room whose first batch claims its window's flush, then cannot send it nor close it
    connections = paced.subscribed(3)
    paced.write(2)
    changes = table.drain()
    paced.flushes.failing = True
    monkeypatch.setattr(windows, "close", failing_close)
    assert live.deliver(changes).failed_sequences, "the batch fails: Lambda retries it"
    monkeypatch.undo()
    paced.flushes.failing = False

    # When the batch is retried, it finds its comments held and its window's flush never sent: it sends it
    assert live.deliver(changes).failed_sequences == set()
    paced.flush_all()

    # Then every connection gets the window once
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


class DyingQueue(MemoryFlushQueue):
    """The invocation ends (a timeout, a crash) after the claim, before its send."""

    def __init__(self) -> None:
        super().__init__()
        self.dying = True

    def send_delayed(self, body: str, delay_seconds: int) -> None:
        if self.dying:
            raise InvocationDied("the function timed out")
        super().send_delayed(body, delay_seconds)


@pytest.mark.parametrize("later", [0.5, 3.0, 7.0], ids=["same slot", "next slot", "two slots on"])
def test_a_batch_whose_invocation_died_before_the_send_is_flushed_by_its_retry_wherever_it_runs(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float], later: float
) -> None:
    live, connections, changes = died_before_the_send(paced, store, table, windows, now)

    # When Lambda retries the batch, maybe in a later window's slot of wall-clock time
    now[0] += later
    live.deliver(changes)
    sent = paced.flush_all()

    # Then the first attempt's window is flushed, the retry appended nowhere else, and nothing came twice
    assert [f.start for f in sent] == [int(NOW)] and [start for _, start in windows.items] == [int(NOW)]
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def died_before_the_send(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float]
) -> tuple[LiveProcessor, list[str], list[Change]]:
    """``room_behind``'s room whose one stream batch (returned, to retry) claimed its window's flush and died
    before the send; the queue then sends."""
    queue = DyingQueue()
    live, connections = room_behind(queue, paced, store, windows, now)
    changes = table.drain()
    with pytest.raises(InvocationDied):
        live.deliver(changes)
    queue.dying = False
    return live, connections, changes


def room_behind(
    queue: MemoryFlushQueue, paced: Paced, store: Store, windows: MemoryWindows, now: list[float]
) -> tuple[LiveProcessor, list[str]]:
    """A paced room of 3 with 2 comments written, and the StreamFunction's use case sending its flushes to
    ``queue`` (as test_pacing_rules' ``live``: rooms above 2 live subscribers paced at 1 post/s)."""
    paced.flushes = queue
    pacer = Pacer(FrameBudget(room_posts_per_second=1, threshold=2), windows, queue, clock=lambda: now[0])
    live = LiveProcessor(store, paced.poster, 32 * 1024, 4, lambda: False, pacer=pacer)
    connections = paced.subscribed(3)
    paced.write(2)
    return live, connections


def test_a_retried_batch_in_the_next_slot_after_its_window_was_flushed_posts_nothing_again(
    paced: Paced, live: LiveProcessor, table: MemoryTable, now: list[float]
) -> None:
    connections = paced.subscribed(3)
    paced.write(2)
    changes = table.drain()
    live.deliver(changes)
    live.deliver(changes)  # retried before the window's end: its flush was sent, and is not sent again
    assert len(paced.flushes.sent) == 1
    paced.flush_all()

    # When the same batch comes again (another record of it failed) in the next window's slot
    now[0] += 3
    live.deliver(changes)

    # Then no window took it again: no flush, nothing posted twice
    assert paced.flush_all() == []
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


class LostAnswerQueue(MemoryFlushQueue):
    """SQS took the message, and its answer was lost: the sender sees a failure."""

    def send_delayed(self, body: str, delay_seconds: int) -> None:
        super().send_delayed(body, delay_seconds)
        raise TransientError("flush message not sent: read timeout")


def test_a_window_posted_by_the_stream_function_is_not_posted_again_by_a_flush_sqs_took_after_all(
    paced: Paced, store: Store, table: MemoryTable, windows: MemoryWindows, now: list[float]
) -> None:
    queue = LostAnswerQueue()
    live, connections = room_behind(queue, paced, store, windows, now)

    # When the StreamFunction, told the send failed, closes the window and posts it itself
    assert live.deliver(table.drain()).failed_sequences == set()

    # Then the delayed flush SQS did take, even once the StreamFunction's lease is over, finds the window
    # handed over, and posts nothing
    windows.clock = lambda: time.time() + FLUSH_LEASE_SECONDS + 1
    (flush,) = paced.flushes.take()
    assert paced.flusher.flush(flush).posts == 0
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_a_window_the_stream_function_closed_and_reached_nobody_with_is_flushed_after_its_retry(
    paced: Paced, live: LiveProcessor, table: MemoryTable
) -> None:
    # Given a window whose flush could not be sent, closed by the StreamFunction, whose posts all failed
    connections = paced.subscribed(3)
    paced.write(2)
    changes = table.drain()
    paced.flushes.failing = True
    paced.poster.failing.update(connections)
    assert live.deliver(changes).failed_sequences
    paced.flushes.failing = False
    paced.poster.failing.clear()

    # When the batch is retried: the window's flush is sent, and takes the released window over
    live.deliver(changes)
    paced.flush_all()

    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_a_copy_of_a_flush_finding_another_posting_it_comes_back_and_then_posts_nothing(
    paced: Paced, windows: MemoryWindows
) -> None:
    connections = paced.subscribed(3)
    paced.write(2)
    paced.process_stream()
    (flush,) = paced.flushes.take()

    # Given one copy of the flush posting the window (it closed it, under its lease)
    closing = windows.close(flush.feed, flush.start)
    assert closing is not None and not closing.already_closed

    # When a second copy comes meanwhile, it posts nothing and comes back (SQS's visibility timeout)
    with pytest.raises(TransientError, match="being flushed by another copy"):
        paced.flusher.flush(flush)
    windows.mark_handed(flush.feed, flush.start)  # the first copy done

    # Then, back, it finds the window handed over
    assert paced.flusher.flush(flush).posts == 0
    assert paced.poster.posts == [] and len(connections) == 3


def test_a_window_whose_flusher_died_is_taken_over_once_its_lease_is_over(paced: Paced, windows: MemoryWindows) -> None:
    clock = [time.time()]
    windows.clock = lambda: clock[0]
    connections = paced.subscribed(3)
    paced.write(2)
    paced.process_stream()
    (flush,) = paced.flushes.take()
    windows.close(flush.feed, flush.start)  # a copy that then died without posting

    with pytest.raises(TransientError, match="being flushed by another copy"):
        paced.flusher.flush(flush)
    clock[0] += FLUSH_LEASE_SECONDS + 1
    paced.flusher.flush(flush)

    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


class Queue:
    """The SliceQueue port: keeps the slices it is sent."""

    def __init__(self) -> None:
        self.sent: list[FanoutSlice] = []

    def send(self, bodies: Sequence[str], groups: Sequence[str]) -> set[int]:
        self.sent += [FanoutSlice.model_validate_json(b) for b in bodies]
        return set()


class NearlyOutOfTime:
    """The Lambda context of an invocation with less time left than the edge's DEADLINE_MARGIN_SECONDS."""

    def get_remaining_time_in_millis(self) -> int:
        return 1_000


def test_a_flush_posted_by_the_fanout_function_hands_on_the_rest_at_its_deadline(paced: Paced, store: Store) -> None:
    # Given a window flushed by the FanoutFunction itself, its invocation already at its deadline
    connections = paced.subscribed(3)
    paced.write(2)
    paced.process_stream()
    (flush,) = paced.flushes.take()
    rest = Queue()
    paced.flusher.rest = rest
    # a room under the tier's threshold, posted here; its rest cut in the tier's slices of 1
    paced.flusher.second_tier = SecondTier(rest, threshold=10, slice_size=1, max_bytes=256 * 1024)
    edge = SliceBatch(paced.poster, store.connections, 4, paced.flusher, rest)
    message = SQSRecord({"messageId": "m1", "body": flush.model_dump_json(by_alias=True), "attributes": {}})

    result = edge.handle_record(message, NearlyOutOfTime())  # type: ignore[arg-type]

    # Then one connection got it, the others went back on the fan-out queue in the tier's slices, not
    # posted here
    assert (result.delivered, len(result.late), [len(p.targets) for p in rest.sent]) == (3, 2, [1, 1])
    assert sorted(t.connection_id for p in rest.sent for t in p.targets) == sorted(result.late)
    # and the slices, delivered, complete the window: everybody once, nobody twice
    for piece in list(rest.sent):
        deliver_slice(piece, paced.poster, store.connections, 4, rest=rest)
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["c0", "c1"]]


def test_a_flusher_whose_lease_was_taken_over_releases_nothing(paced: Paced, windows: MemoryWindows) -> None:
    clock = [time.time()]
    windows.clock = lambda: clock[0]
    paced.subscribed(3)
    paced.write(2)
    paced.process_stream()
    (flush,) = paced.flushes.take()
    slow = windows.close(flush.feed, flush.start)  # a flusher that outlives its lease
    clock[0] += FLUSH_LEASE_SECONDS + 1
    taker = windows.close(flush.feed, flush.start)
    assert slow is not None and taker is not None and not taker.leased

    windows.release(flush.feed, flush.start, slow.holder)  # the slow one reached nobody, late

    # Then the taker's lease stands: a third copy posts nothing meanwhile
    with pytest.raises(TransientError, match="being flushed by another copy"):
        paced.flusher.flush(flush)
