"""The table in memory: the use cases' ports with the DynamoDB adapters' semantics, no network, no moto.

One ``MemoryTable`` holds what the single table holds (room, both sides of each join and of each
subscription, comments by feed, connections, cleanup tasks); ``MemoryRooms``, ``MemoryComments``,
``MemoryConnections`` and ``MemoryCleanup`` are its views by aggregate, as the adapters are. Conditional
writes check what the adapters' transactions check, in the same order, and raise the same domain errors
(or return False where the adapters swallow their ``AlreadyDone``).

The table also keeps its stream: every write the stream filter lets through becomes a ``Change`` as
``adapters/dynamodb/stream_records.change_of`` reads it, so live-path tests run on what commands wrote.
Reads are consistent: the fake models no index lag, throttling or TTL deletion (those stay the moto and
bench suites' business). Where moto 5.2.5 and DynamoDB differ, the fake follows DynamoDB: a full page
carries a last key even when nothing follows, and a history start key outside the query's bounds is a
ValidationException (InvalidRequest), which moto does not check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from roomcast.domain.chat import (
    CommentView,
    Connection,
    FeedEntry,
    Membership,
    Room,
    Subscription,
    not_a_member,
    room_feed,
    room_missing,
    split_feed,
)
from roomcast.domain.errors import (
    AlreadyRecorded,
    InvalidRequest,
    RoomAlreadyExists,
    SlowMode,
    TransientError,
)
from roomcast.domain.events import ChatRoomDeleted, CleanupScheduled, CommentAdded, MemberJoined, MemberLeft
from roomcast.domain.moderation import Pace, Sanction
from roomcast.domain.outcomes import CommandOutcome
from roomcast.usecases.ports import FeedRange, Receipt, Store
from roomcast.usecases.stream import Change, StreamEvent


def page_after[V](ordered: Sequence[tuple[str, V]], start: str | None, limit: int | None) -> tuple[list[V], str | None]:
    """One page of key-ordered rows strictly after ``start``, and its last key when the page is full: DynamoDB
    returns a LastEvaluatedKey whenever Limit is reached, so callers must take an empty last page in stride."""
    rows = [row for row in ordered if start is None or row[0] > start]
    if limit is None or len(rows) < limit:
        return [value for _, value in rows], None
    return [value for _, value in rows[:limit]], rows[limit - 1][0]


class MemoryTable:
    """The single table's items, by kind, and the stream of its changes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # fan-out calls in from a thread pool
        self.rooms: dict[str, Room] = {}
        self.joins: dict[tuple[str, str], Membership] = {}  # user side: (user_id, room_id)
        self.members: dict[tuple[str, str, str], Membership] = {}  # room side: (room_id, incarnation, user_id)
        self.comments: dict[tuple[str, str], tuple[str, FeedEntry]] = {}  # (user_id, comment_id): (feed, comment)
        self.connections: dict[str, Connection] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}  # connection side: (connection_id, feed)
        self.subscribers: dict[tuple[str, str], Subscription] = {}  # room side: (feed, connection_id)
        self.cleanup_tasks: dict[str, int] = {}
        self.outcomes: dict[str, tuple[CommandOutcome, str]] = {}  # key: (outcome, fingerprint)
        self.bans: dict[tuple[str, str], Sanction] = {}  # (room_id, user_id), any incarnation
        self.mutes: dict[tuple[str, str], Sanction] = {}
        self.stream: list[Change] = []

    # ---- the stream ------------------------------------------------------------------------

    def record(self, feed: str, event: StreamEvent) -> None:
        self.stream.append(Change(sequence=f"{len(self.stream) + 1:021d}", feed=feed, event=event))

    def drain(self) -> list[Change]:
        """The changes since the last drain, in write order: one stream batch."""
        with self.lock:
            batch, self.stream = self.stream, []
        return batch

    # ---- items with stream records -----------------------------------------------------------

    def put_join(self, membership: Membership) -> None:
        """Both sides; a join replacing one of another incarnation (or none) is a ``memberJoined``."""
        old = self.joins.get((membership.user_id, membership.room_id))
        self.joins[(membership.user_id, membership.room_id)] = membership
        self.members[(membership.room_id, membership.incarnation, membership.user_id)] = membership
        if old is None or old.incarnation != membership.incarnation:
            event = MemberJoined(room_id=membership.room_id, user_id=membership.user_id)
            self.record(room_feed(membership.room_id, membership.incarnation), event)

    def delete_join(self, user_id: str, room_id: str) -> None:
        old = self.joins.pop((user_id, room_id), None)
        if old is not None:
            self.record(room_feed(room_id, old.incarnation), MemberLeft(room_id=room_id, user_id=user_id))

    def check_receipt(self, receipt: Receipt | None) -> None:
        """The adapters put a receipt first in each transaction: a recorded outcome refuses it first."""
        if receipt is not None and not self.receipt_allowed(receipt):
            raise AlreadyRecorded(f"the outcome of {receipt.key} is already recorded")

    def receipt_allowed(self, receipt: Receipt) -> bool:
        found = self.outcomes.get(receipt.key)
        return found is None or found[0].status == "deadLettered"

    def write_receipt(self, receipt: Receipt | None) -> None:
        if receipt is not None:
            self.outcomes[receipt.key] = (receipt.outcome, receipt.fingerprint)

    def same_incarnation(self, room: Room) -> bool:
        current = self.rooms.get(room.room_id)
        return current is not None and current.incarnation == room.incarnation

    def joined(self, room: Room, user_id: str) -> bool:
        join = self.joins.get((user_id, room.room_id))
        return join is not None and join.incarnation == room.incarnation

    def check_room_and_join(self, room: Room, user_id: str) -> None:
        """The adapters' two ConditionChecks, in their order: room incarnation, then the user's join."""
        if not self.same_incarnation(room):
            raise room_missing(room.room_id)
        if not self.joined(room, user_id):
            raise not_a_member(room.room_id, user_id)

    def feed_comments(self, feed: str) -> list[tuple[str, FeedEntry]]:
        """The comment index of one feed, by position."""
        found = [(c.position, c) for f, c in self.comments.values() if f == feed]
        return sorted(found, key=lambda row: row[0])


