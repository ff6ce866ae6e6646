"""One mapper per item type: model -> item, item -> model. Keys come from ``keys`` only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item
from roomcast.domain.chat import (
    CommentView,
    DeletedComment,
    FeedEntry,
    Membership,
    Room,
    Subscription,
    room_feed,
    split_feed,
)
from roomcast.domain.errors import AlreadyRecorded
from roomcast.domain.outcomes import CommandOutcome
from roomcast.usecases.ports import Receipt

# ---- keys ------------------------------------------------------------------------------


def room_key(room_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.META}


def join_key(room_id: str, user_id: str) -> Item:
    return {"PK": keys.user_pk(user_id), "SK": keys.join_sk(room_id)}


def member_key(room_id: str, incarnation: str, user_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.member_sk(incarnation, user_id)}


def subscriber_key(feed: str, connection_id: str, shard: int) -> Item:
    """The room-side item in ``shard``: ``keys.subscriber_shard`` for a new subscription, the one recorded
    on the connection side (or read from the key) for an existing one."""
    return {"PK": keys.subscribers_pk(feed, shard), "SK": keys.subscriber_sk(connection_id)}


def subscription_key(connection_id: str, feed: str) -> Item:
    return {"PK": keys.connection_pk(connection_id), "SK": keys.subscription_sk(feed)}


def cleanup_key(feed: str) -> Item:
    return {"PK": keys.cleanup_pk(feed), "SK": keys.TASK}


def outcome_key(key: str) -> Item:
    return {"PK": keys.outcome_pk(key), "SK": keys.OUTCOME}


def key_of(item: Mapping[str, Any]) -> Item:
    return {"PK": item["PK"], "SK": item["SK"]}


# ---- rooms and membership --------------------------------------------------------------


def room_item(room: Room) -> Item:
    """A new room has no moderators and the default policy: those attributes appear when set."""
    return {
        **room_key(room.room_id),
        "CreatedBy": room.created_by,
        "CreatedAt": room.created_at,
        "Incarnation": room.incarnation,
    }


def room(item: Mapping[str, Any]) -> Room:
    return Room(
        room_id=keys.strip(keys.ROOM_PREFIX, item["PK"]),
        created_by=item["CreatedBy"],
        created_at=item["CreatedAt"],
        incarnation=item["Incarnation"],
        moderators=tuple(sorted(item.get("Moderators", ()))),
        slow_mode_seconds=int(item.get("SlowModeSeconds", 0)),
        review_mode=item.get("ReviewMode", "off"),
    )


def membership_items(membership: Membership) -> tuple[Item, Item]:
    """The user-side join item and the room-side member item: always written and deleted together."""
    attributes: Item = {"Incarnation": membership.incarnation, "JoinedAt": membership.joined_at}
    if membership.muted_until_ms is not None:
        attributes["MutedUntil"] = membership.muted_until_ms
    return (
        {**join_key(membership.room_id, membership.user_id), **attributes},
        {**member_key(membership.room_id, membership.incarnation, membership.user_id), **attributes},
    )


def membership(item: Mapping[str, Any]) -> Membership:
    if item["SK"].startswith(keys.JOIN_PREFIX):
        room_id = keys.strip(keys.JOIN_PREFIX, item["SK"])
        user_id = keys.strip(keys.USER_PREFIX, item["PK"])
    else:
        room_id = keys.strip(keys.ROOM_PREFIX, item["PK"])
        user_id = keys.strip(keys.members_prefix(item["Incarnation"]), item["SK"])
    muted, last = item.get("MutedUntil"), item.get("LastCommentAt")
    return Membership(
        room_id=room_id,
        user_id=user_id,
        incarnation=item["Incarnation"],
        joined_at=item["JoinedAt"],
        muted_until_ms=None if muted is None else int(muted),
        last_comment_ms=None if last is None else int(last),
        last_position=item.get("LastPosition"),
    )


# ---- comments --------------------------------------------------------------------------


def comment_item(room: Room, comment: CommentView) -> Item:
    return {
        "PK": keys.user_pk(comment.user_id),
        "SK": keys.comment_sk(comment.comment_id),
        "RoomID": room_feed(room.room_id, room.incarnation),
        "Position": comment.position,
        "Comment": comment.text,
        "CreatedAt": comment.created_at,
    }


def comment(item: Mapping[str, Any]) -> FeedEntry:
    """Works on base-table items, GSI items (which project only what this reads) and stream images.
    A deleted comment has lost its text (``Comment``): it reads as a tombstone."""
    comment_id = keys.strip(keys.COMMENT_PREFIX, str(item["SK"]))
    user_id = keys.strip(keys.USER_PREFIX, str(item["PK"]))
    if "Comment" not in item:
        return DeletedComment(comment_id=comment_id, position=str(item["Position"]), user_id=user_id)
    return CommentView(
        comment_id=comment_id,
        user_id=user_id,
        text=str(item["Comment"]),
        created_at=str(item["CreatedAt"]),
        position=str(item["Position"]),
    )


def comment_index_key(start: FeedEntry, feed: str) -> Item:
    """A GSI ExclusiveStartKey: the base table's key and the index's."""
    return {
        "PK": keys.user_pk(start.user_id),
        "SK": keys.comment_sk(start.comment_id),
        "RoomID": feed,
        "Position": start.position,
    }


# ---- outcomes --------------------------------------------------------------------------

# A receipt may replace only a dead-letter record: a redriven command is applied at last.
RECEIPT_CONDITION = "attribute_not_exists(PK) OR #status = :deadLettered"


def receipt_put(receipt: Receipt) -> dict[str, Any]:
    """The Put a command's write carries, conditional so that a duplicate delivery cannot act twice."""
    return {
        "Put": {
            "Item": {
                **outcome_key(receipt.key),
                "Status": receipt.outcome.status,
                "Fingerprint": receipt.fingerprint,
                "Outcome": receipt.outcome.model_dump_json(by_alias=True, exclude_none=True),
                "ExpiresAt": receipt.expires_at,
            },
            "ConditionExpression": RECEIPT_CONDITION,
            "ExpressionAttributeNames": {"#status": "Status"},
            "ExpressionAttributeValues": {":deadLettered": "deadLettered"},
        }
    }


