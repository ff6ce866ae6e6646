"""Cleanup after a deleted room: notify its subscribers, then remove subscriptions, memberships, comments.

Resumable and idempotent by construction: every step deletes the first page of what
is left, so a crash, a duplicate stream record or a new invocation simply starts over
on what remains. When time runs short the task item ``Cleanup:<feed>``/``task`` is
bumped; its stream record wakes the processor again, so no room is too big for one
Lambda's 15 minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from roomcast import keys
from roomcast.fanout import fan_out
from roomcast.gateway import ConnectionGateway
from roomcast.models import RoomDeletedFrame, encode_frame
from roomcast.repository import ChatRepository

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
    repo: ChatRepository,
    gateway: ConnectionGateway,
    feed: str,
    out_of_time: Callable[[], bool],
    max_workers: int = 16,
    page_size: int = PAGE_SIZE,
) -> CleanupReport:
    room_id, incarnation = keys.split_feed(feed)
    report = CleanupReport(done=False)
    frame = encode_frame(RoomDeletedFrame(room_id=room_id))
    while not out_of_time():
        report.pages += 1
        subscriptions, _ = repo.subscribers(feed, limit=page_size)
        if subscriptions:
            # Notify before unsubscribing: a failed post is logged by fan-out and not retried
            # forever, since the room is gone either way.
            report.posts += fan_out([frame], subscriptions, gateway, repo, max_workers).posts
            repo.remove_subscriptions(subscriptions)
            report.subscriptions += len(subscriptions)
            continue
        memberships = repo.members_page(room_id, incarnation, page_size)
        if memberships:
            repo.delete_memberships(memberships)
            report.memberships += len(memberships)
            continue
        comments = repo.comment_keys_page(feed, page_size)
        if comments:
            repo.delete_keys(comments)
            report.comments += len(comments)
            continue
        repo.delete_cleanup_task(feed)
        report.done = True
        break
    else:
        step = repo.touch_cleanup_task(feed)
        logger.info("cleanup continues in a later invocation", extra={"feed": feed, "step": step})
    logger.info("cleanup progress", extra={"feed": feed, **report.__dict__})
    return report
