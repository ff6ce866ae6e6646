"""Comments: written under the author's membership condition, read by position on the index."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import Table, error_code, translated
from roomcast.adapters.dynamodb.moderation import paced_refusal
from roomcast.domain.chat import CommentView, FeedEntry, Room, not_a_member, room_feed, room_missing
from roomcast.domain.errors import InvalidRequest, TransientError
from roomcast.domain.moderation import Pace
from roomcast.usecases.ports import FeedRange, Receipt


class DynamoComments(Table):
    def put_comment(
        self, room: Room, comment: CommentView, receipt: Receipt | None = None, pace: Pace | None = None
    ) -> None:
        """Write a comment if, atomically, the author's membership of the room's incarnation still holds
        (in slow mode the membership check is an update of the author's last comment time).

        No ConditionCheck on the room item: it cost the room's one partition 2 WCU per comment. The join
        item's incarnation proves membership; a comment racing the room's delete is committed before its
        author's join item is deleted by the cleanup, so the cleanup's comment step sweeps it
        (docs/data-model.md, "A comment racing the room's delete")."""
        actions = [
            _author_moves_on(room, comment, pace),
            {"Put": {"Item": items.comment_item(room, comment), "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
        failures: list[items.Failure] = [
            # Membership lost since it was read (the room deleted, or the author gone), or (in slow mode) a
            # comment meanwhile. (An author's last position past this one would need two of their comments
            # at once, which their FIFO group rules out; the intake retries either way.)
            lambda: join_refusal(self, room, comment.user_id, pace),
            lambda: TransientError(f"comment id {comment.comment_id} collided"),
        ]
        self.transact(*items.with_receipt(actions, failures, receipt))

    def query_feed(
        self, room: Room, feed_range: FeedRange, limit: int, start: FeedEntry | None = None
    ) -> tuple[list[FeedEntry], bool]:
        """Up to ``limit`` comments of the room's current incarnation, and whether more may follow."""
        feed = room_feed(room.room_id, room.incarnation)
        condition = "RoomID = :feed"
        values: dict[str, Any] = {":feed": feed}
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
            request["ExclusiveStartKey"] = items.comment_index_key(start, feed)
        try:
            with translated():
                response = self.client.query(**request)
        except ClientError as error:
            if start is None or error_code(error) != "ValidationException":
                raise
            raise InvalidRequest("cursor does not belong to this query") from error
        return [items.comment(item) for item in response.get("Items", [])], "LastEvaluatedKey" in response


def join_refusal(table: Table, room: Room, user_id: str, pace: Pace | None) -> Exception:
    """Why the join item's condition failed, read on this rare path only: the room gone (or created
    again) answers RoomNotFound, as the room's ConditionCheck did; otherwise the membership or the pace."""
    item = table.get_item(items.room_key(room.room_id))
    if item is None or item["Incarnation"] != room.incarnation:
        return room_missing(room.room_id)
    return not_a_member(room.room_id, user_id) if pace is None else paced_refusal(table, room, user_id)


def _author_moves_on(room: Room, comment: CommentView, pace: Pace | None) -> dict[str, Any]:
    """The membership check the comment needs, on the join item it already touches, which also keeps the
    author's last position: this comment's must be later, so one author's positions only increase. In
    slow mode the same update keeps the author's last comment time, refused within the interval."""
    expression = "SET LastPosition = :position"
    condition = "Incarnation = :incarnation AND (attribute_not_exists(LastPosition) OR LastPosition < :position)"
    values: dict[str, Any] = {":incarnation": room.incarnation, ":position": comment.position}
    if pace is not None:
        expression += ", LastCommentAt = :now"
        condition += " AND (attribute_not_exists(LastCommentAt) OR LastCommentAt <= :cutoff)"
        values |= {":now": pace.now_ms, ":cutoff": pace.cutoff_ms}
    return {
        "Update": {
            "Key": items.join_key(room.room_id, comment.user_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
    }
