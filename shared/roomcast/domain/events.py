"""Events: what a command did, in the past tense.

The command intake logs and caches them as outcomes; the stream edge derives the same
facts from the table's stream, plus ``CleanupScheduled`` for a deleted room's cleanup.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import Field

from roomcast.domain.chat import CommentView
from roomcast.domain.shapes import Shape


class ChatRoomCreated(Shape):
    type: Literal["chatRoomCreated"] = "chatRoomCreated"
    room_id: str
    user_id: str
    incarnation: str


class ChatRoomDeleted(Shape):
    type: Literal["chatRoomDeleted"] = "chatRoomDeleted"
    room_id: str
    user_id: str
    incarnation: str


class MemberJoined(Shape):
    type: Literal["memberJoined"] = "memberJoined"
    room_id: str
    user_id: str


class MemberLeft(Shape):
    type: Literal["memberLeft"] = "memberLeft"
    room_id: str
    user_id: str


class CommentAdded(Shape):
    type: Literal["commentAdded"] = "commentAdded"
    room_id: str
    comment: CommentView


class Unchanged(Shape):
    """The command was valid and asked for what already holds (joining twice, leaving a room one is not in)."""

    type: Literal["unchanged"] = "unchanged"
    room_id: str
    user_id: str
    reason: str


class CleanupScheduled(Shape):
    """A deleted room's cleanup was handed over to a later invocation (its task item was written)."""

    type: Literal["cleanupScheduled"] = "cleanupScheduled"
    room_id: str
    incarnation: str


Event: TypeAlias = Annotated[
    ChatRoomCreated | ChatRoomDeleted | MemberJoined | MemberLeft | CommentAdded | Unchanged,
    Field(discriminator="type"),
]


class Outcome(Shape):
    """What applying one command produced; cached by the idempotency layer as-is."""

    event: Event
