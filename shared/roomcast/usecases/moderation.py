"""The moderation commands' handlers (docs/moderation.md), and the moderated parts of join and comment.

Each handler reads what its rule needs in one request, asks the rule (``domain/moderation.py``), and
writes its effect with the outcome record in one transaction, as the other commands do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from roomcast.domain.chat import DeletedComment, Membership, Room, is_member, require_room
from roomcast.domain.commands import (
    AddModerator,
    BanUser,
    DeleteComment,
    JoinChatRoom,
    MuteUser,
    RemoveModerator,
    SetRoomPolicy,
    UnbanUser,
    UnmuteUser,
)
from roomcast.domain.errors import CommentNotFound, NotModerator
from roomcast.domain.events import (
    CommentDeleted,
    MemberJoined,
    ModeratorAdded,
    ModeratorRemoved,
    Outcome,
    RoomPolicySet,
    Unchanged,
    UserBanned,
    UserMuted,
    UserUnbanned,
    UserUnmuted,
)
from roomcast.domain.ids import iso_ms
from roomcast.domain.moderation import (
    FOREVER_MS,
    Pace,
    Sanction,
    comment_pace,
    may_moderate,
    not_member_or_banned,
    require_moderator,
    require_not_banned,
    require_not_creator,
    require_room_creator,
    until_ms,
)
from roomcast.usecases.ports import Store

if TYPE_CHECKING:
    from roomcast.usecases.commands import Context


def admit_comment(
    store: Store, room: Room | None, membership: Membership | None, room_id: str, user_id: str, now_ms: int
) -> tuple[Room, Pace | None]:
    """The comment path's rules on what addComment read anyway: a member (else Banned or NotAMember; the
    ban is read only then), not muted, not within slow mode."""
    current = require_room(room, room_id)
    if not is_member(membership, current):
        raise not_member_or_banned(current, user_id, store.moderation.get_ban(current, user_id), now_ms)
    return current, comment_pace(current, membership, now_ms)


def join_chat_room(command: JoinChatRoom, context: Context) -> Outcome:
    """Needs an existing room and no ban in force; a mute in force carries over onto the new join."""
    now = context.clock()
    room, ban, mute = context.store.moderation.get_room_and_sanctions(command.room_id, command.user_id)
    room = require_room(room, command.room_id)
    require_not_banned(room, command.user_id, ban, now)
    muted = mute if mute is not None and mute.active(room, now) else None
    membership = Membership(
        room_id=room.room_id,
        user_id=command.user_id,
        incarnation=room.incarnation,
        joined_at=iso_ms(now),
        muted_until_ms=None if muted is None else (muted.until_ms or FOREVER_MS),
    )
    event = MemberJoined(room_id=room.room_id, user_id=command.user_id)
    if not context.store.moderation.join(room, membership, now, context.receipt(event)):
        return context.unchanged(Unchanged(room_id=room.room_id, user_id=command.user_id, reason="AlreadyMember"))
    return Outcome(event=event)


def delete_comment(command: DeleteComment, context: Context) -> Outcome:
    """Its author, a moderator or the creator; a comment already deleted stays deleted (unchanged)."""
    moderation = context.store.moderation
    room, found = moderation.get_room_and_comment(command.room_id, command.user_id, command.comment_id)
    room = require_room(room, command.room_id)
    if found is None and may_moderate(room, command.user_id):
        found = moderation.find_comment(room, command.comment_id)
    elif found is None:
        raise NotModerator(f"{command.user_id!r} may delete only their own comments in room {room.room_id!r}")
    if found is None:
        raise CommentNotFound(f"no comment {command.comment_id} in room {room.room_id!r}")
    event = CommentDeleted(
        room_id=room.room_id, user_id=command.user_id, comment_id=found.comment_id, position=found.position
    )
    if isinstance(found, DeletedComment) or not moderation.delete_comment(
        room, found, command.user_id, context.clock(), context.receipt(event)
    ):
        return context.unchanged(Unchanged(room_id=room.room_id, user_id=command.user_id, reason="AlreadyDeleted"))
    return Outcome(event=event)


def _set_moderator(command: AddModerator | RemoveModerator, context: Context) -> Outcome:
    room = require_room_creator(context.store.rooms.get_room(command.room_id), command.room_id, command.user_id)
    adding = isinstance(command, AddModerator)
    kind = ModeratorAdded if adding else ModeratorRemoved
    event = kind(room_id=room.room_id, user_id=command.user_id, target_user_id=command.target_user_id)
    if not context.store.moderation.set_moderator(room, command.target_user_id, adding, context.receipt(event)):
        reason = "AlreadyModerator" if adding else "NotAModerator"
        return context.unchanged(Unchanged(room_id=room.room_id, user_id=command.user_id, reason=reason))
    return Outcome(event=event)


def _target(command: BanUser | MuteUser, context: Context) -> tuple[Room, bool, Sanction]:
    """The room (the actor may moderate it, the target is not its creator), whether the target is a
    member now, and the sanction to write."""
    room, membership = context.store.rooms.get_room_and_membership(command.room_id, command.target_user_id)
    room = require_moderator(room, command.room_id, command.user_id)
    require_not_creator(room, command.target_user_id)
    sanction = Sanction(
        room_id=room.room_id,
        user_id=command.target_user_id,
        incarnation=room.incarnation,
        by=command.user_id,
        until_ms=until_ms(context.clock(), command.duration_seconds),
        reason=getattr(command, "reason", None),
    )
    member = is_member(membership, room)
    return room, member, sanction


def ban_user(command: BanUser, context: Context) -> Outcome:
    """The target's membership ends with the ban; banning again replaces the ban (new end, new reason)."""
    room, member, ban = _target(command, context)
    event = UserBanned(
        room_id=room.room_id,
        user_id=command.user_id,
        target_user_id=command.target_user_id,
        until=ban.until,
        reason=ban.reason,
    )
    context.store.moderation.ban(room, ban, member, context.receipt(event))
    return Outcome(event=event)


