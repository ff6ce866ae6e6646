"""Moderation's requests (docs/data-model.md, "Moderation"): moderators and policy on the room item, ban
and mute items beside the room's members, the mute and slow-mode state on the join item the comment path
reads anyway, tombstones in place of deleted comments; and the stream records they cause."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import AlreadyDone, Item, Table
from roomcast.adapters.dynamodb.rooms import _membership_puts, room_check, same_incarnation
from roomcast.domain.chat import (
    CommentView,
    FeedEntry,
    Membership,
    ReviewMode,
    Room,
    not_a_member,
    room_feed,
    room_missing,
    split_feed,
)
from roomcast.domain.errors import RoomcastError, SlowMode
from roomcast.domain.events import CommentDeleted, UserBanned
from roomcast.domain.moderation import FOREVER_MS, Sanction, banned
from roomcast.usecases.ports import Receipt
from roomcast.usecases.stream import Change

# ---- items -------------------------------------------------------------------------------


def ban_key(room_id: str, user_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.ban_sk(user_id)}


def mute_key(room_id: str, user_id: str) -> Item:
    return {"PK": keys.room_pk(room_id), "SK": keys.mute_sk(user_id)}


def sanction_item(key: Item, sanction: Sanction) -> Item:
    """``Until`` (epoch ms) absent: permanent. A timed one also gets TTL's ``ExpiresAt``, to tidy up;
    the rules compare ``Until`` with the clock, so an expired item still in the table changes nothing."""
    item: Item = {**key, "Incarnation": sanction.incarnation, "By": sanction.by}
    if sanction.until_ms is not None:
        item["Until"] = sanction.until_ms
        item["ExpiresAt"] = sanction.until_ms // 1000 + 1
    if sanction.reason is not None:
        item["Reason"] = sanction.reason
    return item


def sanction(item: Mapping[str, Any]) -> Sanction:
    user_id = str(item["SK"]).partition(":")[2]
    until = item.get("Until")
    return Sanction(
        room_id=keys.strip(keys.ROOM_PREFIX, str(item["PK"])),
        user_id=user_id,
        incarnation=str(item["Incarnation"]),
        by=str(item["By"]),
        until_ms=None if until is None else int(until),
        reason=item.get("Reason"),
    )


def _join_update(room: Room, user_id: str, expression: str, values: dict[str, Any]) -> dict[str, Any]:
    condition = same_incarnation(room)
    return {
        "Update": {
            "Key": items.join_key(room.room_id, user_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition["ConditionExpression"],
            "ExpressionAttributeValues": {**condition["ExpressionAttributeValues"], **values},
        }
    }


# ---- the stream --------------------------------------------------------------------------


def moderation_change(record: DynamoDBRecord, sequence: str) -> Change | None:
    """A comment that lost its text is a ``commentDeleted``; a ban written is a ``userBanned``."""
    stream = record.dynamodb
    if stream is None or not stream.keys:
        return None
    pk, sk = str(stream.keys["PK"]), str(stream.keys["SK"])
    new, old = stream.new_image or {}, stream.old_image or {}
    modified = record.event_name == DynamoDBRecordEventName.MODIFY
    if modified and sk.startswith(keys.COMMENT_PREFIX) and "Comment" in old and "Comment" not in new:
        feed = str(new["RoomID"])
        deleted = CommentDeleted(
            room_id=split_feed(feed)[0],
            user_id=str(new.get("DeletedBy", "")),
            comment_id=keys.strip(keys.COMMENT_PREFIX, sk),
            position=str(new["Position"]),
        )
        return Change(sequence, feed, deleted)
    removed = record.event_name == DynamoDBRecordEventName.REMOVE
    if pk.startswith(keys.ROOM_PREFIX) and sk.startswith(keys.BAN_PREFIX) and not removed:
        ban = sanction({**new, "PK": pk, "SK": sk})
        event = UserBanned(
            room_id=ban.room_id, user_id=ban.by, target_user_id=ban.user_id, until=ban.until, reason=ban.reason
        )
        return Change(sequence, room_feed(ban.room_id, ban.incarnation), event)
    return None


# ---- requests ----------------------------------------------------------------------------


class DynamoModeration(Table):
    def get_room_and_sanctions(
        self, room_id: str, user_id: str
    ) -> tuple[Room | None, Sanction | None, Sanction | None]:
        """Room, ban and mute in one strongly consistent BatchGetItem."""
        found = self.batch_get([items.room_key(room_id), ban_key(room_id, user_id), mute_key(room_id, user_id)])
        room = next((items.room(i) for i in found if i["SK"] == keys.META), None)
        ban = next((sanction(i) for i in found if str(i["SK"]).startswith(keys.BAN_PREFIX)), None)
        mute = next((sanction(i) for i in found if str(i["SK"]).startswith(keys.MUTE_PREFIX)), None)
        return room, ban, mute

    def get_ban(self, room: Room, user_id: str) -> Sanction | None:
        item = self.get_item(ban_key(room.room_id, user_id))
        return sanction(item) if item else None

    def join(self, room: Room, membership: Membership, now_ms: int, receipt: Receipt | None = None) -> bool:
        """add_member's transaction with one more check: no ban of this incarnation still in force."""
        ban_check = {
            "ConditionCheck": {
                "Key": ban_key(room.room_id, membership.user_id),
                "ConditionExpression": "attribute_not_exists(PK) OR Incarnation <> :incarnation"
                " OR (attribute_exists(#until) AND #until <= :now)",
                "ExpressionAttributeNames": {"#until": "Until"},
                "ExpressionAttributeValues": {":incarnation": room.incarnation, ":now": now_ms},
            }
        }
        actions = [
            room_check(room),
            ban_check,
            *_membership_puts(membership, condition="attribute_not_exists(PK) OR Incarnation <> :incarnation"),
        ]
        failures: list[items.Failure] = [
            lambda: room_missing(room.room_id),
            lambda: banned(room, membership.user_id, self.get_ban(room, membership.user_id)),
            AlreadyDone,
            AlreadyDone,
        ]
        try:
            self.transact(*items.with_receipt(actions, failures, receipt))
        except AlreadyDone:
            return False
        return True

    def ban(self, room: Room, ban: Sanction, member: bool, receipt: Receipt | None = None) -> None:
        """The ban's Put comes before the join's Delete, so its stream record (the ``banned`` frame) does too."""
        actions: list[dict[str, Any]] = [
            room_check(room),
            {"Put": {"Item": sanction_item(ban_key(room.room_id, ban.user_id), ban)}},
        ]
        if member:
            condition = same_incarnation(room)
            actions += [
                {"Delete": {"Key": items.join_key(room.room_id, ban.user_id), **condition}},
                {"Delete": {"Key": items.member_key(room.room_id, room.incarnation, ban.user_id), **condition}},
            ]
        self._with_member(room, actions, receipt, lambda: self.ban(room, ban, False, receipt), member)

    def unban(self, room: Room, user_id: str, receipt: Receipt | None = None) -> bool:
        return self._lift(room, ban_key(room.room_id, user_id), receipt)

    def mute(self, room: Room, mute: Sanction, member: bool, receipt: Receipt | None = None) -> None:
        actions: list[dict[str, Any]] = [
            room_check(room),
            {"Put": {"Item": sanction_item(mute_key(room.room_id, mute.user_id), mute)}},
        ]
        if member:
            until = mute.until_ms or FOREVER_MS
            actions.append(_join_update(room, mute.user_id, "SET MutedUntil = :until", {":until": until}))
        self._with_member(room, actions, receipt, lambda: self.mute(room, mute, False, receipt), member)

    def unmute(self, room: Room, user_id: str, member: bool, receipt: Receipt | None = None) -> bool:
        extra = [_join_update(room, user_id, "REMOVE MutedUntil", {})] if member else []
        try:
            return self._lift(room, mute_key(room.room_id, user_id), receipt, extra)
        except _MemberGone:
            return self.unmute(room, user_id, False, receipt)

    def _lift(self, room: Room, key: Item, receipt: Receipt | None, extra: list[dict[str, Any]] | None = None) -> bool:
        """Deletes this incarnation's ban or mute; False when there is none."""
        actions = [
            room_check(room),
            {"Delete": {"Key": key, **same_incarnation(room)}},
            *(extra or []),
        ]
        failures: list[items.Failure] = [lambda: room_missing(room.room_id), AlreadyDone, _MemberGone]
        try:
            self.transact(*items.with_receipt(actions, failures, receipt))
        except AlreadyDone:
            return False
        return True

    def _with_member(
        self,
        room: Room,
        actions: list[dict[str, Any]],
        receipt: Receipt | None,
        without: Callable[[], None],
        member: bool,
    ) -> None:
        """The target left between the read and this write: write again without their membership."""
        failures: list[items.Failure] = [lambda: room_missing(room.room_id), None, _MemberGone, _MemberGone]
        try:
            self.transact(*items.with_receipt(actions, failures, receipt))
        except _MemberGone:
            if not member:
                raise
            without()

    def set_moderator(self, room: Room, user_id: str, moderator: bool, receipt: Receipt | None = None) -> bool:
        """ADD or DELETE on the room item's ``Moderators`` string set; False when it already holds."""
        operation, test = (
            ("ADD", "NOT contains(Moderators, :name)") if moderator else ("DELETE", "contains(Moderators, :name)")
        )
        update = {
            "Update": {
                "Key": items.room_key(room.room_id),
                "UpdateExpression": f"{operation} Moderators :users",
                "ConditionExpression": f"Incarnation = :incarnation AND {test}",
                "ExpressionAttributeValues": {":incarnation": room.incarnation, ":users": {user_id}, ":name": user_id},
            }
        }
        try:
            self.transact(*items.with_receipt([update], [lambda: self._gone_or_done(room)], receipt))
        except AlreadyDone:
            return False
        return True

    def _gone_or_done(self, room: Room) -> Exception:
        item = self.get_item(items.room_key(room.room_id))
        if item is None or item["Incarnation"] != room.incarnation:
            return room_missing(room.room_id)
        return AlreadyDone()

    def set_policy(
        self, room: Room, slow_mode_seconds: int, review_mode: ReviewMode, receipt: Receipt | None = None
    ) -> None:
        update = {
            "Update": {
                "Key": items.room_key(room.room_id),
                "UpdateExpression": "SET SlowModeSeconds = :slow, ReviewMode = :review",
                "ConditionExpression": "Incarnation = :incarnation",
                "ExpressionAttributeValues": {
                    ":incarnation": room.incarnation,
                    ":slow": slow_mode_seconds,
                    ":review": review_mode,
                },
            }
        }
        self.transact(*items.with_receipt([update], [lambda: room_missing(room.room_id)], receipt))

    def get_room_and_comment(self, room_id: str, user_id: str, comment_id: str) -> tuple[Room | None, FeedEntry | None]:
        """The room and the caller's own comment of that id, in one strongly consistent BatchGetItem."""
        own = {"PK": keys.user_pk(user_id), "SK": keys.comment_sk(comment_id)}
        found = self.batch_get([items.room_key(room_id), own])
        room = next((items.room(i) for i in found if i["SK"] == keys.META), None)
        comment = next((i for i in found if i["SK"] != keys.META), None)
        if room is None or comment is None or comment["RoomID"] != room_feed(room.room_id, room.incarnation):
            return room, None
        return room, items.comment(comment)

    def find_comment(self, room: Room, comment_id: str) -> FeedEntry | None:
        """One Query on the comment index by position: a comment's position is its id."""
        found = self.query_all(
            IndexName=keys.COMMENTS_INDEX,
            KeyConditionExpression="RoomID = :feed AND #pos = :position",
            ExpressionAttributeNames={"#pos": "Position"},
            ExpressionAttributeValues={":feed": room_feed(room.room_id, room.incarnation), ":position": comment_id},
        )
        return items.comment(found[0]) if found else None

    def delete_comment(
        self, room: Room, comment: CommentView, by: str, at_ms: int, receipt: Receipt | None = None
    ) -> bool:
        """Removes the text in place: the item keeps its key and position, so history shows a tombstone."""
        update = {
            "Update": {
                "Key": {"PK": keys.user_pk(comment.user_id), "SK": keys.comment_sk(comment.comment_id)},
                "UpdateExpression": "REMOVE #text SET DeletedBy = :by, DeletedAt = :at",
                "ConditionExpression": "attribute_exists(#text) AND RoomID = :feed",
                "ExpressionAttributeNames": {"#text": "Comment"},
                "ExpressionAttributeValues": {
                    ":by": by,
                    ":at": at_ms,
                    ":feed": room_feed(room.room_id, room.incarnation),
                },
            }
        }
        failures: list[items.Failure] = [lambda: room_missing(room.room_id), AlreadyDone]
        try:
            self.transact(*items.with_receipt([room_check(room), update], failures, receipt))
        except AlreadyDone:
            return False
        return True


class _MemberGone(RoomcastError):
    """The target's join changed between the read and the write."""

    def __init__(self) -> None:
        super().__init__("the target's membership changed")


def paced_refusal(table: Table, room: Room, user_id: str) -> Exception:
    """Why a slow-mode comment's join update failed: the author left, or commented meanwhile (one more read,
    on this rare path only)."""
    item = table.get_item(items.join_key(room.room_id, user_id))
    if item is None or item["Incarnation"] != room.incarnation:
        return not_a_member(room.room_id, user_id)
    return SlowMode(f"{user_id!r} commented within room {room.room_id!r}'s slow-mode interval")
