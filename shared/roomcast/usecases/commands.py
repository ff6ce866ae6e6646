"""One handler per command, each applying the rules of docs/commands.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from roomcast.domain.chat import CommentView, Room, require_member, require_room
from roomcast.domain.commands import (
    AddComment,
    Command,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
)
from roomcast.domain.events import (
    ChatRoomCreated,
    ChatRoomDeleted,
    CommentAdded,
    MemberJoined,
    MemberLeft,
    Outcome,
    Unchanged,
)
from roomcast.domain.ids import Clock, iso_ms, new_ulid, system_clock
from roomcast.usecases.ports import Store


def create_chat_room(command: CreateChatRoom, store: Store, clock: Clock) -> Outcome:
    """Fails if the room exists; the creator is a member from creation."""
    now = clock()
    room = Room(room_id=command.room_id, created_by=command.user_id, created_at=iso_ms(now), incarnation=new_ulid(now))
    store.rooms.create_room(room)
    return Outcome(event=ChatRoomCreated(room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation))


def delete_chat_room(command: DeleteChatRoom, store: Store, clock: Clock) -> Outcome:
    """Only the creator may delete; joins, connections and comments are cleaned up from the stream."""
    room = store.rooms.delete_room(command.room_id, command.user_id)
    return Outcome(event=ChatRoomDeleted(room_id=room.room_id, user_id=command.user_id, incarnation=room.incarnation))


def join_chat_room(command: JoinChatRoom, store: Store, clock: Clock) -> Outcome:
    """Needs an existing room; joining a room one is already in changes nothing."""
    room = require_room(store.rooms.get_room(command.room_id), command.room_id)
    if not store.rooms.add_member(room, command.user_id, joined_at=iso_ms(clock())):
        return Outcome(event=Unchanged(room_id=room.room_id, user_id=command.user_id, reason="AlreadyMember"))
    return Outcome(event=MemberJoined(room_id=room.room_id, user_id=command.user_id))


def leave_chat_room(command: LeaveChatRoom, store: Store, clock: Clock) -> Outcome:
    """Leaving a room one is not in (or that does not exist) changes nothing."""
    room = store.rooms.get_room(command.room_id)
    if room is None or not store.rooms.remove_member(room, command.user_id):
        return Outcome(event=Unchanged(room_id=command.room_id, user_id=command.user_id, reason="NotAMember"))
    return Outcome(event=MemberLeft(room_id=room.room_id, user_id=command.user_id))


def add_comment(command: AddComment, store: Store, clock: Clock) -> Outcome:
    """Needs an existing room and membership of its current incarnation."""
    room, membership = store.rooms.get_room_and_membership(command.room_id, command.user_id)
    room = require_member(room, membership, command.room_id, command.user_id)
    now = clock()
    comment_id = new_ulid(now)
    comment = CommentView(
        comment_id=comment_id, user_id=command.user_id, text=command.text, created_at=iso_ms(now), position=comment_id
    )
    store.comments.put_comment(room, comment)
    return Outcome(event=CommentAdded(room_id=room.room_id, comment=comment))


HANDLERS: dict[type[Any], Callable[[Any, Store, Clock], Outcome]] = {
    CreateChatRoom: create_chat_room,
    DeleteChatRoom: delete_chat_room,
    JoinChatRoom: join_chat_room,
    LeaveChatRoom: leave_chat_room,
    AddComment: add_comment,
}


def apply(command: Command, store: Store, clock: Clock = system_clock) -> Outcome:
    """Apply one command; raises a Rejected subclass when the rules refuse it."""
    return HANDLERS[type(command)](command, store, clock)
