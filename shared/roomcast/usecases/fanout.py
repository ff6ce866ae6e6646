"""Fan-out: frames to every live connection of a room, one request per frame per connection.

A batch of M comments to a room with C connections costs C posts (one frame holding all M),
not C x M; frames split only where one would pass the 32 KB WebSocket frame limit.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from aws_lambda_powertools import Logger

from roomcast.domain.chat import Subscription
from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError
from roomcast.usecases.ports import Connections, Poster

logger = Logger(child=True)

Result = Literal["posted", "gone", "failed", "refused", "late"]


@dataclass
class FanoutResult:
    posts: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # transient failures left after retries
    refused: list[str] = field(default_factory=list)  # 403/400/413: no retry changes them
    late: list[str] = field(default_factory=list)  # not posted to at all: the invocation's deadline came first
    delivered: int = 0  # connections that received every frame

    def add(self, other: FanoutResult) -> None:
        """Counts another delivery of the same frames, to other connections, into this one."""
        self.posts += other.posts
        self.gone += other.gone
        self.failed += other.failed
        self.refused += other.refused
        self.late += other.late
        self.delivered += other.delivered


def live_subscriptions(subscriptions: Sequence[Subscription], now: float) -> list[Subscription]:
    """TTL deletion lags: never post to an expired subscription."""
    return [s for s in subscriptions if s.expires_at > now]


def fan_out(
    frames: Sequence[bytes],
    subscriptions: Sequence[Subscription],
    poster: Poster,
    connections: Connections,
    max_workers: int,
    now: float | None = None,
    deadline: float | None = None,
) -> FanoutResult:
    """Every frame, in order, to every unexpired subscription, on a bounded pool of threads.

    410 Gone removes that connection and its subscriptions; the others still receive. With a ``deadline``
    (``time.monotonic()``), a connection not yet posted to by then (the first one apart) is left alone and
    listed ``late``: the caller hands it on, where a function timeout would have had the whole lot posted again.
    """
    result = FanoutResult()
    if not frames or not subscriptions:
        return result
    current = time.time() if now is None else now
    live = live_subscriptions(subscriptions, current)
    before = poster.attempts
    outcomes = _post_each(poster, frames, [s.connection_id for s in live], max(1, max_workers), deadline)
    for subscription, outcome in zip(live, outcomes, strict=True):
        if outcome == "gone":
            result.gone.append(subscription.connection_id)
        elif outcome == "failed":
            result.failed.append(subscription.connection_id)
        elif outcome == "refused":
            result.refused.append(subscription.connection_id)
        elif outcome == "late":
            result.late.append(subscription.connection_id)
        else:
            result.delivered += 1
    result.posts = poster.attempts - before
    gone = set(result.gone)
    if gone:
        # The room-side items we posted to, and whatever the connections' own partitions still hold.
        connections.remove_subscriptions([s for s in live if s.connection_id in gone])
        for connection_id in result.gone:
            connections.delete_connection(connection_id)
    if result.gone or result.failed or result.refused or result.late:
        logger.info(
            "fan-out incomplete",
            extra={
                "gone": len(result.gone),
                "failed": len(result.failed),
                "refused": len(result.refused),
                "late": len(result.late),
            },
        )
    return result


def _post_each(
    poster: Poster, frames: Sequence[bytes], connection_ids: list[str], max_workers: int, deadline: float | None
) -> list[Result]:
    """Each connection's outcome, in order, posted by at most ``max_workers`` threads at once: the calling
    thread and ``max_workers - 1`` of the kept pool's, each taking the next connection not yet taken.

    One task per helper, not per connection: a future, a wake-up and a wait per connection were the
    fixed cost that weighed in batches of 10 (bench/fanout.py's cpu-per-post). The calling thread posts
    too, so a batch moves forward even while another batch holds every pool thread. The first connection
    is posted to whatever the clock says, so that a slice handed on at each deadline still moves forward.
    """
    outcomes: list[Result] = ["late"] * len(connection_ids)
    taken, lock = itertools.count(), threading.Lock()

    def post_next() -> None:
        while True:
            with lock:
                n = next(taken)
            if n >= len(connection_ids):
                return
            outcomes[n] = _post_all(poster, connection_ids[n], frames, deadline if n else None)

    # The pool starts a thread only while none is idle, up to its size: a batch of 3 wakes at most 2.
    pool = _posting_pool(max_workers)
    helpers = [pool.submit(post_next) for _ in range(min(max_workers, len(connection_ids)) - 1)]
    try:
        post_next()
    finally:
        # A helper not started by now (every pool thread busy with another batch) has nothing left to take;
        # the others are waited for, so that none is left posting behind an exception.
        started = [helper for helper in helpers if not helper.cancel()]
        wait(started)
    for helper in started:
        helper.result()  # a poster's unexpected exception is raised here, as pool.map raised it
    return outcomes


@cache
def _posting_pool(max_workers: int) -> ThreadPoolExecutor:
    """One pool per size per process, kept by a warm Lambda: a batch no longer starts and stops its threads
    (1.5 ms of CPU for 10 threads on the benchmark's machine, a tenth of a millisecond a post in a batch of
    10). Posting threads only post, never fan out again, so batches sharing the pool cannot wait on each other."""
    return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fan-out")


def _post_all(poster: Poster, connection_id: str, frames: Sequence[bytes], deadline: float | None) -> Result:
    # Checked once, before the first frame: a connection's frames are never split between two invocations,
    # so none of them can arrive twice or out of order.
    if deadline is not None and time.monotonic() >= deadline:
        return "late"
    for frame in frames:
        try:
            poster.post(connection_id, frame)
        except ConnectionGone:
            return "gone"
        except TransientError:
            return "failed"
        except PostRefused as refused:
            # An IAM or API id mismatch after a deploy looks like this: counted and alarmed, never retried.
            logger.warning("post refused", extra={"connectionId": connection_id, "detail": refused.message})
            return "refused"
    return "posted"
