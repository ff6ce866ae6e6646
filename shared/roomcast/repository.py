"""Every DynamoDB request Roomcast makes, and the only place that sees ClientError."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from roomcast import clients, keys
from roomcast.errors import (
    InvalidRequest,
    NotAMember,
    NotRoomCreator,
    RoomAlreadyExists,
    RoomcastError,
    RoomNotFound,
    TransientError,
)
from roomcast.models import CommentView, Connection, Membership, Room, Subscription

Item = dict[str, Any]

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
_MAX_UNPROCESSED_RETRIES = 8
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


@contextmanager
def _translated() -> Iterator[None]:
    """Map botocore failures to domain errors; anything else is a bug and propagates."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _TRANSIENT_CODES:
            raise TransientError(f"DynamoDB: {code}") from error
        raise
    except BotoCoreError as error:  # timeouts, connection resets
        raise TransientError(f"DynamoDB unreachable: {type(error).__name__}") from error


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FeedRange:
    """Which part of a room's feed a query reads; positions compare as strings."""

    after: str | None = None  # exclusive
    between: tuple[str, str] | None = None  # inclusive
    newest_first: bool = False


class ChatRepository:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or clients.dynamodb()

    # ---- rooms -----------------------------------------------------------------------

    def create_room(self, room: Room) -> None:
        """Room and creator's membership in one transaction; fails if the room exists."""
        membership = Membership(
            room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation, joined_at=room.created_at
        )
        self._transact(
            [
                {
                    "Put": {
                        "Item": _room_item(room),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                *self._membership_puts(membership, condition=None),
            ],
            on_condition_failed=[lambda: RoomAlreadyExists(f"room {room.room_id!r} already exists"), None, None],
        )

    def get_room(self, room_id: str) -> Room | None:
        with _translated():
            response = self.client.get_item(
                TableName=self.table_name,
                Key={"PK": keys.room_pk(room_id), "SK": keys.META},
                ConsistentRead=True,
            )
        item = response.get("Item")
        return _room(item) if item else None

    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
        """Both items in one strongly consistent BatchGetItem."""
        wanted = [
            {"PK": keys.room_pk(room_id), "SK": keys.META},
            {"PK": keys.user_pk(user_id), "SK": keys.join_sk(room_id)},
        ]
        found: list[Item] = []
        request: dict[str, Any] = {self.table_name: {"Keys": wanted, "ConsistentRead": True}}
        while request:
            with _translated():
                response = self.client.batch_get_item(RequestItems=request)
            found.extend(response.get("Responses", {}).get(self.table_name, []))
            request = response.get("UnprocessedKeys") or {}
        room = next((_room(i) for i in found if i["SK"] == keys.META), None)
        membership = next((_membership(i) for i in found if i["SK"] != keys.META), None)
        return room, membership

    def delete_room(self, room_id: str, user_id: str) -> Room:
        """Deletes the room's meta item if ``user_id`` created it; the stream drives the cleanup."""
        try:
            with _translated():
                response = self.client.delete_item(
                    TableName=self.table_name,
                    Key={"PK": keys.room_pk(room_id), "SK": keys.META},
                    ConditionExpression="attribute_exists(PK) AND CreatedBy = :user",
                    ExpressionAttributeValues={":user": user_id},
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if error.response.get("Item"):
                raise NotRoomCreator(f"only the creator of room {room_id!r} may delete it") from error
            raise RoomNotFound(f"room {room_id!r} does not exist") from error
        return _room(response["Attributes"])

    # ---- membership ------------------------------------------------------------------

    def add_member(self, room: Room, user_id: str, joined_at: str) -> bool:
        """Join the current incarnation of ``room``. False when already a member (nothing written)."""
        membership = Membership(
            room_id=room.room_id, user_id=user_id, incarnation=room.incarnation, joined_at=joined_at
        )
        try:
            self._transact(
                [
                    self._room_check(room),
                    *self._membership_puts(
                        membership, condition="attribute_not_exists(PK) OR Incarnation <> :incarnation"
                    ),
                ],
                on_condition_failed=[lambda: _room_gone(room), _AlreadyDone, _AlreadyDone],
            )
        except _AlreadyDone:
            return False
        return True

    def remove_member(self, room: Room, user_id: str) -> bool:
        """Leave the current incarnation of ``room``. False when not a member (nothing written)."""
        condition = {
            "ConditionExpression": "Incarnation = :incarnation",
            "ExpressionAttributeValues": {":incarnation": room.incarnation},
        }
        try:
            self._transact(
                [
                    {"Delete": {"Key": _join_key(room.room_id, user_id), **condition}},
                    {"Delete": {"Key": _member_key(room.room_id, room.incarnation, user_id), **condition}},
                ],
                on_condition_failed=[_AlreadyDone, _AlreadyDone],
            )
        except _AlreadyDone:
            return False
        return True

    def list_members(
        self, room_id: str, incarnation: str, start: str | None = None, limit: int = 1000
    ) -> tuple[list[Membership], str | None]:
        """One page of the members of one incarnation of a room; ``start`` is the previous page's last user id."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :members)",
            "ExpressionAttributeValues": {":pk": keys.room_pk(room_id), ":members": keys.members_prefix(incarnation)},
            "Limit": limit,
        }
        if start is not None:
            request["ExclusiveStartKey"] = _member_key(room_id, incarnation, start)
        with _translated():
            response = self.client.query(**request)
        members = [_membership(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return members, (members[-1].user_id if last and members else None)

    # ---- comments --------------------------------------------------------------------

    def put_comment(self, room: Room, comment: CommentView) -> None:
        """Write a comment if, atomically, the room incarnation and the author's membership still hold."""
        same_incarnation = {
            "ConditionExpression": "Incarnation = :incarnation",
            "ExpressionAttributeValues": {":incarnation": room.incarnation},
        }
        self._transact(
            [
                {"ConditionCheck": {"Key": _room_key(room.room_id), **same_incarnation}},
                {"ConditionCheck": {"Key": _join_key(room.room_id, comment.user_id), **same_incarnation}},
                {
                    "Put": {
                        "Item": _comment_item(room, comment),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ],
            on_condition_failed=[
                lambda: _room_gone(room),
                lambda: NotAMember(f"{comment.user_id!r} is not a member of room {room.room_id!r}"),
                lambda: TransientError(f"comment id {comment.comment_id} collided"),
            ],
        )

    def query_feed(
        self,
        room: Room,
        feed_range: FeedRange,
        limit: int,
        start: CommentView | None = None,
    ) -> tuple[list[CommentView], bool]:
        """Up to ``limit`` comments of the room's current incarnation, and whether more may follow."""
        condition = "RoomID = :feed"
        values: dict[str, Any] = {":feed": keys.room_feed(room.room_id, room.incarnation)}
        if feed_range.after is not None:
            condition += " AND #pos > :after"
            values[":after"] = feed_range.after
        elif feed_range.between is not None:
            condition += " AND #pos BETWEEN :low AND :high"
            values[":low"], values[":high"] = feed_range.between
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": keys.COMMENTS_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not feed_range.newest_first,
            "Limit": limit,
        }
        if ":after" in values or ":low" in values:
            request["ExpressionAttributeNames"] = {"#pos": "Position"}
        if start is not None:
            request["ExclusiveStartKey"] = {
                "PK": keys.user_pk(start.user_id),
                "SK": keys.comment_sk(start.comment_id),
                "RoomID": values[":feed"],
                "Position": start.position,
            }
        try:
            with _translated():
                response = self.client.query(**request)
        except ClientError as error:
            if start is None or error.response["Error"]["Code"] != "ValidationException":
                raise
            raise InvalidRequest("cursor does not belong to this query") from error
        return [_comment(item) for item in response.get("Items", [])], "LastEvaluatedKey" in response

    # ---- live path: connections and subscriptions -----------------------------------

    def put_connection(self, connection: Connection) -> None:
        with _translated():
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "PK": keys.connection_pk(connection.connection_id),
                    "SK": keys.META,
                    "UserID": connection.user_id,
                    "ExpiresAt": connection.expires_at,
                },
            )

    def add_subscription(self, room: Room, subscription: Subscription) -> None:
        """Subscribe if, atomically, the room incarnation and the subscriber's membership hold."""
        feed = keys.room_feed(room.room_id, room.incarnation)
        attributes = {
            "UserID": subscription.user_id,
            "Incarnation": room.incarnation,
            "ExpiresAt": subscription.expires_at,
        }
        same_incarnation = {
            "ConditionExpression": "Incarnation = :incarnation",
            "ExpressionAttributeValues": {":incarnation": room.incarnation},
        }
        self._transact(
            [
                {"ConditionCheck": {"Key": _room_key(room.room_id), **same_incarnation}},
                {"ConditionCheck": {"Key": _join_key(room.room_id, subscription.user_id), **same_incarnation}},
                {"Put": {"Item": {**_subscriber_key(feed, subscription.connection_id), **attributes}}},
                {"Put": {"Item": {**_subscription_key(subscription.connection_id, feed), **attributes}}},
            ],
            on_condition_failed=[
                lambda: _room_gone(room),
                lambda: NotAMember(f"{subscription.user_id!r} is not a member of room {room.room_id!r}"),
            ],
        )

    def subscribers(
        self, feed: str, start: str | None = None, limit: int | None = None
    ) -> tuple[list[Subscription], str | None]:
        """One page of the connections subscribed to a feed; ``start`` is the previous page's last connection id."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": keys.subscribers_pk(feed)},
        }
        if limit is not None:
            request["Limit"] = limit
        if start is not None:
            request["ExclusiveStartKey"] = _subscriber_key(feed, start)
        with _translated():
            response = self.client.query(**request)
        room_id, incarnation = keys.split_feed(feed)
        found = [
            Subscription(
                connection_id=keys.strip(keys.CONNECTION_PREFIX, item["SK"]),
                user_id=item["UserID"],
                room_id=room_id,
                incarnation=incarnation,
                expires_at=int(item["ExpiresAt"]),
            )
            for item in response.get("Items", [])
        ]
        last = response.get("LastEvaluatedKey")
        return found, (keys.strip(keys.CONNECTION_PREFIX, last["SK"]) if last else None)

    def all_subscribers(self, feed: str) -> list[Subscription]:
        """Every page: a room's subscriptions are small items, about 10,000 to a 1 MB page."""
        found, start = self.subscribers(feed)
        while start is not None:
            page, start = self.subscribers(feed, start)
            found.extend(page)
        return found

    def remove_subscriptions(self, subscriptions: Sequence[Subscription]) -> None:
        """Both sides of each subscription, batched."""
        doomed: list[Item] = []
        for sub in subscriptions:
            feed = keys.room_feed(sub.room_id, sub.incarnation)
            doomed += [_subscriber_key(feed, sub.connection_id), _subscription_key(sub.connection_id, feed)]
        self.delete_keys(doomed)

    def connection_items(self, connection_id: str) -> list[Item]:
        with _translated():
            response = self.client.query(
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": keys.connection_pk(connection_id)},
                ConsistentRead=True,
            )
        return list(response.get("Items", []))

    def unsubscribe(self, connection_id: str, room_id: str) -> int:
        """Remove the connection's subscriptions to any incarnation of ``room_id``; returns how many."""
        prefix = keys.subscription_sk(keys.room_feed(room_id, ""))
        doomed = [item for item in self.connection_items(connection_id) if item["SK"].startswith(prefix)]
        self.delete_keys([key for item in doomed for key in _both_sides(connection_id, item)])
        return len(doomed)

    def delete_connection(self, connection_id: str) -> int:
        """The connection and every subscription it holds (on $disconnect, 410 Gone). Returns items deleted."""
        items = self.connection_items(connection_id)
        doomed = [key for item in items for key in _both_sides(connection_id, item)]
        self.delete_keys(doomed)
        return len(doomed)

    # ---- cleanup of a deleted room ---------------------------------------------------

    def members_page(self, room_id: str, incarnation: str, limit: int) -> list[Membership]:
        members, _ = self.list_members(room_id, incarnation, limit=limit)
        return members

    def delete_memberships(self, memberships: Sequence[Membership]) -> None:
        """Room-side items in batches; the user-side join only if still of this incarnation (the user may
        have joined a room created again with the same id), so one conditional delete each."""
        for membership in memberships:
            try:
                with _translated():
                    self.client.delete_item(
                        TableName=self.table_name,
                        Key=_join_key(membership.room_id, membership.user_id),
                        ConditionExpression="attribute_not_exists(PK) OR Incarnation = :incarnation",
                        ExpressionAttributeValues={":incarnation": membership.incarnation},
                    )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        self.delete_keys([_member_key(m.room_id, m.incarnation, m.user_id) for m in memberships])

    def comment_keys_page(self, feed: str, limit: int) -> list[Item]:
        with _translated():
            response = self.client.query(
                TableName=self.table_name,
                IndexName=keys.COMMENTS_INDEX,
                KeyConditionExpression="RoomID = :feed",
                ExpressionAttributeValues={":feed": feed},
                ProjectionExpression="PK, SK",
                Limit=limit,
            )
        return [{"PK": item["PK"], "SK": item["SK"]} for item in response.get("Items", [])]

    def touch_cleanup_task(self, feed: str) -> int:
        """Create or bump the task item; its stream record wakes the processor to go on. Returns the step."""
        with _translated():
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"PK": keys.cleanup_pk(feed), "SK": keys.TASK},
                UpdateExpression="ADD Step :one",
                ExpressionAttributeValues={":one": 1},
                ReturnValues="UPDATED_NEW",
            )
        return int(response["Attributes"]["Step"])

    def delete_cleanup_task(self, feed: str) -> None:
        self.delete_keys([{"PK": keys.cleanup_pk(feed), "SK": keys.TASK}])

    def delete_keys(self, doomed: Sequence[Item]) -> None:
        """BatchWriteItem, 25 keys a call, unprocessed items retried with backoff."""
        for start in range(0, len(doomed), 25):
            pending = [{"DeleteRequest": {"Key": key}} for key in doomed[start : start + 25]]
            attempt = 0
            while pending:
                with _translated():
                    response = self.client.batch_write_item(RequestItems={self.table_name: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if pending:
                    attempt += 1
                    if attempt > _MAX_UNPROCESSED_RETRIES:
                        raise TransientError(f"{len(pending)} deletes still unprocessed after {attempt} tries")
                    time.sleep(min(1.0, 0.05 * 2**attempt) * random.random())

    # ---- plumbing --------------------------------------------------------------------

    def _room_check(self, room: Room) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "Key": _room_key(room.room_id),
                "ConditionExpression": "Incarnation = :incarnation",
                "ExpressionAttributeValues": {":incarnation": room.incarnation},
            }
        }

    def _membership_puts(self, membership: Membership, condition: str | None) -> list[dict[str, Any]]:
        puts = []
        for item in _membership_items(membership):
            put: dict[str, Any] = {"Item": item}
            if condition:
                put["ConditionExpression"] = condition
                put["ExpressionAttributeValues"] = {":incarnation": membership.incarnation}
            puts.append({"Put": put})
        return puts

    def _transact(
        self,
        actions: Sequence[Mapping[str, Any]],
        on_condition_failed: Sequence[Callable[[], Exception] | None],
    ) -> None:
        """TransactWriteItems; a failed condition on action i raises ``on_condition_failed[i]()``."""
        items = [{op: {"TableName": self.table_name, **body} for op, body in action.items()} for action in actions]
        try:
            with _translated():
                self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if any(code in _TRANSIENT_REASONS for code in reasons):
                raise TransientError(f"transaction cancelled: {reasons}") from error
            for index, code in enumerate(reasons):
                factory = on_condition_failed[index] if index < len(on_condition_failed) else None
                if code == "ConditionalCheckFailed" and factory is not None:
                    raise factory() from error
            raise


