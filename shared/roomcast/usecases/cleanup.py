"""Cleanup after a deleted room: notify its subscribers, then remove subscriptions, memberships, comments.

Resumable and idempotent by construction: every step deletes the first page of what
is left, so a crash, a duplicate stream record or a new invocation simply starts over
on what remains. When time runs short the task item ``Cleanup:<feed>``/``task`` is
bumped; its stream record wakes the processor again, so no room is too big for one
Lambda's 15 minutes.

The comment step reads the index, which lags its table a little; a comment racing the room's delete
commits before its author's join item is deleted (docs/data-model.md), so the cleanup ends only on an
empty index read made ``index_settle_ms`` after it found no member left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from aws_lambda_powertools import Logger

from roomcast.domain.chat import split_feed
from roomcast.usecases.fanout import fan_out
from roomcast.usecases.ports import Poster, Store
from roomcast.wire.frames import RoomDeletedFrame, encode_frame

logger = Logger(child=True)

PAGE_SIZE = 100


@dataclass
class CleanupReport:
    done: bool
    pages: int = 0
    subscriptions: int = 0
    memberships: int = 0
    comments: int = 0
    posts: int = 0
    settled_ms: int = 0  # slept waiting for the index to catch up with the last member's delete


@dataclass
class _Progress:
    """What this invocation found gone for good (the subscriptions; the members, and when), and whether
    the index has had time to show every comment committed before the members went (each was committed
    before its author's join item was deleted)."""

    settle_ms: int
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    members_gone_at: float | None = None
    subscriptions_gone: bool = False

    def members_gone(self) -> None:
        if self.members_gone_at is None:
            self.members_gone_at = self.clock()

    def wait(self, report: CleanupReport) -> bool:
        """Sleeps what is left of the settle time; False when it has passed already."""
        assert self.members_gone_at is not None
        left = self.members_gone_at + self.settle_ms / 1000 - self.clock()
        if left <= 0:
            return False
        self.sleep(left)
        report.settled_ms += round(left * 1000)
        return True


def clean_up_room(
    store: Store,
    poster: Poster,
    feed: str,
    out_of_time: Callable[[], bool],
    max_workers: int = 16,
    page_size: int = PAGE_SIZE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CleanupReport:
    room_id, _ = split_feed(feed)
    report = CleanupReport(done=False)
    frame = encode_frame(RoomDeletedFrame(room_id=room_id))
    progress = _Progress(store.cleanup.index_settle_ms, clock, sleep)
    while not out_of_time():
        report.pages += 1
        if _step(store, poster, feed, frame, report, max_workers, page_size, progress):
            continue
        store.cleanup.delete_cleanup_task(feed)
        report.done = True
        break
    else:
        step = store.cleanup.touch_cleanup_task(feed)
        logger.info("cleanup continues in a later invocation", extra={"feed": feed, "step": step})
    logger.info("cleanup progress", extra={"feed": feed, **asdict(report)})
    return report


def _step(
    store: Store,
    poster: Poster,
    feed: str,
    frame: bytes,
    report: CleanupReport,
    max_workers: int,
    page_size: int,
    progress: _Progress,
) -> bool:
    """Removes the first page of what is left, in order; False when nothing is left."""
    room_id, incarnation = split_feed(feed)
    # A deleted incarnation takes no new subscription and no new member (subscribe and join check the
    # room's incarnation in their transactions), so once a strongly consistent read finds none left, this
    # invocation never reads them again (8 Queries a page for the subscriptions' shards otherwise).
    if not progress.subscriptions_gone:
        subscriptions, _ = store.connections.subscribers(feed, limit=page_size, consistent=True)
        if subscriptions:
            # Notify before unsubscribing: a failed post is logged by fan-out and not retried
            # forever, since the room is gone either way.
            report.posts += fan_out([frame], subscriptions, poster, store.connections, max_workers).posts
            store.connections.remove_subscriptions(subscriptions)
            report.subscriptions += len(subscriptions)
            return True
        store.connections.drop_heads(feed)  # nothing left for them to tell, and nothing else removes them
        progress.subscriptions_gone = True
    if progress.members_gone_at is None:
        memberships, _ = store.rooms.list_members(room_id, incarnation, limit=page_size, consistent=True)
        if memberships:
            store.cleanup.delete_memberships(memberships)
            report.memberships += len(memberships)
            return True
    # No join item of this incarnation is left, so no comment of it can commit any more: every one was
    # committed before this read. The index shows them once it has caught up; an empty page before then
    # proves nothing, so the last pass reads it again after the settle time.
    progress.members_gone()
    deleted = store.cleanup.delete_comments_page(feed, page_size)
    report.comments += deleted
    return deleted > 0 or progress.wait(report)
