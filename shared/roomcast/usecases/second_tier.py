"""The second fan-out tier: a big room's subscribers in slices, each posted by a FanoutFunction invocation.

The StreamFunction stays the stream's one reader and builds each room's frames once; above the
threshold it hands the room's subscribers over in slices (all of the batch's frames, in order, to each
slice), which are posted in parallel. Small rooms keep the single hop. A slice that reached nobody is
retried alone; a slice that reached some of its connections is never posted again, so nobody gets a
frame twice (the unreached are counted, as in the single hop).

Slices go out in message groups of stable buckets of the room's connections (wire/slices.py), so on the
FIFO fan-out queue a connection's slices of consecutive batches are posted in order, a retried one
holding back the later ones of its group. A room whose frames went to the queue stays on the tier, whatever
its size, until those slices are surely posted (domain/tier_hold.py), and keeps its bucket count meanwhile.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from roomcast.domain.chat import Subscription, room_feed, split_feed
from roomcast.domain.errors import TransientError
from roomcast.domain.tier_hold import TierHold, buckets_while_held, held, renewed
from roomcast.usecases.fanout import FanoutResult, fan_out, live_subscriptions
from roomcast.usecases.ports import Connections, Poster
from roomcast.wire.slices import FanoutSlice, bucket_count, bucket_runs, cut_slices, group_of, rest_of

logger = Logger(child=True)
metrics = Metrics()


class Unread:
    """A hold not read yet (``SecondTier.hand_off`` reads it then)."""


UNREAD = Unread()


@cache
def _hold_reader() -> ThreadPoolExecutor:
    """One small pool per process, built on first use (no thread at import time), kept by a warm Lambda."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="tier-hold")


def read_alongside[T](tier: SecondTier | None, feed: str, read: Callable[[], T]) -> tuple[T, TierHold | None]:
    """``read()`` (the room's subscriptions) and the room's hold, read at the same time: the hold's GetItem
    runs beside the subscription Queries, so it adds a request but no wait, small rooms included. Raises
    TransientError when either fails, before anything of the room is posted."""
    if tier is None or tier.holds is None:
        return read(), None
    hold = _hold_reader().submit(tier.hold_of, feed)
    return read(), hold.result()


class SliceQueue(Protocol):
    """Where slices go (the fan-out queue): each body is sent once, in the message group of the same index;
    returns the indexes it could not send."""

    def send(self, bodies: Sequence[str], groups: Sequence[str]) -> set[int]: ...


class TierHolds(Protocol):
    """Each room incarnation's hold on the tier (domain/tier_hold.py): read by the batches with frames for
    the room, written when its frames go to the queue and the stored hold would lapse soon."""

    def read(self, feed: str) -> TierHold | None: ...

    def write(self, feed: str, hold: TierHold) -> None: ...

    def extend(self, feed: str, until: int) -> None:
        """The stored hold lasts until ``until`` at least, its bucket count kept (1 when none is stored)."""
        ...


@dataclass(frozen=True)
class HoldRenewal:
    """The FanoutFunction's side of the hold: a slice not done when received (retried, or its rest handed on)
    may hold back the later slices of its message group, which are received only once it is posted or
    dead-lettered; the hold, timed from the send, is renewed from then so that it outlasts them too."""

    holds: TierHolds
    seconds: int  # as the StreamFunction's hold_seconds

    def renew(self, piece: FanoutSlice, now: float) -> None:
        """Best effort: a renewal that fails is counted; the slice is retried or handed on all the same."""
        feed = room_feed(piece.room_id, piece.incarnation)
        try:
            self.holds.extend(feed, int(now) + self.seconds)
        except TransientError as error:
            metrics.add_metric(name="TierHoldsUnrenewed", unit=MetricUnit.Count, value=1)
            logger.warning("tier hold not renewed", extra={"feed": feed, "detail": str(error)})