class _AlreadyDone(RoomcastError):
    """Internal: a write whose condition shows it already holds."""

    def __init__(self, message: str = "already holds") -> None:
        super().__init__(message)


def _subscriber_key(feed: str, connection_id: str) -> Item:
    return {"PK": keys.subscribers_pk(feed), "SK": keys.subscriber_sk(connection_id)}


def _subscription_key(connection_id: str, feed: str) -> Item:
    return {"PK": keys.connection_pk(connection_id), "SK": keys.subscription_sk(feed)}


def _both_sides(connection_id: str, item: Mapping[str, Any]) -> list[Item]:
    """A connection-side item's key, and for a subscription its room-side twin too."""
    key = {"PK": item["PK"], "SK": item["SK"]}
    if not item["SK"].startswith(keys.SUBSCRIPTION_PREFIX):
        return [key]
    return [key, _subscriber_key(keys.strip(keys.SUBSCRIPTION_PREFIX, item["SK"]), connection_id)]


def _room_gone(room: Room) -> RoomNotFound:
    return RoomNotFound(f"room {room.room_id!r} does not exist")


# ---- items <-> models ----------------------------------------------------------------


def _room_key(room_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.META}


def _join_key(room_id: str, user_id: str) -> Item:
    return {"PK": keys.user_pk(user_id), "SK": keys.join_sk(room_id)}


