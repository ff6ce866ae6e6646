"""Issue 11, point 5 on each backend: 8 writers x 40 comments at once; positions are taken from each
writer's clock before its commit (here up to 300 ms before, as a slow transaction or retry would), so the
table's stream delivers some comments after one positioned later. A client reconnects with ``since`` at
every point of that delivery order: with the replay window nothing is missed; without it, comments are."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from roomcast.domain.chat import FeedEntry
from roomcast.domain.ids import system_clock, ulid_ms
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from roomcast.settings import MessageSettings
from roomcast.usecases import commands
from roomcast.usecases.history import pages
from roomcast.usecases.subscriptions import Routes
from support.resume import Collected, resume_everywhere
from support.stack import Stack

pytestmark = pytest.mark.integration
# 8 x 10 rather than the fake's 8 x 40: moto's transactions copy the whole table, so 320 comments and
# 320 reconnects take minutes here. The lag covers moto's slowest commits, where writers take turns.
WRITERS, EACH, MAX_LAG_MS = 8, 10, 300
DEFAULT_WINDOW_MS = MessageSettings.model_fields["replay_window_ms"].default


def write_concurrently(stack: Stack) -> list[FeedEntry]:
    """Every comment, in the order the table's stream delivered them."""
    store = stack.store
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), store)
    for writer in range(WRITERS):
        commands.apply(JoinChatRoom(room_id="art", user_id=f"w{writer}"), store)
    # moto's own transactions are not safe concurrently (its server answers 500 "dictionary changed size
    # during iteration"): there the writers take turns; the fast local DynamoDB takes them at once
    turns = contextlib.nullcontext() if stack.backend == "moto-fast" else threading.Lock()

    def write(number: int) -> None:
        rng = random.Random(number)
        for n in range(EACH):
            lag = rng.randrange(0, MAX_LAG_MS)
            with turns:
                commands.apply(
                    AddComment(room_id="art", user_id=f"w{number}", text=f"w{number}-{n}"),
                    store,
                    lambda lag=lag: system_clock() - lag,  # type: ignore[misc]
                )

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    delivered: list[str] = []
    stack.stream_source(lambda event: delivered.extend(_comment_ids(event))).drain()
    by_id = {c.comment_id: c for page in pages(store, "art", "all", limit=100) for c in page.comments}
    assert sorted(delivered) == sorted(by_id)
    return [by_id[comment_id] for comment_id in delivered]


def _comment_ids(event: dict[str, Any]) -> list[str]:
    return [
        r["dynamodb"]["Keys"]["SK"]["S"].removeprefix("Comment:")
        for r in event["Records"]
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["SK"]["S"].startswith("Comment:")
    ]


def routes(stack: Stack, window_ms: int) -> Callable[[Collected], Routes]:
    return lambda poster: Routes(stack.store, poster, 7_500, 32 * 1024, replay_window_ms=window_ms)


def latest_commit_after_position_ms(delivered: list[FeedEntry]) -> int:
    """The worst case measured: how far below an earlier-delivered comment's position a comment was."""
    worst, highest = 0, delivered[0].position
    for comment in delivered:
        if comment.position < highest:
            worst = max(worst, ulid_ms(highest) - ulid_ms(comment.position))
        highest = max(highest, comment.position)
    return worst


def test_a_reconnect_at_any_point_of_the_delivery_order_misses_nothing(stack: Stack) -> None:
    delivered = write_concurrently(stack)
    late = sum(1 for n, c in enumerate(delivered) if any(c.position < e.position for e in delivered[:n]))
    assert late > 0 and latest_commit_after_position_ms(delivered) < DEFAULT_WINDOW_MS

    without = resume_everywhere(routes(stack, 0), "art", "w0", delivered, stop_at_first_miss=True)
    assert without.missed_at  # reproduced: since = the last position seen misses a late comment

    with_window = resume_everywhere(routes(stack, DEFAULT_WINDOW_MS), "art", "w0", delivered)
    assert (with_window.points, with_window.missed_at) == (WRITERS * EACH, [])
