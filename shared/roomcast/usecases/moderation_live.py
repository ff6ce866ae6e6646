"""Moderation on the live path: a ban's ``banned`` frame to the target's own connections, which then lose
the room's feed; a deleted comment's ``commentDeleted`` frame to everyone in the room."""

from __future__ import annotations

from collections.abc import Sequence

from roomcast.domain.chat import Subscription
from roomcast.domain.events import CommentDeleted, UserBanned
from roomcast.usecases.cutoff import CutDelivery, Exit, deliver_exits
from roomcast.usecases.ports import Connections, Poster
from roomcast.wire.frames import BannedFrame, CommentDeletedFrame, encode_frame


def deleted_frame(event: CommentDeleted) -> bytes:
    """Who deleted it stays out of the frame: subscribers learn what, not who."""
    return encode_frame(
        CommentDeletedFrame(room_id=event.room_id, comment_id=event.comment_id, position=event.position)
    )


# A ban's cut is everybody's exit cut (usecases/cutoff.py); the name stays for its importers.
BanDelivery = CutDelivery


def ban_exit(ban: UserBanned, before: list[bytes]) -> Exit:
    """The banned user's last frames: the batch's frames from before the ban, then their ``banned`` frame
    (the join's removal, in the same write, tells the others with ``memberLeft``)."""
    frame = BannedFrame(room_id=ban.room_id, user_id=ban.target_user_id, until=ban.until, reason=ban.reason)
    return Exit(ban.target_user_id, [*before, encode_frame(frame)])


def deliver_bans(
    bans: Sequence[tuple[UserBanned, list[bytes]]],
    subscriptions: Sequence[Subscription],
    poster: Poster,
    connections: Connections,
    max_workers: int,
) -> BanDelivery:
    """Each banned user's connections get the batch's frames from before their ban, then their ``banned``
    frame; then their subscriptions are removed. ``bans`` pairs each ban with the frames of the changes before it."""
    exits = [ban_exit(ban, before) for ban, before in bans]
    return deliver_exits(exits, subscriptions, poster, connections, max_workers)
