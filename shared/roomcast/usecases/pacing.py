"""A paced room's comments held in a per-room window and posted once per window (docs/capacity.md).

For a room above the pacing threshold the StreamFunction appends each batch's comments (and deletions) to
the room's open window instead of posting them; the first writer of a window sends one flush message,
delayed to the window's end, on the flush queue (standard; FLUSH_QUEUE_URL). The FanoutFunction then
closes the window, builds the frames once from all of its comments in position order (those deleted in it
left out, then the deletions) and posts them (or hands them to the second tier, on the fan-out queue).
Small rooms keep the single hop, untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from roomcast.domain.chat import CommentView, Subscription, split_feed
from roomcast.domain.errors import TransientError
from roomcast.domain.events import CommentDeleted
from roomcast.domain.frame_window import MAX_WINDOW_SECONDS, FrameBudget, flush_delay, window_start
from roomcast.usecases.cutoff import Exit
from roomcast.usecases.fanout import FanoutResult, live_subscriptions
from roomcast.usecases.moderation_live import deleted_frame
from roomcast.usecases.ports import Connections, Poster
from roomcast.usecases.second_tier import SecondTier, SliceQueue, hand_off_or_post
from roomcast.usecases.window_ports import Appended as Appended  # re-exported: they lived here
from roomcast.usecases.window_ports import ClosedWindow as ClosedWindow
from roomcast.usecases.window_ports import FlushQueue as FlushQueue
from roomcast.usecases.window_ports import Windows as Windows
from roomcast.wire.flush import WindowFlush, flush_body
from roomcast.wire.frames import comment_frames

logger = Logger(child=True)
metrics = Metrics()

# How many windows one batch tries before posting its comments itself: the open one, then the next ones
# when it is closed (its flush ran) or full.
SPILL_WINDOWS = 4
# A window item outlives its flush message: the flush queue keeps messages an hour.
WINDOW_TTL_SECONDS = 3_600
# How long a flusher that closed a window owns it: the FanoutFunction's timeout (template.yaml, 10 s), and
# 5 s for the clocks of two hosts. A copy of the flush finding the window closed by another flusher within
# this lease posts nothing and comes back after the flush queue's visibility timeout (30 s), by when the
# window is handed over, or the lease is over and the copy takes the window over.
FLUSH_LEASE_SECONDS = 15
# A paced room's deletion is recorded (a tombstone) before it is held or posted; a window's flush reads those
# recorded since its start less SPILL_WINDOWS of its w and a lease (clocks): a deletion's record comes after
# its comment's on their shard, and that comment went to its batch's slot or up to 3 windows later. An exit
# reads held windows of up to MAX_WINDOW_SECONDS + 10 minutes ago (adapters/dynamodb/windows.py), so its
# tombstones from as far back again as 4 windows of the longest w. A tombstone outlives every such read.
EXIT_TOMBSTONE_SECONDS = (SPILL_WINDOWS + 1) * MAX_WINDOW_SECONDS + 600 + FLUSH_LEASE_SECONDS
TOMBSTONE_TTL_SECONDS = WINDOW_TTL_SECONDS + EXIT_TOMBSTONE_SECONDS


def in_order[T: CommentView | CommentDeleted](items: Sequence[T]) -> list[T]:
    """Once each (a retried stream batch may append a comment twice), in position order."""
    unique = {c.comment_id: c for c in items}
    return sorted(unique.values(), key=lambda c: (c.position, c.comment_id))


def merged(windows: Sequence[ClosedWindow], slots: Sequence[tuple[int, int]] = ()) -> ClosedWindow:
    """Several windows' comments and deletions as one (an exit's held windows; ``slots``: their start and w)."""
    return ClosedWindow(
        [c for w in windows for c in w.comments],
        deletions=[d for w in windows for d in w.deletions],
        buried=frozenset().union(*(w.buried for w in windows)),
        slots=tuple(slots),
    )


def window_frames(room_id: str, window: ClosedWindow, frame_limit: int) -> list[bytes]:
    """A window's frames: its comments but those deleted in it (their text never goes out), in position
    order, then one ``commentDeleted`` frame per deletion, after them. Deletions of the window's own
    comments are posted too: a subscriber may have read the text meanwhile (a subscribe's replay, history).
    Comments ``buried`` (deleted elsewhere) are left out, with no frame: their deletion's window posts it."""
    deletions = in_order(window.deletions)
    deleted = {d.comment_id for d in deletions} | window.buried
    kept = [c for c in in_order(window.comments) if c.comment_id not in deleted]
    return comment_frames(room_id, kept, frame_limit) + [deleted_frame(d) for d in deletions]


@dataclass(frozen=True)
class Pacer:
    """The StreamFunction's side: which rooms are paced, and their comments into the open window."""

    budget: FrameBudget
    windows: Windows
    queue: FlushQueue
    clock: Callable[[], float] = time.time  # epoch seconds: windows are slots of wall-clock time
    # The window closed here (its flush could not be sent), per feed, until ``settle``: a Pacer lives for
    # one invocation (bootstrap), which delivers each feed once.
    _taken: dict[str, tuple[int, str]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def window_for(self, subscriptions: Sequence[Subscription]) -> int | None:
        """The room's window in seconds, or None: posted every batch."""
        return self.budget.window_seconds(len(live_subscriptions(subscriptions, time.time())))

    def still_held(self, feed: str, deletions: Sequence[CommentDeleted] = ()) -> int | None:
        """For a batch with deletions in a room no longer paced: the w of its latest window when that window
        is not handed over yet, so that the deletions (and the batch's comments) wait in the room's window
        there, after the comments it holds; posted at once, a deletion would go out before its comment's
        text. One strongly consistent read (1 RCU), for such batches only. When the room has a window, all
        handed over as far as its latest tells, the deletions are recorded before they are posted at once
        (1 WCU each, in rooms paced within the windows' TTL only): an older window, its flush retried, or
        an exit's read of the held windows, then leaves their comments' text out. Such a batch also scans
        for orphans (``orphans``: 2 or 3 RCU, and a marked window's tries at most once per 105 s): no first
        writer of a new window comes in a room no longer paced, to resend a window the StreamFunction closed
        and never posted (the seventh review's P1; a room unpaced with no deletions: docs/capacity.md)."""
        seconds = self.windows.open_seconds(feed)
        if seconds == 0 and deletions:
            now = self.clock()
            self.windows.bury(feed, deletions, int(now), int(now) + TOMBSTONE_TTL_SECONDS)
            self._resend_orphans(feed, int(now) + 1, 1, now)  # 1: the w of a head written before Seconds was
        return seconds or None

    def hold(
        self, feed: str, comments: Sequence[CommentView], seconds: int, deletions: Sequence[CommentDeleted] = ()
    ) -> ClosedWindow:
        """Appends the comments and deletions to the open window; returns what the caller must post now
        instead (as a window: window_frames): nothing when they are held, themselves when no window took
        them, or the whole window when its flush message could not be sent (then the window is closed here
        and posted at once, never lost; the caller then tells ``settle`` how that went)."""
        self._taken.pop(feed, None)
        now = self.clock()
        start = window_start(now, seconds)
        if deletions:
            # Recorded first: a window read after this, whichever holds the deletions (or none, when they
            # are posted now), leaves their comments' text out (window_frames).
            self.windows.bury(feed, deletions, int(now), int(now) + TOMBSTONE_TTL_SECONDS)
        for _ in range(SPILL_WINDOWS):
            expires_at = start + seconds + WINDOW_TTL_SECONDS
            appended = self.windows.append(feed, start, comments, expires_at, deletions, seconds)
            if appended is Appended.JOINED:
                return ClosedWindow([])
            if appended is Appended.FIRST:
                posted = self._schedule(feed, start, seconds, now)
                if posted is None:  # SQS took this window's flush: not a scan per window of an outage (M2)
                    self._resend_orphans(feed, start, seconds, now)
                return posted or ClosedWindow([])
            if appended is Appended.HELD:
                return self._resume(feed, comments, deletions, seconds, now) or ClosedWindow([])
            start += seconds
        logger.warning("no window took the batch; posted now", extra={"feed": feed, "comments": len(comments)})
        metrics.add_metric(name="WindowsSkipped", unit=MetricUnit.Count, value=1)
        return ClosedWindow(list(comments), deletions=list(deletions))

    def _resume(
        self,
        feed: str,
        comments: Sequence[CommentView],
        deletions: Sequence[CommentDeleted],
        seconds: int,
        now: float,
    ) -> ClosedWindow | None:
        """A retried batch: its earlier attempt may have died (or failed) between the claim of its window's
        flush and the send, in this window's slot or an earlier one; that window's flush is sent again."""
        found = self.windows.unsent(feed, comments, deletions)
        if found is None:
            return None
        start, own = found  # its own w: the room's may have changed since (the sixth review's M1)
        logger.info("a retried batch's window had no flush sent; sending it", extra={"feed": feed, "start": start})
        metrics.add_metric(name="WindowFlushesResent", unit=MetricUnit.Count, value=1)
        return self._schedule(feed, start, own or seconds, now)

    def _schedule(self, feed: str, start: int, seconds: int, now: float) -> ClosedWindow | None:
        """None: the flush was sent; else what the caller posts now (empty when another flusher has it)."""
        try:
            self._send(feed, start, seconds, now)
        except TransientError as error:
            logger.warning("flush not scheduled; the window is posted now", extra={"feed": feed, "detail": str(error)})
            return self._take_over(feed, start, seconds) or ClosedWindow([])
        metrics.add_metric(name="WindowsOpened", unit=MetricUnit.Count, value=1)
        return None

    def _send(self, feed: str, start: int, seconds: int, now: float) -> None:
        room_id, incarnation = split_feed(feed)
        self.queue.send_delayed(flush_body(room_id, incarnation, start, seconds), flush_delay(start, seconds, now))
        _best_effort(lambda: self.windows.mark_sent(feed, start), "window not marked sent", feed, start)

    def _resend_orphans(self, feed: str, start: int, seconds: int, now: float) -> None:
        """The first writer of a window, once its own flush was sent, sends the flush of earlier ones claimed
        and never sent: their writer died before the send, and the retry of that batch, bisected by Lambda
        (other comments, so no marker), ran in a later slot; or the StreamFunction closed them itself and
        never posted them (marked: ``orphans`` gives ``ORPHAN_MARKERS_PER_SCAN`` of those at most). Best
        effort: an orphan left here is still claimed and unsent, and a later window's first writer finds it.
        Never while SQS refuses: each first writer of an outage took over every marker before its own send
        failed, quadratic writes on the room's partition (the sixth review's M2)."""
        try:
            for orphan, own in self.windows.orphans(feed, start):
                logger.info("an earlier window had no flush sent; sending it", extra={"feed": feed, "start": orphan})
                metrics.add_metric(name="WindowFlushesResent", unit=MetricUnit.Count, value=1)
                self._send(feed, orphan, own or seconds, now)  # its own w: its flush's tombstone range (M1)
        except TransientError as error:
            logger.warning("orphaned window not resent", extra={"feed": feed, "detail": str(error)})

    def _take_over(self, feed: str, start: int, seconds: int) -> ClosedWindow | None:
        """The window closed here (under a flusher's lease) to be posted by the caller; nothing when another
        flusher handed it over or holds it: that one posts it (or releases it, and a copy of its flush takes it
        over). Failing the batch instead would post its other rooms' frames again, and its retries could run
        out within the lease."""
        # Marked first, so a later window's first writer finds it however many windows come after it (orphans);
        # a death between the two leaves a marker only, and a duplicate flush message at worst.
        self.windows.mark_unposted(feed, start, start + seconds + WINDOW_TTL_SECONDS)
        closed = self.windows.close(feed, start)
        if closed is None or closed.handed or closed.leased:
            return None
        try:
            buried = self.windows.buried(feed, tombstones_since(start, seconds))
        except TransientError:
            _best_effort(lambda: self.windows.release(feed, start, closed.holder), "window not released", feed, start)
            raise
        self._taken[feed] = (start, closed.holder)
        return replace(closed, buried=buried)

    def settle(self, feed: str, result: FanoutResult) -> None:
        """After the caller posted what ``hold`` returned: a window closed here is marked handed over (its
        flush message, if SQS took it after all, then posts nothing), or released when the post reached
        nobody (the batch is retried, and sends the window's flush again)."""
        taken = self._taken.pop(feed, None)
        if taken is None:
            return
        start, holder = taken
        if result.failed and not result.delivered:
            _best_effort(lambda: self.windows.release(feed, start, holder), "window not released", feed, start)
        else:
            _best_effort(lambda: self._hand_over(feed, start), "window not marked handed over", feed, start)

    def _hand_over(self, feed: str, start: int) -> None:
        """Marked handed over, then its marker deleted (1 WCU, on this path only): an exit would read its
        head by the marker until a scan found it handed over (the seventh review's M1)."""
        self.windows.mark_handed(feed, start)
        self.windows.unmark(feed, start)

    def with_held(self, feed: str, exits: Sequence[Exit], frame_limit: int) -> list[Exit]:
        """Exits stay immediate: a leaver or banned user first gets the held windows' frames (appended by
        earlier batches, so before their exit; deleted comments left out as in a flush), then the frames
        up to their exit, then nothing. Read whatever the room's size now (it may have dropped below the
        threshold with windows still open) and for every window not handed over yet, closed or not (its
        flush may have read the subscriptions before the leave removed them, or after): a leaver may get a
        held comment twice, from here and from the flush, never miss one (clients dedupe by commentId)."""
        held = self.windows.held(feed)
        if held.comments:
            # From the oldest any held window must read, as its flush would: seconds back, not the whole range.
            oldest = int(self.clock()) - EXIT_TOMBSTONE_SECONDS
            since = min((tombstones_since(s, w or MAX_WINDOW_SECONDS) for s, w in held.slots), default=oldest)
            held = replace(held, buried=self.windows.buried(feed, since))
        frames = window_frames(split_feed(feed)[0], held, frame_limit)
        if not frames:
            return list(exits)
        return [Exit(e.user_id, frames + e.frames) for e in exits]


@dataclass
class WindowFlusher:
    """The FanoutFunction's side: a window's end, its comments posted once per connection."""

    windows: Windows
    connections: Connections
    poster: Poster
    frame_limit: int
    max_workers: int
    second_tier: SecondTier | None = None
    rest: SliceQueue | None = None  # where the connections left at the deadline go, as a slice

    def flush(self, message: WindowFlush, deadline: float | None = None) -> FanoutResult:
        """Raises TransientError when nobody was reached (the message comes back, the window closed but not
        handed over, and is posted then), or while another copy of the flush holds the window (its lease).
        A window an earlier attempt already handed over is never posted again; one closed by an attempt that
        handed nothing over is taken over by this one. Connections still unposted at ``deadline``
        (``time.monotonic()``) go to the fan-out queue as a slice."""
        feed = message.feed
        closed = self.windows.close(feed, message.start)
        if closed is None or closed.handed:
            logger.info("window already flushed", extra={"feed": feed, "start": message.start})
            return FanoutResult()
        if closed.leased:
            raise TransientError(f"window {message.start} of feed {feed} is being flushed by another copy; retried")
        comments = in_order(closed.comments)
        if comments:  # read after the close: a deletion recorded before it leaves its comment's text out
            closed = replace(closed, buried=self.windows.buried(feed, tombstones_since(message.start, message.seconds)))
        frames = window_frames(message.room_id, closed, self.frame_limit)
        # Strongly consistent, as the single hop: a subscription whose subscribe put its head before the
        # close is in it.
        subscriptions = self.connections.all_subscribers(feed, consistent=True) if frames else []
        result = hand_off_or_post(
            self.second_tier,
            feed,
            frames,
            subscriptions,
            self.poster,
            self.connections,
            self.max_workers,
            deadline=deadline,
            rest=self.rest,
            batch=f"window:{message.start}",  # the feed is the slice's own
        )
        start, holder = message.start, closed.holder
        if result.failed and not result.delivered:
            _best_effort(lambda: self.windows.release(feed, start, holder), "window not released", feed, start)
            raise TransientError(f"window {start} of feed {feed} reached nobody; retried")
        # Best effort: the frames are out; failing the message now would post them twice.
        _best_effort(lambda: self.windows.mark_handed(feed, start), "window not marked handed over", feed, start)
        # The FanoutFunction's alarms (PostsRefused for service=fanout) count a flush's posts as a slice's.
        metrics.add_metric(name="WindowsFlushed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="FramesPosted", unit=MetricUnit.Count, value=result.posts)
        metrics.add_metric(name="ConnectionsGone", unit=MetricUnit.Count, value=len(result.gone))
        metrics.add_metric(name="PostsRefused", unit=MetricUnit.Count, value=len(result.refused))
        metrics.add_metric(name="ConnectionsUnreached", unit=MetricUnit.Count, value=len(result.failed))
        logger.info("window flushed", extra={"feed": feed, "comments": len(comments), "posts": result.posts})
        return result


def tombstones_since(start: int, seconds: int) -> int:
    """The oldest tombstone the window [start, start + seconds) must read (``EXIT_TOMBSTONE_SECONDS``)."""
    return start - SPILL_WINDOWS * seconds - FLUSH_LEASE_SECONDS


def _best_effort(mark: Callable[[], None], failure: str, feed: str, start: int) -> None:
    """A mark of the window whose failure must not fail the caller: what it marks is done already."""
    try:
        mark()
    except TransientError as error:
        logger.warning(failure, extra={"feed": feed, "start": start, "detail": str(error)})
