"""The frames the server sends, and how comments are packed into them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from roomcast.domain.chat import FeedEntry
from roomcast.domain.events import MemberJoined, MemberLeft
from roomcast.domain.shapes import Shape


class CommentsFrame(Shape):
    """New comments of one room, in position order; clients dedupe by commentId (delivery is at-least-once)."""

    type: Literal["comments"] = "comments"
    room_id: str
    comments: list[FeedEntry]


class RoomDeletedFrame(Shape):
    type: Literal["roomDeleted"] = "roomDeleted"
    room_id: str


class CommentDeletedFrame(Shape):
    """A comment became a tombstone: clients remove its text (history shows ``deleted``)."""

    type: Literal["commentDeleted"] = "commentDeleted"
    room_id: str
    comment_id: str
    position: str


class BannedFrame(Shape):
    """To the banned user's own connections, their last frame of the room: its feed ends here."""

    type: Literal["banned"] = "banned"
    room_id: str
    user_id: str
    until: str | None = None
    reason: str | None = None


class SubscribedFrame(Shape):
    """Sent after any replay of missed comments; a cursor means the replay stopped early (page on with history)."""

    type: Literal["subscribed"] = "subscribed"
    room_id: str
    replayed: int = 0
    cursor: str | None = None
    request_id: str | None = None


class UnsubscribedFrame(Shape):
    type: Literal["unsubscribed"] = "unsubscribed"
    room_id: str
    request_id: str | None = None


class HistoryFrame(Shape):
    type: Literal["history"] = "history"
    room_id: str
    mode: str
    comments: list[FeedEntry]
    cursor: str | None = None
    request_id: str | None = None


class ErrorFrame(Shape):
    type: Literal["error"] = "error"
    code: str
    message: str
    request_id: str | None = None


Frame: TypeAlias = Annotated[
    CommentsFrame
    | MemberJoined  # presence frames are the events themselves
    | MemberLeft
    | RoomDeletedFrame
    | CommentDeletedFrame
    | BannedFrame
    | SubscribedFrame
    | UnsubscribedFrame
    | HistoryFrame
    | ErrorFrame,
    Field(discriminator="type"),
]
FRAME_ADAPTER: TypeAdapter[Frame] = TypeAdapter(Frame)


def encode_frame(frame: Shape) -> bytes:
    return frame.model_dump_json(by_alias=True).encode()


def comment_frames(room_id: str, comments: Iterable[FeedEntry], limit: int) -> list[bytes]:
    """The comments (tombstones included) in position order, packed greedily into as few frames as fit
    ``limit`` bytes."""
    ordered = sorted(comments, key=lambda c: c.position)
    frames: list[bytes] = []
    current: list[FeedEntry] = []
    for comment in ordered:
        candidate = encode_frame(CommentsFrame(room_id=room_id, comments=[*current, comment]))
        if len(candidate) > limit and current:
            frames.append(encode_frame(CommentsFrame(room_id=room_id, comments=current)))
            current = [comment]
        else:
            current.append(comment)
    if current:
        frames.append(encode_frame(CommentsFrame(room_id=room_id, comments=current)))
    return frames