@dataclass(frozen=True)
class SecondTier:
    queue: SliceQueue
    threshold: int  # rooms with more live subscribers than this are sliced
    slice_size: int  # subscribers per slice at most
    max_bytes: int  # one slice's message at most (SQS: 256 KiB)
    holds: TierHolds | None = None  # without them, the tier is chosen by each batch's live count alone
    hold_seconds: int = 0  # how long a slice may stay unposted after it is sent (domain/tier_hold.py)

    def hand_off(
        self,
        feed: str,
        frames: Sequence[bytes],
        subscriptions: Sequence[Subscription],
        now: float,
        batch: str | None = None,
        hold: TierHold | Unread | None = UNREAD,
    ) -> FanoutResult | None:
        """The room's frames to its live subscribers through the fan-out queue; None when the room is small
        enough for the single hop and not held on the tier, or its frames too big for a message (the caller
        posts them itself). ``hold`` is the room's as read by the caller; unread, it is read here (one GetItem).
        Raises TransientError, having sent nothing, when the hold can be neither read nor written: a retry
        then cuts the room as this attempt would have, so nothing is sent twice nor moves to another group.

        In the result, ``delivered`` counts connections handed over, ``failed`` those of slices not sent.
        ``batch`` names where the frames come from (wire/slices.py): the same on a retry, another otherwise;
        without one, a name of its own, so the slices are never taken for another batch's (only deduplicated
        within this send)."""
        live = live_subscriptions(subscriptions, now)
        if not frames or not live:
            return None
        if isinstance(hold, Unread):
            hold = self.hold_of(feed)
        if len(live) <= self.threshold:
            if not held(hold, now):
                return None
            # Its earlier frames may still be queued: posted now, these would overtake them.
            metrics.add_metric(name="RoomsHeldOnTier", unit=MetricUnit.Count, value=1)
        return self.send(feed, frames, live, self.queue, batch, hold=hold, now=now)

    def hold_of(self, feed: str) -> TierHold | None:
        """The room's stored hold (None without holds). Raises TransientError when it cannot be read: guessed,
        the room could be cut into other buckets than its queued slices, or its retry sent twice."""
        if self.holds is None:
            return None
        try:
            return self.holds.read(feed)
        except TransientError:
            metrics.add_metric(name="TierHoldsUnread", unit=MetricUnit.Count, value=1)
            raise

    def _keep(self, feed: str, hold: TierHold | None, now: float, buckets: int) -> None:
        """Writes the room's hold before its slices are sent, when the stored one would lapse soon or has fewer
        buckets. Raises TransientError when it cannot: slices nothing holds the room behind would let its
        next batch overtake them."""
        fresh = renewed(hold, now, self.hold_seconds, buckets) if self.holds is not None else None
        if fresh is None or self.holds is None:
            return
        try:
            self.holds.write(feed, fresh)
        except TransientError:
            metrics.add_metric(name="TierHoldsUnwritten", unit=MetricUnit.Count, value=1)
            raise

    def send(
        self,
        feed: str,
        frames: Sequence[bytes],
        live: Sequence[Subscription],
        queue: SliceQueue,
        batch: str | None = None,
        hold: TierHold | None = None,
        now: float | None = None,
        room_size: int | None = None,
    ) -> FanoutResult | None:
        """The frames to these subscribers in slices of this tier's size and bytes, sent to ``queue``; None
        when the frames are too big for a slice. The bucket count is the room's (``room_size`` live
        subscribers, these by default), never fewer than its ``hold``'s; the hold is renewed before sending
        (TransientError, nothing sent, when it cannot be)."""
        room_id, incarnation = split_feed(feed)
        now = time.time() if now is None else now
        needed = bucket_count(len(live) if room_size is None else room_size, self.slice_size)
        buckets = buckets_while_held(hold, needed, now)
        runs = bucket_runs(room_id, incarnation, live, self.slice_size, buckets)
        # Unnamed, a dropped duplicate would be silent loss; a retry sent twice is only a duplicate post.
        name = batch or f"once:{uuid.uuid4().hex}"
        slices = cut_slices(room_id, incarnation, frames, runs, self.slice_size, self.max_bytes, name)
        if slices is None:
            logger.warning("frames too big for a slice; posted in one hop", extra={"feed": feed})
            metrics.add_metric(name="SlicesTooBig", unit=MetricUnit.Count, value=1)
            return None
        self._keep(feed, hold, now, buckets)
        unsent = queue.send([body for body, _, _ in slices], [str(runs[run][0]) for _, run, _ in slices])
        result = FanoutResult()
        for n, (_, _, group) in enumerate(slices):
            if n in unsent:
                result.failed += [s.connection_id for s in group]
            else:
                result.delivered += len(group)
        metrics.add_metric(name="SlicesSent", unit=MetricUnit.Count, value=len(slices) - len(unsent))
        logger.info(
            "room handed to the second tier",
            extra={"feed": feed, "slices": len(slices), "unsent": len(unsent), "subscribers": len(live)},
        )
        return result


