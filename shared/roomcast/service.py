"""The use cases: one handler per command, each applying the rules of docs/commands.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from roomcast import keys
from roomcast.errors import NotAMember, RoomNotFound
from roomcast.models import (
    AddComment,
    ChatRoomCreated,
    ChatRoomDeleted,
    Command,
    CommentAdded,
    CommentView,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    MemberJoined,
    MemberLeft,
    Outcome,
    Room,
    Unchanged,
)
from roomcast.repository import ChatRepository, iso


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _iso_ms(ms: int) -> str:
    return iso(datetime.fromtimestamp(ms / 1000, UTC))


def create_chat_room(command: CreateChatRoom, repo: ChatRepository) -> Outcome:
    """Fails if the room exists; the creator is a member from creation."""
    now = _now_ms()
    room = Room(
        room_id=command.room_id,
        created_by=command.user_id,
        created_at=_iso_ms(now),
        incarnation=keys.new_ulid(now),
    )
    repo.create_room(room)
    return Outcome(event=ChatRoomCreated(room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation))


def delete_chat_room(command: DeleteChatRoom, repo: ChatRepository) -> Outcome:
    """Only the creator may delete; joins, connections and comments are cleaned up from the stream."""
    room = repo.delete_room(command.room_id, command.user_id)
    return Outcome(event=ChatRoomDeleted(room_id=room.room_id, user_id=command.user_id, incarnation=room.incarnation))


def join_chat_room(command: JoinChatRoom, repo: ChatRepository) -> Outcome:
    """Needs an existing room; joining a room one is already in changes nothing."""
    room = repo.get_room(command.room_id)
    if room is None:
        raise RoomNotFound(f"room {command.room_id!r} does not exist")
    if not repo.add_member(room, command.user_id, joined_at=_iso_ms(_now_ms())):
        return Outcome(event=Unchanged(room_id=room.room_id, user_id=command.user_id, reason="AlreadyMember"))
    return Outcome(event=MemberJoined(room_id=room.room_id, user_id=command.user_id))


def leave_chat_room(command: LeaveChatRoom, repo: ChatRepository) -> Outcome:
    """Leaving a room one is not in (or that does not exist) changes nothing."""
    room = repo.get_room(command.room_id)
    if room is None or not repo.remove_member(room, command.user_id):
        return Outcome(event=Unchanged(room_id=command.room_id, user_id=command.user_id, reason="NotAMember"))
    return Outcome(event=MemberLeft(room_id=room.room_id, user_id=command.user_id))


def add_comment(command: AddComment, repo: ChatRepository) -> Outcome:
    """Needs an existing room and membership of its current incarnation."""
    room, membership = repo.get_room_and_membership(command.room_id, command.user_id)
    if room is None:
        raise RoomNotFound(f"room {command.room_id!r} does not exist")
    if membership is None or membership.incarnation != room.incarnation:
        raise NotAMember(f"{command.user_id!r} is not a member of room {command.room_id!r}")
    now = _now_ms()
    comment_id = keys.new_ulid(now)
    comment = CommentView(
        comment_id=comment_id,
        user_id=command.user_id,
        text=command.text,
        created_at=_iso_ms(now),
        position=comment_id,
    )
    repo.put_comment(room, comment)
    return Outcome(event=CommentAdded(room_id=room.room_id, comment=comment))


HANDLERS: dict[type[Any], Callable[[Any, ChatRepository], Outcome]] = {
    CreateChatRoom: create_chat_room,
    DeleteChatRoom: delete_chat_room,
    JoinChatRoom: join_chat_room,
    LeaveChatRoom: leave_chat_room,
    AddComment: add_comment,
}


def apply(command: Command, repo: ChatRepository) -> Outcome:
    """Apply one command; raises a Rejected subclass when the rules refuse it."""
    return HANDLERS[type(command)](command, repo)
