"""Moderation rules: who may moderate a room, bans and mutes with their expiry, slow mode. No I/O.

Bans and mutes belong to one incarnation of a room, like memberships: a room created again starts
with none, and with no moderators or policy (those live on its new room item).
"""

from __future__ import annotations

from dataclasses import dataclass

from roomcast.domain.chat import Membership, Room, not_a_member, require_creator, require_room
from roomcast.domain.errors import Banned, Muted, NotModerator, SlowMode
from roomcast.domain.ids import iso_ms
from roomcast.domain.shapes import Shape

MAX_SLOW_MODE_SECONDS = 120
# A permanent mute on the join item: a time no clock reaches (9999-12-31T23:59:59.999Z).
FOREVER_MS = 253_402_300_799_999


class Sanction(Shape):
    """A ban or a mute of one user in one incarnation of a room; ``until_ms`` None is permanent."""

    room_id: str
    user_id: str
    incarnation: str
    by: str
    until_ms: int | None = None
    reason: str | None = None

    def active(self, room: Room, now_ms: int) -> bool:
        """In force: of the room's current incarnation and not yet expired (TTL only tidies up)."""
        return self.incarnation == room.incarnation and (self.until_ms is None or now_ms < self.until_ms)

    @property
    def until(self) -> str | None:
        return None if self.until_ms is None else iso_ms(self.until_ms)


@dataclass(frozen=True)
class Pace:
    """Slow mode for one comment: the author's last comment must be at or before ``cutoff_ms``."""

    now_ms: int
    cutoff_ms: int


def until_ms(now_ms: int, duration_seconds: int | None) -> int | None:
    return None if duration_seconds is None else now_ms + duration_seconds * 1000


def may_moderate(room: Room, user_id: str) -> bool:
    return user_id == room.created_by or user_id in room.moderators


def require_moderator(room: Room | None, room_id: str, user_id: str) -> Room:
    current = require_room(room, room_id)
    if not may_moderate(current, user_id):
        raise NotModerator(f"{user_id!r} may not moderate room {room_id!r}")
    return current


def require_room_creator(room: Room | None, room_id: str, user_id: str) -> Room:
    """Creator-only moderation: naming moderators and setting the room's policy."""
    return require_creator(room, room_id, user_id, "name moderators or set its policy")


def require_not_creator(room: Room, target_user_id: str) -> None:
    if target_user_id == room.created_by:
        raise NotModerator(f"the creator of room {room.room_id!r} cannot be banned or muted")


def banned(room: Room, user_id: str, ban: Sanction | None) -> Banned:
    until = f" until {ban.until}" if ban is not None and ban.until else ""
    return Banned(f"{user_id!r} is banned from room {room.room_id!r}{until}")


def require_not_banned(room: Room, user_id: str, ban: Sanction | None, now_ms: int) -> None:
    if ban is not None and ban.active(room, now_ms):
        raise banned(room, user_id, ban)


def not_member_or_banned(room: Room, user_id: str, ban: Sanction | None, now_ms: int) -> Exception:
    """Why a user without a current membership is refused: Banned while a ban holds, else NotAMember."""
    if ban is not None and ban.active(room, now_ms):
        return banned(room, user_id, ban)
    return not_a_member(room.room_id, user_id)


def comment_pace(room: Room, membership: Membership, now_ms: int) -> Pace | None:
    """A member's comment: refused while muted, or within the slow-mode interval of their last one.
    Moderators and the creator are never slowed. Returns the pace the write must re-check, if any."""
    if membership.muted_until_ms is not None and now_ms < membership.muted_until_ms:
        until = "" if membership.muted_until_ms == FOREVER_MS else f" until {iso_ms(membership.muted_until_ms)}"
        raise Muted(f"{membership.user_id!r} is muted in room {room.room_id!r}{until}")
    if room.slow_mode_seconds <= 0 or may_moderate(room, membership.user_id):
        return None
    cutoff = now_ms - room.slow_mode_seconds * 1000
    last = membership.last_comment_ms
    if last is not None and last > cutoff:
        wait = (last - cutoff + 999) // 1000
        raise SlowMode(f"room {room.room_id!r} allows one comment per {room.slow_mode_seconds} s; wait {wait} s")
    return Pace(now_ms=now_ms, cutoff_ms=cutoff)