class _View:
    def __init__(self, table: MemoryTable) -> None:
        self.table = table


class MemoryRooms(_View):
    def create_room(self, room: Room, receipt: Receipt | None = None) -> None:
        with self.table.lock:
            self.table.check_receipt(receipt)
            if room.room_id in self.table.rooms:
                raise RoomAlreadyExists(f"room {room.room_id!r} already exists")
            self.table.rooms[room.room_id] = room
            self.table.put_join(
                Membership(
                    room_id=room.room_id,
                    user_id=room.created_by,
                    incarnation=room.incarnation,
                    joined_at=room.created_at,
                )
            )
            self.table.write_receipt(receipt)

    def get_room(self, room_id: str) -> Room | None:
        return self.table.rooms.get(room_id)

    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
        with self.table.lock:
            return self.table.rooms.get(room_id), self.table.joins.get((user_id, room_id))

    def get_rooms_and_memberships(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Room | None, Membership | None]]:
        with self.table.lock:
            return {(r, u): (self.table.rooms.get(r), self.table.joins.get((u, r))) for r, u in pairs}

    def members_among(self, room_id: str, incarnation: str, user_ids: set[str]) -> set[str]:
        with self.table.lock:
            joins = (self.table.joins.get((user, room_id)) for user in user_ids)
            return {j.user_id for j in joins if j is not None and j.incarnation == incarnation}

    def delete_room(self, room: Room, receipt: Receipt | None = None) -> None:
        """This incarnation only: the creator rule is the use case's."""
        with self.table.lock:
            self.table.check_receipt(receipt)
            if not self.table.same_incarnation(room):
                raise room_missing(room.room_id)
            del self.table.rooms[room.room_id]
            deleted = ChatRoomDeleted(room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation)
            self.table.record(room_feed(room.room_id, room.incarnation), deleted)
            self.table.write_receipt(receipt)

    def add_member(self, room: Room, user_id: str, joined_at: str, receipt: Receipt | None = None) -> bool:
        with self.table.lock:
            self.table.check_receipt(receipt)
            if not self.table.same_incarnation(room):
                raise room_missing(room.room_id)
            if self.table.joined(room, user_id):
                return False
            self.table.put_join(
                Membership(room_id=room.room_id, user_id=user_id, incarnation=room.incarnation, joined_at=joined_at)
            )
            self.table.write_receipt(receipt)
            return True

    def remove_member(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool:
        """Like the adapter, checks the join's incarnation only, not that the room still exists."""
        with self.table.lock:
            self.table.check_receipt(receipt)
            if not self.table.joined(room, user_id):
                return False
            self.table.delete_join(user_id, room.room_id)
            self.table.members.pop((room.room_id, room.incarnation, user_id), None)
            self.table.write_receipt(receipt)
            return True

    def list_members(
        self, room_id: str, incarnation: str, start: str | None = None, limit: int = 1000, consistent: bool = False
    ) -> tuple[list[Membership], str | None]:
        with self.table.lock:
            rows = sorted((u, m) for (r, i, u), m in self.table.members.items() if (r, i) == (room_id, incarnation))
        return page_after(rows, start, limit)


class MemoryComments(_View):
    def put_comment(
        self, room: Room, comment: CommentView, receipt: Receipt | None = None, pace: Pace | None = None
    ) -> None:
        with self.table.lock:
            self.table.check_receipt(receipt)
            # Like the adapter: the join item's condition only, no check of the room; when it fails, the
            # room gone answers RoomNotFound. A comment racing the room's delete is written (the cleanup sweeps it).
            join = self.table.joins.get((comment.user_id, room.room_id))
            if join is None or join.incarnation != room.incarnation:
                raise self._refusal(room, not_a_member(room.room_id, comment.user_id))
            if join.last_position is not None and join.last_position >= comment.position:
                raise self._refusal(room, not_a_member(room.room_id, comment.user_id))
            if pace is not None and join.last_comment_ms is not None and join.last_comment_ms > pace.cutoff_ms:
                raise self._refusal(room, SlowMode(f"{comment.user_id!r} commented within the slow-mode interval"))
            key = (comment.user_id, comment.comment_id)
            if key in self.table.comments:
                raise TransientError(f"comment id {comment.comment_id} collided")
            feed = room_feed(room.room_id, room.incarnation)
            self.table.comments[key] = (feed, comment)
            # Not through put_join: the adapter's update of the join item is no join.
            self.table.joins[(comment.user_id, room.room_id)] = join.after_comment(comment.position, pace)
            self.table.record(feed, CommentAdded(room_id=room.room_id, comment=comment))
            self.table.write_receipt(receipt)

    def _refusal(self, room: Room, refusal: Exception) -> Exception:
        return refusal if self.table.same_incarnation(room) else room_missing(room.room_id)

    def query_feed(
        self, room: Room, feed_range: FeedRange, limit: int, start: FeedEntry | None = None
    ) -> tuple[list[FeedEntry], bool]:
        with self.table.lock:
            rows = self.table.feed_comments(room_feed(room.room_id, room.incarnation))
        in_range = _range_check(feed_range)
        rows = [row for row in rows if in_range(row[0])]
        if start is not None:
            # DynamoDB refuses an ExclusiveStartKey outside the key condition (ValidationException).
            if not in_range(start.position):
                raise InvalidRequest("cursor does not belong to this query")
            if feed_range.newest_first:
                rows = [row for row in rows if row[0] < start.position]
            else:
                rows = [row for row in rows if row[0] > start.position]
        if feed_range.newest_first:
            rows.reverse()
        # "More may follow" as DynamoDB says it: whenever Limit was reached.
        return [comment for _, comment in rows[:limit]], len(rows) >= limit


def _range_check(feed_range: FeedRange) -> Callable[[str], bool]:
    if feed_range.after is not None:
        after = feed_range.after
        return lambda position: position > after
    if feed_range.between is not None:
        low, high = feed_range.between
        return lambda position: low <= position <= high
    return lambda position: True


class MemoryConnections(_View):
    def put_connection(self, connection: Connection) -> None:
        with self.table.lock:
            self.table.connections[connection.connection_id] = connection

    def add_subscription(self, room: Room, subscription: Subscription) -> None:
        with self.table.lock:
            self.table.check_room_and_join(room, subscription.user_id)
            feed = room_feed(room.room_id, room.incarnation)
            self.table.subscribers[(feed, subscription.connection_id)] = subscription
            self.table.subscriptions[(subscription.connection_id, feed)] = subscription

    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None, consistent: bool = False
    ) -> tuple[list[Subscription], str | None]:
        with self.table.lock:
            rows = sorted((c, s) for (f, c), s in self.table.subscribers.items() if f == feed)
        return page_after(rows, start, limit)

    def all_subscribers(self, feed: str, consistent: bool = False, fresh: bool = False) -> list[Subscription]:
        return self.subscribers(feed, consistent=consistent)[0]

    def remove_subscriptions(self, subscriptions: Sequence[Subscription]) -> None:
        with self.table.lock:
            for sub in subscriptions:
                self._remove_both_sides(sub.connection_id, room_feed(sub.room_id, sub.incarnation))

    def renew_heads(self, feed: str) -> None:
        """No heads here: this store has no warm readers to tell."""

    def drop_heads(self, feed: str) -> None:
        """Nothing to drop: this store keeps no heads."""

    def unsubscribe(self, connection_id: str, room_id: str) -> int:
        """Any incarnation of the room: the adapter matches the ``Sub:<roomId>#`` prefix."""
        with self.table.lock:
            feeds = [f for c, f in self.table.subscriptions if c == connection_id and split_feed(f)[0] == room_id]
            for feed in feeds:
                self._remove_both_sides(connection_id, feed)
            return len(feeds)

    def delete_connection(self, connection_id: str) -> int:
        """Counts keys as the adapter does: 1 for the connection item, 2 for each subscription."""
        with self.table.lock:
            deleted = 1 if self.table.connections.pop(connection_id, None) else 0
            feeds = [f for c, f in self.table.subscriptions if c == connection_id]
            for feed in feeds:
                self._remove_both_sides(connection_id, feed)
            return deleted + 2 * len(feeds)

    def _remove_both_sides(self, connection_id: str, feed: str) -> None:
        self.table.subscribers.pop((feed, connection_id), None)
        self.table.subscriptions.pop((connection_id, feed), None)


