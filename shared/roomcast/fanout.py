"""Fan-out: frames to every live connection of a room, one request per frame per connection.

A batch of M comments to a room with C connections costs C posts (one frame holding all M),
not C x M; frames split only where one would pass the 32 KB WebSocket frame limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from roomcast.errors import ConnectionGone, TransientError
from roomcast.gateway import ConnectionGateway, PostRefused
from roomcast.models import CommentsFrame, CommentView, Subscription, encode_frame
from roomcast.repository import ChatRepository

logger = Logger(child=True)


def comment_frames(room_id: str, comments: Iterable[CommentView], limit: int) -> list[bytes]:
    """The comments in position order, packed greedily into as few frames as fit ``limit`` bytes."""
    ordered = sorted(comments, key=lambda c: c.position)
    frames: list[bytes] = []
    current: list[CommentView] = []
    for comment in ordered:
        candidate = encode_frame(CommentsFrame(room_id=room_id, comments=[*current, comment]))
        if len(candidate) > limit and current:
            frames.append(encode_frame(CommentsFrame(room_id=room_id, comments=current)))
            current = [comment]
        else:
            current.append(comment)
    if current:
        frames.append(encode_frame(CommentsFrame(room_id=room_id, comments=current)))
    return frames


@dataclass
class FanoutResult:
    posts: int = 0
    delivered: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # transient failures left after retries


def fan_out(
    frames: Sequence[bytes],
    subscriptions: Sequence[Subscription],
    gateway: ConnectionGateway,
    repo: ChatRepository,
    max_workers: int,
    now: float | None = None,
) -> FanoutResult:
    """Every frame, in order, to every unexpired subscription, on a bounded pool of threads.

    410 Gone removes that connection and its subscriptions; the others still receive.
    """
    result = FanoutResult()
    if not frames or not subscriptions:
        return result
    current = time.time() if now is None else now
    live = [s for s in subscriptions if s.expires_at > current]  # TTL deletion lags; never post to the expired
    before = gateway.attempts
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(live) or 1))) as pool:
        outcomes = list(pool.map(lambda s: _deliver(gateway, s.connection_id, frames), live))
    for subscription, outcome in zip(live, outcomes, strict=True):
        getattr(result, outcome).append(subscription.connection_id)
    result.posts = gateway.attempts - before
    gone = set(result.gone)
    if gone:
        # The room-side items we posted to, and whatever the connections' own partitions still hold.
        repo.remove_subscriptions([s for s in live if s.connection_id in gone])
        for connection_id in result.gone:
            repo.delete_connection(connection_id)
    if result.gone or result.failed:
        logger.info("fan-out incomplete", extra={"gone": len(result.gone), "failed": len(result.failed)})
    return result


def _deliver(gateway: ConnectionGateway, connection_id: str, frames: Sequence[bytes]) -> str:
    for frame in frames:
        try:
            gateway.post(connection_id, frame)
        except ConnectionGone:
            return "gone"
        except TransientError:
            return "failed"
        except PostRefused as refused:
            logger.warning("post refused", extra={"connectionId": connection_id, "detail": refused.message})
            return "delivered"  # nothing a retry could change
    return "delivered"
