"""A command batch's rooms and memberships, read ahead for its addComment commands (issue 13).

addComment reads its room and the author's join item before its transaction. For a batch, the intake
reads every (room, author) pair its comments name in one strongly consistent BatchGetItem, and the
batch's store serves add_comment from it instead of a read per comment. What it serves must stay what
a read would answer:

- within the batch, a comment written moves its author on (``Membership.after_comment``), so that the
  author's next comment is placed after it and slow mode counts from it;
- any other command (join, leave, create, delete, moderation) may change rooms or memberships: all
  that was read ahead is dropped before it is applied; a command that fails or is refused drops its
  pair; a pair that is not a member of a room (or no room) is never served, but read again;
- other invocations' writes are caught by the conditions the comment's transaction carries
  (incarnation, last position, slow mode's last comment time), as for a read per comment; only
  settings the transaction does not check (a mute, the room's slow-mode interval, review mode,
  moderators) may now be one batch old rather than one command old (docs/commands.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from roomcast.domain.chat import CommentView, FeedEntry, Membership, Room
from roomcast.domain.commands import AddComment, Command
from roomcast.domain.moderation import Pace
from roomcast.usecases.ports import Comments, FeedRange, Receipt, Rooms, Store

Pair = tuple[str, str]  # (room id, user id)


class BatchRooms:
    """One batch's read ahead; ``store`` is the batch's store, to apply its commands with."""

    def __init__(self, store: Store) -> None:
        self._rooms = store.rooms
        self._held: dict[Pair, tuple[Room, Membership]] = {}
        rooms, comments = _ServedRooms(store.rooms, self), _MovedComments(store.comments, self)
        self.store = replace(store, rooms=rooms, comments=comments)

    def read(self, commands: Sequence[Command]) -> None:
        """The rooms and joins of the batch's comments, in one read; raises if it fails (nothing is held)."""
        pairs = list(dict.fromkeys((c.room_id, c.user_id) for c in commands if isinstance(c, AddComment)))
        if not pairs:
            return
        found = self._rooms.get_rooms_and_memberships(pairs)
        self._held = {
            pair: (room, membership)
            for pair, (room, membership) in found.items()
            if room is not None and membership is not None and membership.incarnation == room.incarnation
        }

    @contextmanager
    def applying(self, command: Command) -> Iterator[Store]:
        """Around one command: what it may change, or what it failed on, is not served after it."""
        if not isinstance(command, AddComment):
            self._held.clear()
        try:
            yield self.store
        except BaseException:
            self._held.pop((command.room_id, command.user_id), None)
            raise

    def served(self, pair: Pair) -> tuple[Room, Membership] | None:
        return self._held.get(pair)

    def moved_on(self, pair: Pair, position: str, pace: Pace | None) -> None:
        """A comment of this pair is written: its join item now says so."""
        if pair in self._held:
            room, membership = self._held[pair]
            paced_at = pace.now_ms if pace is not None else None
            self._held[pair] = (room, membership.after_comment(position, paced_at))


class _ServedRooms:
    """The Rooms port, with get_room_and_membership answered from the batch's read ahead when it holds the pair."""

    def __init__(self, rooms: Rooms, batch: BatchRooms) -> None:
        self._rooms = rooms
        self._batch = batch

    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
        held = self._batch.served((room_id, user_id))
        return held if held is not None else self._rooms.get_room_and_membership(room_id, user_id)

    def get_rooms_and_memberships(self, pairs: Sequence[Pair]) -> dict[Pair, tuple[Room | None, Membership | None]]:
        return self._rooms.get_rooms_and_memberships(pairs)

    def create_room(self, room: Room, receipt: Receipt | None = None) -> None:
        self._rooms.create_room(room, receipt)

    def get_room(self, room_id: str) -> Room | None:
        return self._rooms.get_room(room_id)

    def delete_room(self, room: Room, receipt: Receipt | None = None) -> None:
        self._rooms.delete_room(room, receipt)

    def add_member(self, room: Room, user_id: str, joined_at: str, receipt: Receipt | None = None) -> bool:
        return self._rooms.add_member(room, user_id, joined_at, receipt)

    def remove_member(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool:
        return self._rooms.remove_member(room, user_id, receipt)

    def members_among(self, room_id: str, incarnation: str, user_ids: set[str]) -> set[str]:
        return self._rooms.members_among(room_id, incarnation, user_ids)

    def list_members(
        self, room_id: str, incarnation: str, start: str | None = None, limit: int = 1000, consistent: bool = False
    ) -> tuple[list[Membership], str | None]:
        return self._rooms.list_members(room_id, incarnation, start, limit, consistent)


class _MovedComments:
    """The Comments port, telling the batch's read ahead what each comment written changed."""

    def __init__(self, comments: Comments, batch: BatchRooms) -> None:
        self._comments = comments
        self._batch = batch

    def put_comment(
        self, room: Room, comment: CommentView, receipt: Receipt | None = None, pace: Pace | None = None
    ) -> None:
        # (a failed write drops its pair: BatchRooms.applying)
        self._comments.put_comment(room, comment, receipt, pace)
        self._batch.moved_on((room.room_id, comment.user_id), comment.position, pace)

    def query_feed(
        self, room: Room, feed_range: FeedRange, limit: int, start: FeedEntry | None = None
    ) -> tuple[list[FeedEntry], bool]:
        return self._comments.query_feed(room, feed_range, limit, start)
