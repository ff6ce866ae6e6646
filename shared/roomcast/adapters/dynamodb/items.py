"""One mapper per item type: model -> item, item -> model. Keys come from ``keys`` only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item
from roomcast.domain.chat import CommentView, Membership, Room, Subscription, room_feed, split_feed

# ---- keys ------------------------------------------------------------------------------


def room_key(room_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.META}


def join_key(room_id: str, user_id: str) -> Item:
    return {"PK": keys.user_pk(user_id), "SK": keys.join_sk(room_id)}


def member_key(room_id: str, incarnation: str, user_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.member_sk(incarnation, user_id)}


def subscriber_key(feed: str, connection_id: str) -> Item:
    return {"PK": keys.subscribers_pk(feed), "SK": keys.subscriber_sk(connection_id)}


def subscription_key(connection_id: str, feed: str) -> Item:
    return {"PK": keys.connection_pk(connection_id), "SK": keys.subscription_sk(feed)}


def cleanup_key(feed: str) -> Item:
    return {"PK": keys.cleanup_pk(feed), "SK": keys.TASK}


def key_of(item: Mapping[str, Any]) -> Item:
    return {"PK": item["PK"], "SK": item["SK"]}


# ---- rooms and membership --------------------------------------------------------------


def room_item(room: Room) -> Item:
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
    )


def membership_items(membership: Membership) -> tuple[Item, Item]:
    """The user-side join item and the room-side member item: always written and deleted together."""
    attributes = {"Incarnation": membership.incarnation, "JoinedAt": membership.joined_at}
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
    return Membership(room_id=room_id, user_id=user_id, incarnation=item["Incarnation"], joined_at=item["JoinedAt"])


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


def comment(item: Mapping[str, Any]) -> CommentView:
    """Works on base-table items, GSI items (which project only what this reads) and stream images."""
    return CommentView(
        comment_id=keys.strip(keys.COMMENT_PREFIX, str(item["SK"])),
        user_id=keys.strip(keys.USER_PREFIX, str(item["PK"])),
        text=str(item["Comment"]),
        created_at=str(item["CreatedAt"]),
        position=str(item["Position"]),
    )


def comment_index_key(start: CommentView, feed: str) -> Item:
    """A GSI ExclusiveStartKey: the base table's key and the index's."""
    return {
        "PK": keys.user_pk(start.user_id),
        "SK": keys.comment_sk(start.comment_id),
        "RoomID": feed,
        "Position": start.position,
    }


# ---- subscriptions ---------------------------------------------------------------------


def subscription_attributes(subscription: Subscription) -> Item:
    return {
        "UserID": subscription.user_id,
        "Incarnation": subscription.incarnation,
        "ExpiresAt": subscription.expires_at,
    }


def subscription(item: Mapping[str, Any]) -> Subscription:
    """A room-side subscription item (``Subs:<feed>`` / ``Conn:<connectionId>``)."""
    room_id, incarnation = split_feed(keys.strip(keys.SUBSCRIBERS_PREFIX, item["PK"]))
    return Subscription(
        connection_id=keys.strip(keys.CONNECTION_PREFIX, item["SK"]),
        user_id=item["UserID"],
        room_id=room_id,
        incarnation=incarnation,
        expires_at=int(item["ExpiresAt"]),
    )


def both_sides(connection_id: str, item: Mapping[str, Any]) -> list[Item]:
    """A connection-side item's key, and for a subscription its room-side twin too."""
    key = key_of(item)
    if not item["SK"].startswith(keys.SUBSCRIPTION_PREFIX):
        return [key]
    return [key, subscriber_key(keys.strip(keys.SUBSCRIPTION_PREFIX, item["SK"]), connection_id)]
