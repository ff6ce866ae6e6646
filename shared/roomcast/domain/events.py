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


class CommentDeleted(Shape):
    """A comment became a tombstone; ``user_id`` is who deleted it (its author, a moderator, the creator)."""

    type: Literal["commentDeleted"] = "commentDeleted"
    room_id: str
    user_id: str
    comment_id: str
    position: str


class _Targeted(Shape):
    room_id: str
    user_id: str
    target_user_id: str


class ModeratorAdded(_Targeted):
    type: Literal["moderatorAdded"] = "moderatorAdded"


class ModeratorRemoved(_Targeted):
    type: Literal["moderatorRemoved"] = "moderatorRemoved"


class UserBanned(_Targeted):
    """``until`` absent: permanent. The target's membership ended in the same write."""

    type: Literal["userBanned"] = "userBanned"
    until: str | None = None
    reason: str | None = None


class UserUnbanned(_Targeted):
    type: Literal["userUnbanned"] = "userUnbanned"


class UserMuted(_Targeted):
    type: Literal["userMuted"] = "userMuted"
    until: str | None = None


class UserUnmuted(_Targeted):
    type: Literal["userUnmuted"] = "userUnmuted"


class RoomPolicySet(Shape):
    """The room's policy after the command."""

    type: Literal["roomPolicySet"] = "roomPolicySet"
    room_id: str
    user_id: str
    slow_mode_seconds: int
    review_mode: str


ModerationEvent: TypeAlias = (
    CommentDeleted
    | ModeratorAdded
    | ModeratorRemoved
    | UserBanned
    | UserUnbanned
    | UserMuted
    | UserUnmuted
    | RoomPolicySet
)


class CleanupScheduled(Shape):
    """A deleted room's cleanup was handed over to a later invocation (its task item was written)."""

    type: Literal["cleanupScheduled"] = "cleanupScheduled"
    room_id: str
    incarnation: str


Event: TypeAlias = Annotated[
    ChatRoomCreated | ChatRoomDeleted | MemberJoined | MemberLeft | CommentAdded | Unchanged | ModerationEvent,
    Field(discriminator="type"),
]


class Outcome(Shape):
    """What applying one command produced; cached by the idempotency layer as-is."""

    event: Event
