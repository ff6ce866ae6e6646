"""Rooms, members, comments, connections and subscriptions, and the rules that tie them.

Every room has an incarnation (a ULID drawn at creation): a membership, subscription or
comment belongs to one incarnation, so nothing of a deleted room is visible after the
same id is created again (docs/data-model.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeGuard

from pydantic import ConfigDict, Field

from roomcast.domain.errors import NotAMember, NotRoomCreator, RoomNotFound
from roomcast.domain.shapes import Shape

if TYPE_CHECKING:  # (moderation's rules build on these: a type only, no import cycle)
    from roomcast.domain.moderation import Pace


class CommentView(Shape):
    comment_id: str
    user_id: str
    text: str
    created_at: str
    position: str


class DeletedComment(Shape):
    """A comment's tombstone: history and replay keep its place, never its text or author."""

    # Never mistaken for a comment when frames are read back: a comment's fields are not a tombstone's.
    model_config = ConfigDict(extra="forbid")

    comment_id: str
    position: str
    deleted: Literal[True] = True
    # Paging needs the author (the index's start key carries the table key); it is never sent.
    user_id: str = Field(default="", exclude=True)


FeedEntry = CommentView | DeletedComment
ReviewMode = Literal["off", "failOpen", "failClosed"]


class Room(Shape):
    room_id: str
    created_by: str
    created_at: str
    incarnation: str
    # Room policy and moderators live on the room item, which every command reads anyway.
    moderators: tuple[str, ...] = ()
    slow_mode_seconds: int = 0
    review_mode: ReviewMode = "off"


class Membership(Shape):
    room_id: str
    user_id: str
    incarnation: str
    joined_at: str
    # Moderation state carried on the join item addComment reads anyway (epoch ms).
    muted_until_ms: int | None = None
    last_comment_ms: int | None = None
    # The position of the member's last comment in this membership: the next one is placed after it.
    last_position: str | None = None

    def after_comment(self, position: str, pace: Pace | None = None) -> Membership:
        """The membership once a comment at ``position`` is written: the author's next comment goes after it,
        and in slow mode (``pace``) waits out the interval from the pace's now. What the comment's write
        stores on the join item, for whoever keeps a membership it read across writes."""
        moved: dict[str, object] = {"last_position": position}
        if pace is not None:
            moved["last_comment_ms"] = pace.now_ms
        return self.model_copy(update=moved)


class CommentPage(Shape):
    """One page of history; ``cursor`` is opaque and absent on the last page."""

    room_id: str
    comments: list[FeedEntry]
    cursor: str | None = None


class Connection(Shape):
    connection_id: str
    user_id: str
    expires_at: int  # epoch seconds: just past API Gateway's 2-hour connection limit


class Subscription(Shape):
    connection_id: str
    user_id: str
    room_id: str
    incarnation: str
    expires_at: int
    # Which of the room's subscription partitions holds it, as read from the store (the store chooses it
    # when subscribing); removing it needs it back, since an older subscription may sit elsewhere.
    shard: int = Field(default=0, ge=0)


FEED_SEPARATOR = "#"


def room_feed(room_id: str, incarnation: str) -> str:
    """One incarnation of a room, as the live path and the comment index name it: a room created
    again gets a new, empty feed."""
    return f"{room_id}{FEED_SEPARATOR}{incarnation}"


def split_feed(feed: str) -> tuple[str, str]:
    room_id, _, incarnation = feed.partition(FEED_SEPARATOR)
    return room_id, incarnation


def room_missing(room_id: str) -> RoomNotFound:
    return RoomNotFound(f"room {room_id!r} does not exist")


def not_a_member(room_id: str, user_id: str) -> NotAMember:
    return NotAMember(f"{user_id!r} is not a member of room {room_id!r}")


def require_room(room: Room | None, room_id: str) -> Room:
    if room is None:
        raise room_missing(room_id)
    return room


def require_creator(room: Room | None, room_id: str, user_id: str, what: str = "delete it") -> Room:
    """Creator-only commands: deleting the room, naming moderators, setting its policy."""
    current = require_room(room, room_id)
    if current.created_by != user_id:
        raise NotRoomCreator(f"only the creator of room {room_id!r} may {what}")
    return current


def require_member(room: Room | None, membership: Membership | None, room_id: str, user_id: str) -> Room:
    """The room, if ``membership`` is a member of it (``is_member``); else RoomNotFound or NotAMember.
    Writes re-check it atomically in their transaction."""
    current = require_room(room, room_id)
    if not is_member(membership, current):
        raise not_a_member(room_id, user_id)
    return current


def is_member(membership: Membership | None, room: Room) -> TypeGuard[Membership]:
    """The one membership rule: a join of this room's current incarnation (not of a deleted room of the same id)."""
    return membership is not None and membership.incarnation == room.incarnation