Failure = Callable[[], Exception] | None


def with_receipt(
    actions: list[dict[str, Any]], failures: list[Failure], receipt: Receipt | None
) -> tuple[list[dict[str, Any]], list[Failure]]:
    """A transaction's actions with the receipt first, so that a duplicate delivery is told apart
    before any other refusal; its failure raises AlreadyRecorded."""
    if receipt is None:
        return actions, failures
    duplicate: Failure = lambda: AlreadyRecorded(f"the outcome of {receipt.key} is already recorded")  # noqa: E731
    return [receipt_put(receipt), *actions], [duplicate, *failures]


def outcome(item: Mapping[str, Any]) -> tuple[CommandOutcome, str]:
    return CommandOutcome.model_validate_json(item["Outcome"]), str(item["Fingerprint"])


# ---- subscriptions ---------------------------------------------------------------------


def subscription_attributes(subscription: Subscription) -> Item:
    return {
        "UserID": subscription.user_id,
        "Incarnation": subscription.incarnation,
        "ExpiresAt": subscription.expires_at,
    }


def subscription_items(subscription: Subscription, shard: int) -> tuple[Item, Item]:
    """A subscription's room-side item in ``shard`` and its connection-side twin, which records that shard
    (``Shard``) so that deleting it from the connection's side finds the room's."""
    feed = room_feed(subscription.room_id, subscription.incarnation)
    attributes = subscription_attributes(subscription)
    return (
        {**subscriber_key(feed, subscription.connection_id, shard), **attributes},
        {**subscription_key(subscription.connection_id, feed), **attributes, "Shard": shard},
    )


# A subscription written before the spread has no ``Shard``; its room side is in shard 0.
NOT_LEGACY_SUBSCRIPTION = "attribute_not_exists(PK) OR attribute_exists(#shard)"


def subscription(item: Mapping[str, Any]) -> Subscription:
    """A room-side subscription item (``Subs:<feed>[#<shard>]`` / ``Conn:<connectionId>``)."""
    feed, shard = keys.subscribers_feed_and_shard(item["PK"])
    room_id, incarnation = split_feed(feed)
    return Subscription(
        connection_id=keys.strip(keys.CONNECTION_PREFIX, item["SK"]),
        user_id=item["UserID"],
        room_id=room_id,
        incarnation=incarnation,
        expires_at=int(item["ExpiresAt"]),
        shard=shard,
    )


def both_sides(connection_id: str, item: Mapping[str, Any]) -> list[Item]:
    """A connection-side item's key, and for a subscription its room-side twin too, in the shard the
    item records (none recorded: written before the spread, so shard 0)."""
    key = key_of(item)
    if not item["SK"].startswith(keys.SUBSCRIPTION_PREFIX):
        return [key]
    feed = keys.strip(keys.SUBSCRIPTION_PREFIX, item["SK"])
    return [key, subscriber_key(feed, connection_id, int(item.get("Shard", 0)))]
