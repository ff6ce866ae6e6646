"""What the use cases need from the outside world. The DynamoDB adapters implement these for
production; ``tests/support/memory.py`` implements them in memory for the rule tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from roomcast.domain.chat import CommentView, Connection, Membership, Room, Subscription
from roomcast.domain.events import Event
from roomcast.domain.outcomes import CommandOutcome


@dataclass(frozen=True)
class FeedRange:
    """Which part of a room's feed a query reads; positions compare as strings."""

    after: str | None = None  # exclusive
    between: tuple[str, str] | None = None  # inclusive
    newest_first: bool = False


@dataclass(frozen=True)
class Receipt:
    """A command's outcome record, carried by the write that applies it so that both commit together."""

    key: str
    fingerprint: str
    outcome: CommandOutcome
    expires_at: int


# Turns the event a command is about to cause into the receipt its write carries.
Recorder = Callable[[Event], Receipt]


class Ledger(Protocol):
    """Outcome records, by key (see domain/outcomes.outcome_key)."""

    def recorded(self, key: str) -> tuple[CommandOutcome, str] | None:
        """The outcome and the fingerprint of the command that earned it, or None."""

    def record(self, receipt: Receipt) -> bool:
        """Writes the record unless a final one (applied or rejected) exists: False then."""


class Rooms(Protocol):
    def create_room(self, room: Room, receipt: Receipt | None = None) -> None: ...
    def get_room(self, room_id: str) -> Room | None: ...
    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]: ...
    def delete_room(self, room: Room, receipt: Receipt | None = None) -> None: ...
    def add_member(self, room: Room, user_id: str, joined_at: str, receipt: Receipt | None = None) -> bool: ...
    def remove_member(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool: ...
    def members_among(self, room_id: str, incarnation: str, user_ids: set[str]) -> set[str]:
        """Which of these users are members of this incarnation now (strongly consistent)."""

    def list_members(
        self, room_id: str, incarnation: str, start: str | None = None, limit: int = 1000, consistent: bool = False
    ) -> tuple[list[Membership], str | None]: ...


class Comments(Protocol):
    def put_comment(self, room: Room, comment: CommentView, receipt: Receipt | None = None) -> None: ...
    def query_feed(
        self, room: Room, feed_range: FeedRange, limit: int, start: CommentView | None = None
    ) -> tuple[list[CommentView], bool]: ...


class Connections(Protocol):
    def put_connection(self, connection: Connection) -> None: ...
    def add_subscription(self, room: Room, subscription: Subscription) -> None: ...
    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None, consistent: bool = False
    ) -> tuple[list[Subscription], str | None]: ...
    def all_subscribers(self, feed: str) -> list[Subscription]: ...
    def remove_subscriptions(self, subscriptions: Sequence[Subscription]) -> None: ...
    def unsubscribe(self, connection_id: str, room_id: str) -> int: ...
    def delete_connection(self, connection_id: str) -> int: ...


class Cleanup(Protocol):
    def delete_memberships(self, memberships: Sequence[Membership]) -> None: ...
    def delete_comments_page(self, feed: str, limit: int) -> int: ...
    def touch_cleanup_task(self, feed: str) -> int: ...
    def delete_cleanup_task(self, feed: str) -> None: ...


class Poster(Protocol):
    """Frames to one WebSocket connection: raises ConnectionGone, PostRefused or TransientError."""

    attempts: int

    def post(self, connection_id: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class Store:
    """The table, by aggregate."""

    rooms: Rooms
    comments: Comments
    connections: Connections
    cleanup: Cleanup
    ledger: Ledger