def mute_user(command: MuteUser, context: Context) -> Outcome:
    """The target stays a member (or may join) but may not comment until the mute ends."""
    room, member, mute = _target(command, context)
    event = UserMuted(
        room_id=room.room_id, user_id=command.user_id, target_user_id=command.target_user_id, until=mute.until
    )
    context.store.moderation.mute(room, mute, member, context.receipt(event))
    return Outcome(event=event)


def unban_user(command: UnbanUser, context: Context) -> Outcome:
    """Lifts the ban; the user may join again (an unban does not re-join them)."""
    room = require_moderator(context.store.rooms.get_room(command.room_id), command.room_id, command.user_id)
    event = UserUnbanned(room_id=room.room_id, user_id=command.user_id, target_user_id=command.target_user_id)
    if not context.store.moderation.unban(room, command.target_user_id, context.receipt(event)):
        return context.unchanged(Unchanged(room_id=room.room_id, user_id=command.user_id, reason="NotBanned"))
    return Outcome(event=event)


def unmute_user(command: UnmuteUser, context: Context) -> Outcome:
    room, membership = context.store.rooms.get_room_and_membership(command.room_id, command.target_user_id)
    room = require_moderator(room, command.room_id, command.user_id)
    member = is_member(membership, room)
    event = UserUnmuted(room_id=room.room_id, user_id=command.user_id, target_user_id=command.target_user_id)
    if not context.store.moderation.unmute(room, command.target_user_id, member, context.receipt(event)):
        return context.unchanged(Unchanged(room_id=room.room_id, user_id=command.user_id, reason="NotMuted"))
    return Outcome(event=event)


def set_room_policy(command: SetRoomPolicy, context: Context) -> Outcome:
    """Creator only; what the command leaves out keeps its value."""
    room = require_room_creator(context.store.rooms.get_room(command.room_id), command.room_id, command.user_id)
    slow = room.slow_mode_seconds if command.slow_mode_seconds is None else command.slow_mode_seconds
    review = command.review_mode or room.review_mode
    event = RoomPolicySet(room_id=room.room_id, user_id=command.user_id, slow_mode_seconds=slow, review_mode=review)
    context.store.moderation.set_policy(room, slow, review, context.receipt(event))
    return Outcome(event=event)


MODERATION_HANDLERS: dict[type[Any], Callable[[Any, Context], Outcome]] = {
    JoinChatRoom: join_chat_room,
    DeleteComment: delete_comment,
    AddModerator: _set_moderator,
    RemoveModerator: _set_moderator,
    BanUser: ban_user,
    UnbanUser: unban_user,
    MuteUser: mute_user,
    UnmuteUser: unmute_user,
    SetRoomPolicy: set_room_policy,
}
