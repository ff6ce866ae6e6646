"""Cleanup after a deleted room: notify its subscribers, then remove subscriptions, memberships, comments.

Resumable and idempotent by construction: every step deletes the first page of what
is left, so a crash, a duplicate stream record or a new invocation simply starts over
on what remains. When time runs short the task item ``Cleanup:<feed>``/``task`` is
bumped; its stream record wakes the processor again, so no room is too big for one
Lambda's 15 minutes.
"""

from __future__ import annotations

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


def clean_up_room(
    store: Store,
    poster: Poster,
    feed: str,
    out_of_time: Callable[[], bool],
    max_workers: int = 16,
    page_size: int = PAGE_SIZE,
) -> CleanupReport:
    room_id, _ = split_feed(feed)
    report = CleanupReport(done=False)
    frame = encode_frame(RoomDeletedFrame(room_id=room_id))
    while not out_of_time():
        report.pages += 1
        if _step(store, poster, feed, frame, report, max_workers, page_size):
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
    store: Store, poster: Poster, feed: str, frame: bytes, report: CleanupReport, max_workers: int, page_size: int
) -> bool:
    """Removes the first page of what is left, in order; False when nothing is left."""
    room_id, incarnation = split_feed(feed)
    # Strongly consistent: an empty answer ends the cleanup, so it must not miss a write it lags behind.
    subscriptions, _ = store.connections.subscribers(feed, limit=page_size, consistent=True)
    if subscriptions:
        # Notify before unsubscribing: a failed post is logged by fan-out and not retried
        # forever, since the room is gone either way.
        report.posts += fan_out([frame], subscriptions, poster, store.connections, max_workers).posts
        store.connections.remove_subscriptions(subscriptions)
        report.subscriptions += len(subscriptions)
        return True
    memberships, _ = store.rooms.list_members(room_id, incarnation, limit=page_size, consistent=True)
    if memberships:
        store.cleanup.delete_memberships(memberships)
        report.memberships += len(memberships)
        return True
    deleted = store.cleanup.delete_comments_page(feed, page_size)
    report.comments += deleted
    return deleted > 0
