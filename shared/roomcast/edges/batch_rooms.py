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
  (incarnation, last position, slow mode's last comment time), as for a read per comment; what the
  transaction does not check (the room's deletion, which leaves join items to the stream's cleanup;
  a mute, the slow-mode interval, review mode, moderators) may be up to ``HELD_MS`` old rather than
  one command old: a pair read longer ago is read again by its next comment (docs/commands.md);
- only the comments before the batch's first other command are read ahead (that command drops
  all), and nothing is held once the batch ends (``end``): the intake outlives its invocation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import takewhile

from roomcast.domain.chat import CommentView, FeedEntry, Membership, Room, is_member
from roomcast.domain.commands import AddComment, Command
from roomcast.domain.ids import Clock
from roomcast.domain.moderation import Pace
from roomcast.usecases.ports import Comments, FeedRange, Receipt, Rooms, Store

Pair = tuple[str, str]  # (room id, user id)
# How long a pair read serves its comments: what no transaction checks is at most this old.
HELD_MS = 1_000


@dataclass(frozen=True)
class _Held:
    room: Room
    membership: Membership
    read_at_ms: int


class BatchRooms:
    """One batch's read ahead; ``store`` is the batch's store, to apply its commands with."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._rooms = store.rooms
        self._clock = clock
        self._held: dict[Pair, _Held] = {}
        rooms, comments = _ServedRooms(store.rooms, self), _MovedComments(store.comments, self)
        self.store = replace(store, rooms=rooms, comments=comments)

    def read(self, commands: Sequence[Command]) -> None:
        """The rooms and joins of the comments before the batch's first other command (which drops
        them all), in one read; raises if it fails (nothing is held)."""
        leading = takewhile(lambda command: isinstance(command, AddComment), commands)
        pairs = list(dict.fromkeys((c.room_id, c.user_id) for c in leading))
        if not pairs:
            return
        found = self._rooms.get_rooms_and_memberships(pairs)
        for pair, (room, membership) in found.items():
            self._hold(pair, room, membership)

    def _hold(self, pair: Pair, room: Room | None, membership: Membership | None) -> None:
        if room is not None and is_member(membership, room):
            self._held[pair] = _Held(room, membership, self._clock())
        else:
            self._held.pop(pair, None)

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

    def passed(self, command: Command) -> None:
        """A command skipped as already recorded: applied by another invocation, maybe since the read."""
        if isinstance(command, AddComment):
            self._held.pop((command.room_id, command.user_id), None)
        else:
            self._held.clear()

    def end(self) -> None:
        """The batch is over: the next one (or a record handled on its own) reads its own."""
        self._held.clear()

    def served(self, pair: Pair) -> tuple[Room, Membership] | None:
        held = self._held.get(pair)
        if held is None or self._clock() - held.read_at_ms > HELD_MS:
            return None
        return held.room, held.membership

    def read_again(self, pair: Pair, room: Room | None, membership: Membership | None) -> None:
        """A held pair too old to serve was read again: its fresh read serves the next comments."""
        if pair in self._held:
            self._hold(pair, room, membership)

    def moved_on(self, pair: Pair, position: str, pace: Pace | None) -> None:
        """A comment of this pair is written: its join item now says so."""
        held = self._held.get(pair)
        if held is not None:
            self._held[pair] = replace(held, membership=held.membership.after_comment(position, pace))


class _ServedRooms:
    """The Rooms port, with get_room_and_membership answered from the batch's read ahead when it holds the pair."""

    def __init__(self, rooms: Rooms, batch: BatchRooms) -> None:
        self._rooms = rooms
        self._batch = batch

    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
        held = self._batch.served((room_id, user_id))
        if held is not None:
            return held
        room, membership = self._rooms.get_room_and_membership(room_id, user_id)
        self._batch.read_again((room_id, user_id), room, membership)
        return room, membership

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
