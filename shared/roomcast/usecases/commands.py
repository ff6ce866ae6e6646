"""One handler per command, each applying the rules of docs/commands.md.

A ``recorder`` (from the command intake) turns the event a command is about to cause into the
outcome record its write carries, so that effect and record commit in one transaction; a command
that changes nothing records its outcome on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roomcast.domain.chat import CommentView, Room, require_creator
from roomcast.domain.commands import (
    AddComment,
    Command,
    CreateChatRoom,
    DeleteChatRoom,
    LeaveChatRoom,
)
from roomcast.domain.errors import AlreadyRecorded
from roomcast.domain.events import (
    ChatRoomCreated,
    ChatRoomDeleted,
    CommentAdded,
    Event,
    MemberLeft,
    Outcome,
    Unchanged,
)
from roomcast.domain.ids import Clock, iso_ms, new_ulid, system_clock
from roomcast.domain.ordering import position_time
from roomcast.usecases.moderation import MODERATION_HANDLERS, admit_comment
from roomcast.usecases.ports import Receipt, Recorder, Reviewer, Store
from roomcast.usecases.review import review_comment


@dataclass(frozen=True)
class Context:
    store: Store
    clock: Clock = system_clock
    recorder: Recorder | None = None
    # The review hook; None: no function is configured, so every review fails and the room's mode decides.
    reviewer: Reviewer | None = None

    def receipt(self, event: Event) -> Receipt | None:
        return self.recorder(event) if self.recorder is not None else None

    def unchanged(self, event: Unchanged) -> Outcome:
        """Nothing to write but the outcome record itself."""
        receipt = self.receipt(event)
        if receipt is not None and not self.store.ledger.record(receipt):
            raise AlreadyRecorded(f"the outcome of {receipt.key} is already recorded")
        return Outcome(event=event)


def create_chat_room(command: CreateChatRoom, context: Context) -> Outcome:
    """Fails if the room exists; the creator is a member from creation."""
    now = context.clock()
    room = Room(room_id=command.room_id, created_by=command.user_id, created_at=iso_ms(now), incarnation=new_ulid(now))
    event = ChatRoomCreated(room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation)
    context.store.rooms.create_room(room, context.receipt(event))
    return Outcome(event=event)


def delete_chat_room(command: DeleteChatRoom, context: Context) -> Outcome:
    """Only the creator may delete; joins, connections and comments are cleaned up from the stream."""
    room = require_creator(context.store.rooms.get_room(command.room_id), command.room_id, command.user_id)
    event = ChatRoomDeleted(room_id=room.room_id, user_id=command.user_id, incarnation=room.incarnation)
    context.store.rooms.delete_room(room, context.receipt(event))
    return Outcome(event=event)


def leave_chat_room(command: LeaveChatRoom, context: Context) -> Outcome:
    """Leaving a room one is not in (or that does not exist) changes nothing."""
    room = context.store.rooms.get_room(command.room_id)
    event = MemberLeft(room_id=command.room_id, user_id=command.user_id)
    if room is None or not context.store.rooms.remove_member(room, command.user_id, context.receipt(event)):
        return context.unchanged(Unchanged(room_id=command.room_id, user_id=command.user_id, reason="NotAMember"))
    return Outcome(event=event)


def add_comment(command: AddComment, context: Context) -> Outcome:
    """Needs an existing room and membership of its current incarnation."""
    room, membership = context.store.rooms.get_room_and_membership(command.room_id, command.user_id)
    now = context.clock()
    room, pace = admit_comment(context.store, room, membership, command.room_id, command.user_id, now)
    last = membership.last_position if membership is not None else None
    text = review_comment(context.reviewer, room, command.user_id, command.text)
    comment_id = new_ulid(position_time(now, last))
    comment = CommentView(
        comment_id=comment_id, user_id=command.user_id, text=text, created_at=iso_ms(now), position=comment_id
    )
    event = CommentAdded(room_id=room.room_id, comment=comment)
    context.store.comments.put_comment(room, comment, context.receipt(event), pace)
    return Outcome(event=event)


HANDLERS: dict[type[Any], Callable[[Any, Context], Outcome]] = {
    CreateChatRoom: create_chat_room,
    DeleteChatRoom: delete_chat_room,
    LeaveChatRoom: leave_chat_room,
    AddComment: add_comment,
    # moderation's commands, and joinChatRoom (it refuses a ban in force and carries a mute onto the join)
    **MODERATION_HANDLERS,
}


def apply(
    command: Command,
    store: Store,
    clock: Clock = system_clock,
    recorder: Recorder | None = None,
    reviewer: Reviewer | None = None,
) -> Outcome:
    """Apply one command; raises a Rejected subclass when the rules refuse it, AlreadyRecorded when
    its outcome was recorded by an earlier delivery."""
    return HANDLERS[type(command)](command, Context(store, clock, recorder, reviewer))
