"""Read a room's history: one page at a time, each with an opaque cursor to the next."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, TypedDict, Unpack

from roomcast.domain.chat import CommentPage, Room, require_room
from roomcast.domain.errors import InvalidRequest
from roomcast.usecases.ports import FeedRange, Store
from roomcast.wire.cursor import check_position, decode_cursor, encode_cursor

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

Mode = Literal["all", "latest", "after", "between"]


class Query(TypedDict, total=False):
    """What ``history`` takes beside the room and the mode."""

    after: str | None
    to: str | None
    limit: int | None
    cursor: str | None


def history(
    store: Store,
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
    room = _room(store, room_or_id)
    # One item more than the page tells whether a next page exists, so the last page has no cursor.
    comments, more = store.comments.query_feed(room, feed_range, size + 1, start)
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


def pages(store: Store, room_or_id: Room | str, mode: Mode = "all", **query: Unpack[Query]) -> Iterator[CommentPage]:
    """Page after page until the last, for ``history``'s query; the caller stops early when it has enough
    (the page it stopped at carries the cursor to go on from)."""
    room = _room(store, room_or_id)
    while True:
        page = history(store, room, mode, **query)
        yield page
        if page.cursor is None:
            return
        query["cursor"] = page.cursor


def _room(store: Store, room_or_id: Room | str) -> Room:
    return require_room(store.rooms.get_room(room_or_id), room_or_id) if isinstance(room_or_id, str) else room_or_id
