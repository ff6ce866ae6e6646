"""The frame windows' ports in memory (usecases/pacing.py): the rule tests' DynamoWindows and fan-out queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from roomcast.adapters.dynamodb.window_orphans import ORPHAN_MARKERS_PER_SCAN, SETTLED_SECONDS
from roomcast.adapters.dynamodb.windows import OPEN_WINDOW_HORIZON_SECONDS, ORPHAN_SCAN_HEADS, sized_batch, unposted
from roomcast.domain.chat import CommentView
from roomcast.domain.errors import TransientError
from roomcast.domain.events import CommentDeleted
from roomcast.domain.frame_window import WINDOW_MAX_BYTES
from roomcast.usecases.pacing import FLUSH_LEASE_SECONDS, Appended, ClosedWindow, merged
from roomcast.wire.flush import WindowFlush


@dataclass
class _Window:
    batches: dict[str, list[CommentView]] = field(default_factory=dict)
    deletions: dict[str, list[CommentDeleted]] = field(default_factory=dict)
    size: int = 0
    closed: bool = False
    sealed: bool = False  # it refused a batch: it takes no later one
    handed: bool = False
    expires_at: int = 0
    scheduled: bool = False
    sent: bool = False
    lease_until: float = 0.0
    holder: str = ""
    seconds: int = 0

    def content(self, already_closed: bool = False) -> ClosedWindow:
        comments = [c for batch in self.batches.values() for c in batch]
        deletions = [d for batch in self.deletions.values() for d in batch]
        return ClosedWindow(comments, already_closed=already_closed, handed=self.handed, deletions=deletions)


def _batch_name(comments: Sequence[CommentView], deletions: Sequence[CommentDeleted]) -> str:
    return ",".join([c.comment_id for c in comments] + [f"-{d.comment_id}" for d in deletions])


class MemoryWindows:
    """As DynamoWindows: one entry per batch (a retried batch writes the same one), a marker per batch telling
    its retries where it is held, the first writer told by a claim, closed atomically under a lease."""

    def __init__(self, max_bytes: int = WINDOW_MAX_BYTES, clock: Callable[[], float] = time.time) -> None:
        self.items: dict[tuple[str, int], _Window] = {}
        self.markers: dict[tuple[str, str], int] = {}  # (feed, batch) -> the start of the window holding it
        self.tombstones: list[tuple[str, int, str]] = []  # (feed, when recorded, comment id)
        self.unposted: set[tuple[str, int]] = set()  # (feed, start) of windows the StreamFunction closed
        self.resent: dict[tuple[str, int], int] = {}  # (feed, start) -> when a scan last resent the marked window
        self.max_bytes = max_bytes
        self.clock = clock
        self._leases = 0
        self._lock = threading.Lock()

    def append(
        self,
        feed: str,
        start: int,
        comments: Sequence[CommentView],
        expires_at: int,
        deletions: Sequence[CommentDeleted] = (),
        seconds: int = 0,
    ) -> Appended:
        _, size = sized_batch(comments, deletions)  # counted as DynamoWindows counts it
        name = _batch_name(comments, deletions)
        with self._lock:
            if (feed, name) in self.markers:  # a retried batch, wherever its earlier attempt put it
                return Appended.HELD
            if size > self.max_bytes:  # refused before the window is looked at, as DynamoWindows: nothing sealed
                return Appended.REFUSED
            window = self.items.get((feed, start))
            if window is not None and (window.closed or window.sealed or window.size + size > self.max_bytes):
                window.sealed = True
                return Appended.REFUSED
            window = self.items.setdefault((feed, start), _Window())
            window.batches[name] = list(comments)
            window.deletions[name] = list(deletions)
            self.markers[(feed, name)] = start
            window.size += size
            window.expires_at, window.seconds = expires_at, seconds
            # First, or taking over a claim whose flush was never sent (its writer died before the send).
            first, window.scheduled = not window.scheduled or _unsent(window), True
            return Appended.FIRST if first else Appended.JOINED

    def close(self, feed: str, start: int) -> ClosedWindow | None:
        with self._lock:
            window = self.items.get((feed, start))
            if window is None:
                return None
            now = self.clock()
            if window.closed and not window.handed and window.lease_until > now:
                return ClosedWindow([], already_closed=True, leased=True)
            already, window.closed = window.closed, True
            if window.handed:
                return ClosedWindow([], already_closed=already, handed=True)
            self._leases += 1
            window.lease_until, window.holder = now + FLUSH_LEASE_SECONDS, f"lease-{self._leases}"
            return replace(window.content(already_closed=already), holder=window.holder)

    def release(self, feed: str, start: int, holder: str) -> None:
        with self._lock:
            window = self.items[(feed, start)]
            if window.holder == holder:
                window.lease_until = 0.0

    def unsent(
        self, feed: str, comments: Sequence[CommentView], deletions: Sequence[CommentDeleted] = ()
    ) -> tuple[int, int] | None:
        with self._lock:
            start = self.markers.get((feed, _batch_name(comments, deletions)))
            window = self.items.get((feed, start)) if start is not None else None
            if start is None or window is None or window.sent or window.handed:
                return None
            window.scheduled = True
            return start, window.seconds

    def orphans(self, feed: str, before: int) -> list[tuple[int, int]]:
        """As DynamoWindows: the ``ORPHAN_MARKERS_PER_SCAN`` oldest marked windows not resent within
        ``SETTLED_SECONDS``, however old (a marker handed over, with no window, or past its TTL, is dropped; one
        sent and not handed over is kept and tried again ``SETTLED_SECONDS`` later), then the
        ``ORPHAN_SCAN_HEADS`` newest windows before ``before`` not marked."""
        with self._lock:
            now = self.clock()
            marked = sorted(s for f, s in self.unposted if f == feed and s < before)
            due = [s for s in marked if self.resent.get((feed, s), 0) <= now - SETTLED_SECONDS]
            found: list[tuple[int, int]] = []
            for start in due[: 2 * ORPHAN_MARKERS_PER_SCAN]:
                if len(found) == ORPHAN_MARKERS_PER_SCAN:
                    break
                window = self.items.get((feed, start))
                if window is None or window.handed or window.expires_at <= now:
                    self.unposted.discard((feed, start))
                elif _orphaned(window, now):
                    found.append((start, window.seconds))
                    self.resent[(feed, start)] = int(now)
                elif window.sent:  # its flush may still be queued: kept, tried again SETTLED_SECONDS later
                    self.resent[(feed, start)] = int(now)
            newest = sorted((s for f, s in self.items if f == feed and s < before), reverse=True)[:ORPHAN_SCAN_HEADS]
            dead = [s for s in newest if s not in marked and _orphaned(self.items[(feed, s)], now)]
            return found + [(s, self.items[(feed, s)].seconds) for s in dead]

    def mark_unposted(self, feed: str, start: int, expires_at: int) -> None:
        with self._lock:
            self.unposted.add((feed, start))

    def unmark(self, feed: str, start: int) -> None:
        with self._lock:
            self.unposted.discard((feed, start))

    def mark_sent(self, feed: str, start: int) -> None:
        with self._lock:
            window = self.items[(feed, start)]
            window.sent = True

    def mark_handed(self, feed: str, start: int) -> None:
        with self._lock:
            self.items[(feed, start)].handed = True

    def open_seconds(self, feed: str) -> int | None:
        with self._lock:
            starts = [s for f, s in self.items if f == feed]
            latest = self.items[(feed, max(starts))] if starts else None
            if latest is None or latest.expires_at <= self.clock():
                return None
            return 0 if latest.handed else latest.seconds

    def bury(self, feed: str, deletions: Sequence[CommentDeleted], at: int, expires_at: int) -> None:
        with self._lock:
            self.tombstones += [(feed, at, d.comment_id) for d in deletions]

    def buried(self, feed: str, since: int) -> frozenset[str]:
        with self._lock:
            return frozenset(c for f, at, c in self.tombstones if f == feed and at >= since)

    def held(self, feed: str) -> ClosedWindow:
        """As DynamoWindows: the newest heads back to a settled run, within the horizon, then every marked
        window not handed over, however old."""
        with self._lock:
            since = int(self.clock()) - OPEN_WINDOW_HORIZON_SECONDS  # as DynamoWindows: older heads are not read
            items = sorted(self.items.items(), reverse=True)
            heads = [(s, w.handed) for (f, s), w in items if f == feed and s >= since]
            starts = unposted(heads, self.clock())
            marked = sorted((s for f, s in self.unposted if f == feed and (f, s) in self.items), reverse=True)
            live = [s for s in marked if self.items[(feed, s)].expires_at > self.clock()]
            starts += [s for s in live if s not in starts and not self.items[(feed, s)].handed]
            slots = [(start, self.items[(feed, start)].seconds) for start in starts]
            return merged([self.items[(feed, start)].content() for start in starts], slots)


def _unsent(window: _Window) -> bool:
    return window.scheduled and not (window.sent or window.closed or window.handed)


def _orphaned(window: _Window, now: float) -> bool:
    """Its flush never sent nor the window handed over, and not closed, or closed under a lease now over."""
    lease_over = not window.closed or window.lease_until <= now
    return window.scheduled and not (window.sent or window.handed) and lease_over and window.expires_at > now


class MemoryFlushQueue:
    """The fan-out queue's delayed flush messages; ``failing`` refuses every send."""

    def __init__(self) -> None:
        self.sent: list[tuple[WindowFlush, int]] = []
        self.failing = False

    def send_delayed(self, body: str, delay_seconds: int) -> None:
        if self.failing:
            raise TransientError("flush message not sent: SQS unavailable")
        self.sent.append((WindowFlush.model_validate_json(body), delay_seconds))

    def take(self) -> list[WindowFlush]:
        """Every flush sent so far, as if their delays had run out; the queue is then empty."""
        taken, self.sent = [flush for flush, _ in self.sent], []
        return taken
