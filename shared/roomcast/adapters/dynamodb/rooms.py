"""Rooms and membership: the room item and both sides of each join."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import AlreadyDone, Table, translated
from roomcast.domain.chat import Membership, Room, room_missing
from roomcast.domain.errors import RoomAlreadyExists
from roomcast.usecases.ports import Receipt


def same_incarnation(room: Room) -> dict[str, Any]:
    """The condition that keeps a write inside the room's current incarnation."""
    return {
        "ConditionExpression": "Incarnation = :incarnation",
        "ExpressionAttributeValues": {":incarnation": room.incarnation},
    }


def room_check(room: Room) -> dict[str, Any]:
    return {"ConditionCheck": {"Key": items.room_key(room.room_id), **same_incarnation(room)}}


def join_check(room: Room, user_id: str) -> dict[str, Any]:
    """The author's or subscriber's join item is of this incarnation: membership, checked atomically."""
    return {"ConditionCheck": {"Key": items.join_key(room.room_id, user_id), **same_incarnation(room)}}


class DynamoRooms(Table):
    def create_room(self, room: Room, receipt: Receipt | None = None) -> None:
        """Room and creator's membership in one transaction; fails if the room exists."""
        membership = Membership(
            room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation, joined_at=room.created_at
        )
        actions = [
            {"Put": {"Item": items.room_item(room), "ConditionExpression": "attribute_not_exists(PK)"}},
            *_membership_puts(membership, condition=None),
        ]
        exists: items.Failure = lambda: RoomAlreadyExists(f"room {room.room_id!r} already exists")  # noqa: E731
        self.transact(*items.with_receipt(actions, [exists, None, None], receipt))

    def get_room(self, room_id: str) -> Room | None:
        item = self.get_item(items.room_key(room_id))
        return items.room(item) if item else None

    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
        """Both items in one strongly consistent BatchGetItem."""
        return self.get_rooms_and_memberships([(room_id, user_id)])[(room_id, user_id)]

    def get_rooms_and_memberships(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[Room | None, Membership | None]]:
        """A batch's rooms and joins in one consistent BatchGetItem (up to 100 keys a call)."""
        distinct = list(dict.fromkeys(pairs))
        room_ids = list(dict.fromkeys(room_id for room_id, _ in distinct))
        wanted = [items.room_key(r) for r in room_ids] + [items.join_key(r, u) for r, u in distinct]
        rooms: dict[str, Room] = {}
        joins: dict[tuple[str, str], Membership] = {}
        for item in self.batch_get(wanted):
            if item["SK"] == keys.META:
                room = items.room(item)
                rooms[room.room_id] = room
            else:
                membership = items.membership(item)
                joins[(membership.room_id, membership.user_id)] = membership
        return {(r, u): (rooms.get(r), joins.get((r, u))) for r, u in distinct}

    def delete_room(self, room: Room, receipt: Receipt | None = None) -> None:
        """Deletes this incarnation's meta item; the stream drives the cleanup of the rest."""
        actions = [{"Delete": {"Key": items.room_key(room.room_id), **same_incarnation(room)}}]
        self.transact(*items.with_receipt(actions, [lambda: room_missing(room.room_id)], receipt))

    def add_member(self, room: Room, user_id: str, joined_at: str, receipt: Receipt | None = None) -> bool:
        """Join the current incarnation of ``room``. False when already a member (nothing written)."""
        membership = Membership(
            room_id=room.room_id, user_id=user_id, incarnation=room.incarnation, joined_at=joined_at
        )
        actions = [
            room_check(room),
            *_membership_puts(membership, condition="attribute_not_exists(PK) OR Incarnation <> :incarnation"),
        ]
        try:
            self.transact(
                *items.with_receipt(actions, [lambda: room_missing(room.room_id), AlreadyDone, AlreadyDone], receipt)
            )
        except AlreadyDone:
            return False
        return True

    def remove_member(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool:
        """Leave the current incarnation of ``room``. False when not a member (nothing written)."""
        condition = same_incarnation(room)
        actions = [
            {"Delete": {"Key": items.join_key(room.room_id, user_id), **condition}},
            {"Delete": {"Key": items.member_key(room.room_id, room.incarnation, user_id), **condition}},
        ]
        try:
            self.transact(*items.with_receipt(actions, [AlreadyDone, AlreadyDone], receipt))
        except AlreadyDone:
            return False
        return True

    def members_among(self, room_id: str, incarnation: str, user_ids: set[str]) -> set[str]:
        """One BatchGetItem of their join items (100 keys a call)."""
        joins = self.batch_get([items.join_key(room_id, user) for user in sorted(user_ids)])
        return {items.membership(j).user_id for j in joins if j["Incarnation"] == incarnation}

    def list_members(
        self, room_id: str, incarnation: str, start: str | None = None, limit: int = 1000, consistent: bool = False
    ) -> tuple[list[Membership], str | None]:
        """One page of the members of one incarnation of a room; ``start`` is the previous page's last user id."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :members)",
            "ExpressionAttributeValues": {":pk": keys.room_pk(room_id), ":members": keys.members_prefix(incarnation)},
            "Limit": limit,
            "ConsistentRead": consistent,
        }
        if start is not None:
            request["ExclusiveStartKey"] = items.member_key(room_id, incarnation, start)
        with translated():
            response = self.client.query(**request)
        members = [items.membership(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return members, (members[-1].user_id if last and members else None)


def _membership_puts(membership: Membership, condition: str | None) -> list[dict[str, Any]]:
    puts = []
    for item in items.membership_items(membership):
        put: dict[str, Any] = {"Item": item}
        if condition:
            put["ConditionExpression"] = condition
            put["ExpressionAttributeValues"] = {":incarnation": membership.incarnation}
        puts.append({"Put": put})
    return puts
