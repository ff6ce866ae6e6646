"""The live path: one stream batch's changes in, frames out, deleted rooms cleaned up.

Comments and presence are grouped by room: each live connection of a room gets the
batch's frames for that room in table order (comments merged into as few frames as
fit 32 KB), so M comments to C connections make C posts, not C x M.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from roomcast.domain.chat import CommentView, Subscription, split_feed
from roomcast.domain.errors import TransientError
from roomcast.domain.events import (
    ChatRoomDeleted,
    CleanupScheduled,
    CommentAdded,
    CommentDeleted,
    MemberJoined,
    MemberLeft,
    UserBanned,
)
from roomcast.domain.tier_hold import TierHold
from roomcast.usecases.cleanup import clean_up_room
from roomcast.usecases.cutoff import Exit, deliver_exits
from roomcast.usecases.fanout import FanoutResult
from roomcast.usecases.moderation_live import ban_exit, deleted_frame
from roomcast.usecases.pacing import Pacer, window_frames
from roomcast.usecases.ports import Poster, Store
from roomcast.usecases.second_tier import SecondTier, hand_off_or_post, read_alongside
from roomcast.wire.frames import comment_frames, encode_frame

logger = Logger(child=True)
metrics = Metrics()

LiveEvent = CommentAdded | MemberJoined | MemberLeft | CommentDeleted | UserBanned
StreamEvent = LiveEvent | ChatRoomDeleted | CleanupScheduled


@dataclass(frozen=True)
class Change:
    """One stream record as the live path sees it: its event (None when the record means nothing here)
    and the feed (one incarnation of a room) it belongs to."""

    sequence: str
    feed: str = ""
    event: StreamEvent | None = None


@dataclass
class DeliveryReport:
    feeds: int = 0
    frames: int = 0
    posts: int = 0
    gone: int = 0
    refused: int = 0  # posts API Gateway refused (403/400/413): counted and alarmed, never retried
    unreached: int = 0  # connections still failing after retries while others of their room got the frames
    failed_sequences: set[str] = field(default_factory=set)


class LiveProcessor:
    def __init__(
        self,
        store: Store,
        poster: Poster,
        frame_limit: int,
        max_workers: int,
        out_of_time: Callable[[], bool],
        second_tier: SecondTier | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.store = store
        self.poster = poster
        self.frame_limit = frame_limit
        self.max_workers = max_workers
        self.out_of_time = out_of_time
        self.second_tier = second_tier
        self.pacer = pacer

    def deliver(self, changes: Iterable[Change]) -> DeliveryReport:
        """Comments and presence of the batch, room by room. A room's records fail only when a retry can
        help and duplicates nothing: its subscriptions could not be read, or no subscriber was reached.
        Connections that alone still fail (throttled for good, refused) are counted, never retried, so
        that the room's other subscribers never get the batch twice, and other rooms are never held up."""
        by_feed: dict[str, list[Change]] = defaultdict(list)
        deleted: set[str] = set()
        for change in changes:
            # After its room's delete a feed has nothing to deliver: a comment committed after the delete
            # (its author's join item still of this incarnation) is swept by the cleanup, unseen, and the
            # cleanup's own join deletes would be memberLeft frames for a room that is gone.
            if isinstance(change.event, ChatRoomDeleted):
                deleted.add(change.feed)
            elif isinstance(change.event, LiveEvent) and change.feed not in deleted:
                by_feed[change.feed].append(change)
        report = DeliveryReport(feeds=len(by_feed))
        for feed, feed_changes in by_feed.items():
            try:
                self._deliver_room(feed, feed_changes, report)
            except TransientError as error:
                logger.warning(
                    "room not delivered; its records are retried", extra={"feed": feed, "detail": str(error)}
                )
                report.failed_sequences.update(c.sequence for c in feed_changes)
        metrics.add_metric(name="FramesPosted", unit=MetricUnit.Count, value=report.posts)
        metrics.add_metric(name="ConnectionsGone", unit=MetricUnit.Count, value=report.gone)
        metrics.add_metric(name="PostsRefused", unit=MetricUnit.Count, value=report.refused)
        metrics.add_metric(name="ConnectionsUnreached", unit=MetricUnit.Count, value=report.unreached)
        return report

    def _deliver_room(self, feed: str, feed_changes: list[Change], report: DeliveryReport) -> None:
        # Strongly consistent: a subscription committed just before its user's leave (or a comment's
        # commit) is in this read, so the leave removes it and nobody subscribed misses the frames.
        # The room's hold on the second tier read beside them: a failure fails the room before any post.
        # A leave or ban reads every shard again: a subscribe committed before it, whose head is not put
        # yet, must be in the read to be cut, where a comment may miss a subscribe that has not answered.
        fresh = any(isinstance(c.event, MemberLeft | UserBanned) for c in feed_changes)
        subscriptions, hold = read_alongside(
            self.second_tier,
            feed,
            lambda: self.store.connections.all_subscribers(feed, consistent=True, fresh=fresh),
        )
        pacer = self.pacer
        seconds = pacer.window_for(subscriptions) if pacer is not None else None
        deleted = [c.event for c in feed_changes if isinstance(c.event, CommentDeleted)]
        if pacer is not None and seconds is None and deleted:
            seconds = pacer.still_held(feed, deleted)  # the room dropped to the threshold: a window may hold it
        exits = self._exits(feed, feed_changes)
        if pacer is not None and exits:
            # Whatever the room's size now: windows opened while it was bigger may still hold comments.
            exits = pacer.with_held(feed, exits, self.frame_limit)
        # Banned users and leavers get their frames up to their exit, and then nothing more of this room.
        cut = deliver_exits(exits, subscriptions, self.poster, self.store.connections, self.max_workers)
        if fresh:
            # Every warm reader reads the room again, even when a retry of this batch found nothing left to
            # remove: the first try's deletes may have landed without their heads.
            self.store.connections.renew_heads(feed)
        if pacer is None or seconds is None:
            frames = self._frames(feed, feed_changes)
        else:
            frames = self._paced(pacer, feed, feed_changes, seconds)
        # The batch's records of the room, by their sequence numbers: the same on a retry of the batch.
        batch = f"stream:{feed_changes[0].sequence}-{feed_changes[-1].sequence}"
        result = self._fan_out(feed, frames, cut.remaining, batch, hold)
        if pacer is not None and seconds is not None:
            pacer.settle(feed, result)  # a window closed here because its flush could not be sent
        result.add(cut.result)
        report.posts += result.posts
        report.gone += len(result.gone)
        report.refused += len(result.refused)
        report.frames += len(frames)
        if result.failed and not result.delivered:
            # Nobody has the frames yet (the API throttles all of us, or is down): a retry duplicates nothing.
            report.failed_sequences.update(c.sequence for c in feed_changes)
        elif result.failed:
            report.unreached += len(result.failed)
            logger.warning(
                "connections unreached after retries; the room's records are not retried",
                extra={"feed": feed, "unreached": len(result.failed), "reached": result.delivered},
            )

    def _exits(self, feed: str, feed_changes: list[Change]) -> list[Exit]:
        """Bans first (their ``banned`` frame ends the feed), then leavers who did not join again, each with
        the batch's frames up to and including their own ``memberLeft``."""
        exits = [
            ban_exit(c.event, self._frames(feed, feed_changes[:i]))
            for i, c in enumerate(feed_changes)
            if isinstance(c.event, UserBanned)
        ]
        leaves = [(i, c.event.user_id) for i, c in enumerate(feed_changes) if isinstance(c.event, MemberLeft)]
        if leaves:
            again = self._members_again(feed, {user for _, user in leaves})
            exits += [Exit(user, self._frames(feed, feed_changes[: i + 1])) for i, user in leaves if user not in again]
        return exits

    def _fan_out(
        self, feed: str, frames: list[bytes], subscriptions: list[Subscription], batch: str, hold: TierHold | None
    ) -> FanoutResult:
        """A big room's subscribers in slices to the second tier (posted in parallel there); the others here."""
        return hand_off_or_post(
            self.second_tier,
            feed,
            frames,
            subscriptions,
            self.poster,
            self.store.connections,
            self.max_workers,
            batch=batch,
            hold=hold,
        )

    def _paced(self, pacer: Pacer, feed: str, feed_changes: list[Change], seconds: int) -> list[bytes]:
        """A paced room's comments and deletions go to its open window (posted at the window's end,
        usecases/pacing.py), so that a comment deleted while held never goes out with its text and a
        deletion never overtakes its comment; presence frames go out now."""
        comments = [c.event.comment for c in feed_changes if isinstance(c.event, CommentAdded)]
        deletions = [c.event for c in feed_changes if isinstance(c.event, CommentDeleted)]
        if not comments and not deletions:
            return self._frames(feed, feed_changes)
        now = pacer.hold(feed, comments, seconds, deletions)
        others = [c for c in feed_changes if not isinstance(c.event, CommentAdded | CommentDeleted)]
        return window_frames(split_feed(feed)[0], now, self.frame_limit) + self._frames(feed, others)

    def _members_again(self, feed: str, leavers: set[str]) -> set[str]:
        """Leavers who joined this incarnation again (and may have subscribed again) before their leave's
        record arrived: their subscriptions are a current member's, and stay. One strongly consistent
        read for all of the batch's leavers in the room."""
        room_id, incarnation = split_feed(feed)
        return self.store.rooms.members_among(room_id, incarnation, leavers)

    def _frames(self, feed: str, changes: list[Change]) -> list[bytes]:
        """Runs of comments become comment frames; presence frames keep their place between them."""
        room_id, _ = split_feed(feed)
        frames: list[bytes] = []
        run: list[CommentView] = []
        for change in changes:
            if isinstance(change.event, CommentAdded):
                run.append(change.event.comment)
            elif isinstance(change.event, MemberJoined | MemberLeft | CommentDeleted):
                frames += comment_frames(room_id, run, self.frame_limit)
                run = []
                event = change.event
                frames.append(deleted_frame(event) if isinstance(event, CommentDeleted) else encode_frame(event))
        return frames + comment_frames(room_id, run, self.frame_limit)

    def handle(self, change: Change, failed_sequences: set[str]) -> None:
        """Per record, after delivery: raising fails the record, so Lambda retries from it."""
        if change.sequence in failed_sequences:
            raise TransientError(f"delivery to room feed {change.feed} failed; the batch will be retried")
        if isinstance(change.event, ChatRoomDeleted | CleanupScheduled):
            clean_up_room(self.store, self.poster, change.feed, self.out_of_time, self.max_workers)