def _member_key(room_id: str, incarnation: str, user_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.member_sk(incarnation, user_id)}


def _room_item(room: Room) -> Item:
    return {
        **_room_key(room.room_id),
        "CreatedBy": room.created_by,
        "CreatedAt": room.created_at,
        "Incarnation": room.incarnation,
    }


def _room(item: Mapping[str, Any]) -> Room:
    return Room(
        room_id=keys.strip(keys.ROOM_PREFIX, item["PK"]),
        created_by=item["CreatedBy"],
        created_at=item["CreatedAt"],
        incarnation=item["Incarnation"],
    )


def _membership_items(membership: Membership) -> tuple[Item, Item]:
    """The user-side join item and the room-side member item: always written and deleted together."""
    attributes = {"Incarnation": membership.incarnation, "JoinedAt": membership.joined_at}
    return (
        {**_join_key(membership.room_id, membership.user_id), **attributes},
        {**_member_key(membership.room_id, membership.incarnation, membership.user_id), **attributes},
    )


def _membership(item: Mapping[str, Any]) -> Membership:
    if item["SK"].startswith(keys.JOIN_PREFIX):
        room_id = keys.strip(keys.JOIN_PREFIX, item["SK"])
        user_id = keys.strip(keys.USER_PREFIX, item["PK"])
    else:
        room_id = keys.strip(keys.ROOM_PREFIX, item["PK"])
        user_id = keys.strip(keys.members_prefix(item["Incarnation"]), item["SK"])
    return Membership(room_id=room_id, user_id=user_id, incarnation=item["Incarnation"], joined_at=item["JoinedAt"])


def _comment_item(room: Room, comment: CommentView) -> Item:
    return {
        "PK": keys.user_pk(comment.user_id),
        "SK": keys.comment_sk(comment.comment_id),
        "RoomID": keys.room_feed(room.room_id, room.incarnation),
        "Position": comment.position,
        "Comment": comment.text,
        "CreatedAt": comment.created_at,
    }


def _comment(item: Mapping[str, Any]) -> CommentView:
    """Works on base-table items and on GSI items, which project only what this reads."""
    return CommentView(
        comment_id=keys.strip(keys.COMMENT_PREFIX, item["SK"]),
        user_id=keys.strip(keys.USER_PREFIX, item["PK"]),
        text=item["Comment"],
        created_at=item["CreatedAt"],
        position=item["Position"],
    )
