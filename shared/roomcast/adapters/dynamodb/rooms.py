"""Rooms and membership: the room item and both sides of each join."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import AlreadyDone, Table, error_code, translated
from roomcast.domain.chat import Membership, Room, room_missing
from roomcast.domain.errors import NotRoomCreator, RoomAlreadyExists


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
    def create_room(self, room: Room) -> None:
        """Room and creator's membership in one transaction; fails if the room exists."""
        membership = Membership(
            room_id=room.room_id, user_id=room.created_by, incarnation=room.incarnation, joined_at=room.created_at
        )
        self.transact(
            [
                {"Put": {"Item": items.room_item(room), "ConditionExpression": "attribute_not_exists(PK)"}},
                *_membership_puts(membership, condition=None),
            ],
            on_condition_failed=[lambda: RoomAlreadyExists(f"room {room.room_id!r} already exists"), None, None],
        )

    def get_room(self, room_id: str) -> Room | None:
        with translated():
            response = self.client.get_item(TableName=self.table_name, Key=items.room_key(room_id), ConsistentRead=True)
        item = response.get("Item")
        return items.room(item) if item else None

    def get_room_and_membership(self, room_id: str, user_id: str) -> tuple[Room | None, Membership | None]:
        """Both items in one strongly consistent BatchGetItem."""
        found = self.batch_get([items.room_key(room_id), items.join_key(room_id, user_id)])
        room = next((items.room(i) for i in found if i["SK"] == keys.META), None)
        membership = next((items.membership(i) for i in found if i["SK"] != keys.META), None)
        return room, membership

    def delete_room(self, room_id: str, user_id: str) -> Room:
        """Deletes the room's meta item if ``user_id`` created it; the stream drives the cleanup."""
        try:
            with translated():
                response = self.client.delete_item(
                    TableName=self.table_name,
                    Key=items.room_key(room_id),
                    ConditionExpression="attribute_exists(PK) AND CreatedBy = :user",
                    ExpressionAttributeValues={":user": user_id},
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            if error.response.get("Item"):
                raise NotRoomCreator(f"only the creator of room {room_id!r} may delete it") from error
            raise room_missing(room_id) from error
        return items.room(response["Attributes"])

    def add_member(self, room: Room, user_id: str, joined_at: str) -> bool:
        """Join the current incarnation of ``room``. False when already a member (nothing written)."""
        membership = Membership(
            room_id=room.room_id, user_id=user_id, incarnation=room.incarnation, joined_at=joined_at
        )
        try:
            self.transact(
                [
                    room_check(room),
                    *_membership_puts(membership, condition="attribute_not_exists(PK) OR Incarnation <> :incarnation"),
                ],
                on_condition_failed=[lambda: room_missing(room.room_id), AlreadyDone, AlreadyDone],
            )
        except AlreadyDone:
            return False
        return True

    def remove_member(self, room: Room, user_id: str) -> bool:
        """Leave the current incarnation of ``room``. False when not a member (nothing written)."""
        condition = same_incarnation(room)
        try:
            self.transact(
                [
                    {"Delete": {"Key": items.join_key(room.room_id, user_id), **condition}},
                    {"Delete": {"Key": items.member_key(room.room_id, room.incarnation, user_id), **condition}},
                ],
                on_condition_failed=[AlreadyDone, AlreadyDone],
            )
        except AlreadyDone:
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