class MemoryCleanup(_View):
    index_settle_ms = 0  # its index is the table itself: no lag to wait for

    def delete_memberships(self, memberships: Sequence[Membership]) -> None:
        with self.table.lock:
            for membership in memberships:
                join = self.table.joins.get((membership.user_id, membership.room_id))
                # The user may since have joined a room created again with the same id: keep that join.
                if join is not None and join.incarnation == membership.incarnation:
                    self.table.delete_join(membership.user_id, membership.room_id)
                self.table.members.pop((membership.room_id, membership.incarnation, membership.user_id), None)

    def delete_comments_page(self, feed: str, limit: int) -> int:
        with self.table.lock:
            doomed = self.table.feed_comments(feed)[:limit]
            for _, comment in doomed:
                del self.table.comments[(comment.user_id, comment.comment_id)]
            return len(doomed)

    def touch_cleanup_task(self, feed: str) -> int:
        with self.table.lock:
            step = self.table.cleanup_tasks.get(feed, 0) + 1
            self.table.cleanup_tasks[feed] = step
            room_id, incarnation = split_feed(feed)
            self.table.record(feed, CleanupScheduled(room_id=room_id, incarnation=incarnation))
            return step

    def delete_cleanup_task(self, feed: str) -> None:
        with self.table.lock:
            self.table.cleanup_tasks.pop(feed, None)


class MemoryLedger(_View):
    def recorded(self, key: str) -> tuple[CommandOutcome, str] | None:
        with self.table.lock:
            return self.table.outcomes.get(key)

    def recorded_among(self, keys: Sequence[str]) -> dict[str, tuple[CommandOutcome, str]]:
        with self.table.lock:
            return {key: self.table.outcomes[key] for key in keys if key in self.table.outcomes}

    def record(self, receipt: Receipt) -> bool:
        with self.table.lock:
            if not self.table.receipt_allowed(receipt):
                return False
            self.table.write_receipt(receipt)
            return True


def memory_store(table: MemoryTable | None = None) -> Store:
    """The views of one table, as ``dynamodb_store`` builds them; the table is ``store.rooms.table``."""
    from support.memory_moderation import MemoryModeration

    shared = table or MemoryTable()
    return Store(
        moderation=MemoryModeration(shared),
        rooms=MemoryRooms(shared),
        comments=MemoryComments(shared),
        connections=MemoryConnections(shared),
        cleanup=MemoryCleanup(shared),
        ledger=MemoryLedger(shared),
    )
