"""Moderation on the live path: a ban's ``banned`` frame to the target's own connections, which then lose
the room's feed; a deleted comment's ``commentDeleted`` frame to everyone in the room."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roomcast.domain.chat import Subscription
from roomcast.domain.events import CommentDeleted, UserBanned
from roomcast.usecases.fanout import FanoutResult, fan_out
from roomcast.usecases.ports import Connections, Poster
from roomcast.wire.frames import BannedFrame, CommentDeletedFrame, encode_frame


def deleted_frame(event: CommentDeleted) -> bytes:
    """Who deleted it stays out of the frame: subscribers learn what, not who."""
    return encode_frame(
        CommentDeletedFrame(room_id=event.room_id, comment_id=event.comment_id, position=event.position)
    )


@dataclass
class BanDelivery:
    remaining: list[Subscription]  # everyone else's subscriptions, for the batch's other frames
    result: FanoutResult


def deliver_bans(
    bans: Sequence[tuple[UserBanned, list[bytes]]],
    subscriptions: Sequence[Subscription],
    poster: Poster,
    connections: Connections,
    max_workers: int,
) -> BanDelivery:
    """Each banned user's connections get the batch's frames from before their ban, then their ``banned``
    frame; then their subscriptions are removed (the join's removal, in the same write, tells the others
    with ``memberLeft``). ``bans`` pairs each ban with the frames of the changes before it."""
    targets: dict[str, tuple[UserBanned, list[bytes]]] = {}
    for ban, before in bans:
        targets.setdefault(ban.target_user_id, (ban, before))
    total = FanoutResult()
    for user_id, (ban, before) in targets.items():
        theirs = [s for s in subscriptions if s.user_id == user_id]
        if not theirs:
            continue
        frame = BannedFrame(room_id=ban.room_id, user_id=user_id, until=ban.until, reason=ban.reason)
        result = fan_out([*before, encode_frame(frame)], theirs, poster, connections, max_workers)
        total.posts += result.posts
        total.gone += result.gone
        total.failed += result.failed
        total.refused += result.refused
        total.delivered += result.delivered
        # Even when their banned frame could not be posted: the ban ends their feed either way.
        gone = set(result.gone)
        connections.remove_subscriptions([s for s in theirs if s.connection_id not in gone])
    remaining = [s for s in subscriptions if s.user_id not in targets]
    return BanDelivery(remaining, total)
