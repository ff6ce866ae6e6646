"""What the use cases need from the outside world. The DynamoDB adapters implement these for
production; ``tests/support/memory.py`` implements them in memory for the rule tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from roomcast.domain.chat import CommentView, Connection, FeedEntry, Membership, ReviewMode, Room, Subscription
from roomcast.domain.events import Event
from roomcast.domain.moderation import Pace, Sanction
from roomcast.domain.outcomes import CommandOutcome
from roomcast.domain.review import Verdict


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

    def recorded_among(self, keys: Sequence[str]) -> dict[str, tuple[CommandOutcome, str]]:
        """``recorded`` for up to 100 keys in one read: the keys that have a record, with it."""

    def record(self, receipt: Receipt) -> bool:
        """Writes the record unless a final one (applied or rejected) exists: False then."""


class Rooms(Protocol):
    def create_room(self, room: Room, receipt: Receipt | None = None) -> None: ...
    def get_room(self, room_id: str) -> Room | None: ...
    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]: ...
    def get_rooms_and_memberships(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Room | None, Membership | None]]:
        """``get_room_and_membership`` for each (room id, user id), in one strongly consistent read."""

    def delete_room(self, room: Room, receipt: Receipt | None = None) -> None: ...
    def add_member(self, room: Room, user_id: str, joined_at: str, receipt: Receipt | None = None) -> bool: ...
    def remove_member(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool: ...
    def members_among(self, room_id: str, incarnation: str, user_ids: set[str]) -> set[str]:
        """Which of these users are members of this incarnation now (strongly consistent)."""

    def list_members(
        self, room_id: str, incarnation: str, start: str | None = None, limit: int = 1000, consistent: bool = False
    ) -> tuple[list[Membership], str | None]: ...


class Comments(Protocol):
    def put_comment(
        self, room: Room, comment: CommentView, receipt: Receipt | None = None, pace: Pace | None = None
    ) -> None:
        """With a ``pace`` (slow mode), the author's last comment time is checked and moved in the same write."""

    def query_feed(
        self, room: Room, feed_range: FeedRange, limit: int, start: FeedEntry | None = None
    ) -> tuple[list[FeedEntry], bool]: ...


class Moderation(Protocol):
    """Moderators and policy (on the room item), bans and mutes (items of their own), tombstones."""

    def get_room_and_sanctions(
        self, room_id: str, user_id: str
    ) -> tuple[Room | None, Sanction | None, Sanction | None]:
        """The room, the user's ban and mute (any incarnation): one strongly consistent read."""

    def get_ban(self, room: Room, user_id: str) -> Sanction | None: ...
    def join(self, room: Room, membership: Membership, now_ms: int, receipt: Receipt | None = None) -> bool:
        """add_member that also refuses, atomically, a ban in force (Banned); False when already a member."""

    def ban(self, room: Room, ban: Sanction, member: bool, receipt: Receipt | None = None) -> None:
        """The ban item, and with ``member`` the end of the target's membership, in one write."""

    def unban(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool: ...
    def mute(self, room: Room, mute: Sanction, member: bool, receipt: Receipt | None = None) -> None: ...
    def unmute(self, room: Room, user_id: str, member: bool, receipt: Receipt | None = None) -> bool: ...
    def set_moderator(self, room: Room, user_id: str, moderator: bool, receipt: Receipt | None = None) -> bool: ...
    def set_policy(
        self, room: Room, slow_mode_seconds: int, review_mode: ReviewMode, receipt: Receipt | None = None
    ) -> None: ...
    def get_room_and_comment(self, room_id: str, user_id: str, comment_id: str) -> tuple[Room | None, FeedEntry | None]:
        """The room and this user's own comment of that id (any room), in one strongly consistent read."""

    def find_comment(self, room: Room, comment_id: str) -> FeedEntry | None:
        """Any author's comment of this incarnation by id (the index: eventually consistent)."""

    def delete_comment(
        self, room: Room, comment: CommentView, by: str, at_ms: int, receipt: Receipt | None = None
    ) -> bool:
        """Make it a tombstone; False when it already is one."""


class Reviewer(Protocol):
    """The room's review function (docs/moderation.md, review hook): raises ReviewFailed when it
    fails or does not answer within its budget."""

    def review(self, room_id: str, user_id: str, text: str) -> Verdict: ...


class Connections(Protocol):
    def put_connection(self, connection: Connection) -> None: ...
    def add_subscription(self, room: Room, subscription: Subscription) -> None: ...
    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None, consistent: bool = False
    ) -> tuple[list[Subscription], str | None]: ...
    def all_subscribers(self, feed: str, consistent: bool = False, fresh: bool = False) -> list[Subscription]:
        """Every page; ``consistent`` reads them strongly consistently (twice the read units); ``fresh``
        reads every shard again, whatever a warm reader kept (a subscribe that committed but has not
        answered yet is in the read)."""

    def remove_subscriptions(self, subscriptions: Sequence[Subscription]) -> None: ...
    def renew_heads(self, feed: str) -> None:
        """Tell every warm reader of the feed to read all of its subscriptions again."""

    def drop_heads(self, feed: str) -> None:
        """Forget what the feed's shards' heads tell warm readers: its room is deleted, no subscription left."""

    def unsubscribe(self, connection_id: str, room_id: str) -> int: ...
    def delete_connection(self, connection_id: str) -> int: ...


class Cleanup(Protocol):
    # How long the comment index may lag the table: the cleanup reads it once more after this long.
    index_settle_ms: int

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
    moderation: Moderation