def hand_off_or_post(
    tier: SecondTier | None,
    feed: str,
    frames: Sequence[bytes],
    subscriptions: Sequence[Subscription],
    poster: Poster,
    connections: Connections,
    max_workers: int,
    deadline: float | None = None,
    rest: SliceQueue | None = None,
    batch: str | None = None,
    hold: TierHold | Unread | None = UNREAD,
) -> FanoutResult:
    """A big room's subscribers in slices to the second tier (posted in parallel there); the others here,
    until ``deadline`` (``time.monotonic()``): those still unposted then go to ``rest`` in slices cut as
    the tier's (its slice size and message bytes); without a tier, or when no slice can carry the frames,
    they count as failed. ``batch`` names the frames' origin (``SecondTier.hand_off``); ``hold`` the room's
    hold as the caller read it (``read_alongside``), else it is read here."""
    if isinstance(hold, Unread):
        # Read once, before any post: a hold that cannot be read fails the room before anything went out.
        live = bool(frames) and bool(live_subscriptions(subscriptions, time.time()))
        hold = tier.hold_of(feed) if tier is not None and live else None
    if tier is not None:
        handed = tier.hand_off(feed, frames, subscriptions, time.time(), batch, hold)
        if handed is not None:
            return handed
    result = fan_out(frames, subscriptions, poster, connections, max_workers, deadline=deadline)
    if result.late:
        late = set(result.late)
        rest_of = [s for s in subscriptions if s.connection_id in late]
        # Cut as the room's next batches will be, so the rest's connections keep their groups.
        room = len(live_subscriptions(subscriptions, time.time()))
        handed = None
        if tier is not None and rest is not None:
            try:
                handed = tier.send(feed, frames, rest_of, rest, batch, hold, room_size=room)
            except TransientError:
                # Its hold unwritten, the rest is not sent: it would go out ahead of nothing that holds the room.
                logger.warning("tier hold unwritten; the rest counted as failed", extra={"feed": feed})
        if handed is None:
            result.failed += [s.connection_id for s in rest_of]
        else:
            result.delivered += handed.delivered
            result.failed += handed.failed
            metrics.add_metric(name="SlicesHandedOn", unit=MetricUnit.Count, value=1)
    return result


def deliver_slice(
    piece: FanoutSlice,
    poster: Poster,
    connections: Connections,
    max_workers: int,
    now: float | None = None,
    deadline: float | None = None,
    rest: SliceQueue | None = None,
    renewal: HoldRenewal | None = None,
) -> FanoutResult:
    """Every frame of the slice, in order, to each of its connections. Raises TransientError when nobody
    was reached (the API throttles us or is down): only then is the slice retried, duplicating nothing.

    Connections still untouched at ``deadline`` go back on the fan-out queue as a slice of their own
    (``rest``), so neither a function timeout nor a slow API makes anyone's frames arrive twice. Either
    way the room's hold is renewed first (``renewal``: 1 WCU), as the slice is not done."""
    result = fan_out(piece.encoded_frames(), piece.subscriptions(), poster, connections, max_workers, now, deadline)
    metrics.add_metric(name="FramesPosted", unit=MetricUnit.Count, value=result.posts)
    metrics.add_metric(name="ConnectionsGone", unit=MetricUnit.Count, value=len(result.gone))
    metrics.add_metric(name="PostsRefused", unit=MetricUnit.Count, value=len(result.refused))
    if renewal is not None and (result.late or (result.failed and not result.delivered)):
        renewal.renew(piece, time.time() if now is None else now)
    if result.late:
        _hand_on(piece, result, rest)
    if result.failed and not result.delivered:
        raise TransientError(f"slice {piece.part}/{piece.parts} of room {piece.room_id} reached nobody; retried")
    if result.failed:
        metrics.add_metric(name="ConnectionsUnreached", unit=MetricUnit.Count, value=len(result.failed))
        logger.warning(
            "connections unreached after retries; the slice is not retried",
            extra={"roomId": piece.room_id, "part": piece.part, "unreached": len(result.failed)},
        )
    return result


def _hand_on(piece: FanoutSlice, result: FanoutResult, rest: SliceQueue | None) -> None:
    """The late connections as a new slice; if it cannot be sent they count as failed (unreached, or the
    whole slice retried when nobody was reached: none of them had a frame)."""
    late = set(result.late)
    remainder = rest_of(piece, late)
    # Its own group: the rest goes behind the group's slices already queued (a slice sent before
    # message groups existed has none, and takes its room's first bucket).
    group = piece.group or group_of(piece.room_id, piece.incarnation, 0)
    if rest is not None and not rest.send([remainder.model_dump_json(by_alias=True)], [group]):
        result.delivered += len(late)
        metrics.add_metric(name="SlicesHandedOn", unit=MetricUnit.Count, value=1)
        logger.info(
            "deadline near: the slice's rest handed on",
            extra={"roomId": piece.room_id, "part": piece.part, "connections": len(late)},
        )
        return
    result.failed += result.late
