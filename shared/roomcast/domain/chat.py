"""Rooms, members, comments, connections and subscriptions, and the rules that tie them.

Every room has an incarnation (a ULID drawn at creation): a membership, subscription or
comment belongs to one incarnation, so nothing of a deleted room is visible after the
same id is created again (docs/data-model.md).
"""

from __future__ import annotations

from roomcast.domain.errors import NotAMember, NotRoomCreator, RoomNotFound
from roomcast.domain.shapes import Shape


class CommentView(Shape):
    comment_id: str
    user_id: str
    text: str
    created_at: str
    position: str


class Room(Shape):
    room_id: str
    created_by: str
    created_at: str
    incarnation: str


class Membership(Shape):
    room_id: str
    user_id: str
    incarnation: str
    joined_at: str
    # The position of the member's last comment in this membership: the next one is placed after it.
    last_position: str | None = None


class CommentPage(Shape):
    """One page of history; ``cursor`` is opaque and absent on the last page."""

    room_id: str
    comments: list[CommentView]
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


def require_creator(room: Room | None, room_id: str, user_id: str) -> Room:
    """Creator-only commands: deleting the room."""
    current = require_room(room, room_id)
    if current.created_by != user_id:
        raise NotRoomCreator(f"only the creator of room {room_id!r} may delete it")
    return current


def require_member(room: Room | None, membership: Membership | None, room_id: str, user_id: str) -> Room:
    """The one membership rule: a member of the room's *current* incarnation (a join of a deleted
    room of the same id does not count). Writes re-check it atomically in their transaction."""
    current = require_room(room, room_id)
    if membership is None or membership.incarnation != current.incarnation:
        raise not_a_member(room_id, user_id)
    return current
