"""Read queries over a room's history, each paginated by an opaque cursor.

A cursor names the last comment of the page (its author and position); the next
page starts strictly after it, so pages neither overlap nor skip, also when many
comments share a timestamp (positions are unique).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Literal

from pydantic import BaseModel, ValidationError

from roomcast.errors import InvalidRequest, RoomNotFound
from roomcast.models import ID_PATTERN, POSITION_PATTERN, CommentPage, CommentView, Room
from roomcast.repository import ChatRepository, FeedRange

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_POSITION = re.compile(POSITION_PATTERN)

Mode = Literal["all", "latest", "after", "between"]


class _CursorBody(BaseModel):
    u: str
    p: str


def encode_cursor(comment: CommentView) -> str:
    raw = json.dumps({"u": comment.user_id, "p": comment.position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> CommentView:
    """The comment a cursor points at, as far as paging needs it (author and position)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = _CursorBody.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as error:
        raise InvalidRequest("cursor is not one Roomcast issued") from error
    if not re.match(ID_PATTERN, body.u) or not _POSITION.match(body.p):
        raise InvalidRequest("cursor is not one Roomcast issued")
    return CommentView(comment_id=body.p, user_id=body.u, text="", created_at="", position=body.p)


def check_position(position: str, name: str = "position") -> str:
    if not _POSITION.match(position):
        raise InvalidRequest(f"{name} {position!r} is not a Roomcast position")
    return position


def history(
    repo: ChatRepository,
    room_or_id: Room | str,
    mode: Mode = "all",
    *,
    after: str | None = None,
    to: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> CommentPage:
    """One page of a room's comments.

    - ``all``: the whole history, oldest first;
    - ``latest``: newest first, ``limit`` of them (the cursor goes further back);
    - ``after``: strictly after position ``after``, oldest first;
    - ``between``: from ``after`` to ``to``, both included, oldest first.
    """
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    feed_range = _feed_range(mode, after, to)
    start = decode_cursor(cursor) if cursor else None
    # A caller that already read the room (to check membership) passes it, saving a read per page.
    room = repo.get_room(room_or_id) if isinstance(room_or_id, str) else room_or_id
    if room is None:
        raise RoomNotFound(f"room {room_or_id!r} does not exist")
    # One item more than the page tells whether a next page exists, so the last page has no cursor.
    comments, more = repo.query_feed(room, feed_range, size + 1, start)
    if len(comments) > size:
        comments, more = comments[:size], True
    next_cursor = encode_cursor(comments[-1]) if more and comments else None
    return CommentPage(room_id=room.room_id, comments=comments, cursor=next_cursor)


def _feed_range(mode: str, after: str | None, to: str | None) -> FeedRange:
    if mode == "all":
        return FeedRange()
    if mode == "latest":
        return FeedRange(newest_first=True)
    if mode == "after":
        if after is None:
            raise InvalidRequest("mode 'after' needs a position")
        return FeedRange(after=check_position(after))
    if mode == "between":
        if after is None or to is None:
            raise InvalidRequest("mode 'between' needs two positions")
        low, high = check_position(after, "from"), check_position(to, "to")
        if low > high:
            raise InvalidRequest("'from' must not come after 'to'")
        return FeedRange(between=(low, high))
    raise InvalidRequest(f"unknown mode {mode!r}; use all, latest, after or between")
