"""DynamoWindows: a paced room's frame windows, one item each (``Pace:<feed>`` / ``Window:<start>``).

Each stream batch's comments go in one UpdateItem as an attribute of their own, named after the batch's
comment ids: ReturnValues (UPDATED_OLD) then carries only that batch's own old value and two counters, not
the whole window as a ``list_append`` of one growing list would return on every append, and a retried batch
writes the same attribute again instead of appending its comments twice. ``Appends`` absent before the
update tells the first writer; ``Bytes`` bounds the item under DynamoDB's 400 KB.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Item, Table, error_code, translated
from roomcast.domain.chat import CommentView
from roomcast.domain.frame_window import WINDOW_MAX_BYTES
from roomcast.usecases.pacing import Appended, ClosedWindow

BATCH_PREFIX = "B_"
_COMMENTS = TypeAdapter(list[CommentView])
# Not closed by its flush, and room left for the batch under the item's 400 KB.
_OPEN_WITH_ROOM = "attribute_not_exists(Closed) AND (attribute_not_exists(Bytes) OR Bytes <= :room)"


def batch_attribute(comments: Sequence[CommentView]) -> str:
    digest = hashlib.sha256(",".join(c.comment_id for c in comments).encode()).hexdigest()[:32]
    return f"{BATCH_PREFIX}{digest}"


class DynamoWindows(Table):
    def _key(self, feed: str, start: int) -> Item:
        return {"PK": keys.pace_pk(feed), "SK": keys.window_sk(start)}

    def append(self, feed: str, start: int, comments: Sequence[CommentView], expires_at: int) -> Appended:
        body = _COMMENTS.dump_json(list(comments), by_alias=True).decode()
        size = len(body.encode())
        if size > WINDOW_MAX_BYTES:
            return Appended.REFUSED
        try:
            with translated():
                answer = self.client.update_item(
                    TableName=self.table_name,
                    Key=self._key(feed, start),
                    UpdateExpression="SET #batch = :batch, ExpiresAt = :expires ADD Appends :one, Bytes :size",
                    ConditionExpression=_OPEN_WITH_ROOM,
                    ExpressionAttributeNames={"#batch": batch_attribute(comments)},
                    ExpressionAttributeValues={
                        ":batch": body,
                        ":expires": expires_at,
                        ":one": 1,
                        ":size": size,
                        ":room": WINDOW_MAX_BYTES - size,
                    },
                    ReturnValues="UPDATED_OLD",
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return Appended.REFUSED
        return Appended.JOINED if "Appends" in answer.get("Attributes", {}) else Appended.FIRST

    def close(self, feed: str, start: int) -> ClosedWindow | None:
        try:
            with translated():
                answer = self.client.update_item(
                    TableName=self.table_name,
                    Key=self._key(feed, start),
                    UpdateExpression="SET Closed = :now",
                    ConditionExpression="attribute_exists(PK) AND attribute_not_exists(Closed)",
                    ExpressionAttributeValues={":now": int(time.time() * 1000)},
                    ReturnValues="ALL_NEW",
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            # Closed before (an earlier attempt of this flush), or no such window (expired, or never).
            item = self.get_item(self._key(feed, start))
            if item is None:
                return None
            return ClosedWindow(_comments_of(item), already_closed=True, handed="Handed" in item)
        return ClosedWindow(_comments_of(answer["Attributes"]))

    def mark_handed(self, feed: str, start: int) -> None:
        with translated():
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(feed, start),
                UpdateExpression="SET Handed = :yes",
                ExpressionAttributeValues={":yes": True},
            )

    def open_comments(self, feed: str) -> list[CommentView]:
        found = self.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :window)",
            FilterExpression="attribute_not_exists(Closed)",
            ExpressionAttributeValues={":pk": keys.pace_pk(feed), ":window": keys.WINDOW_PREFIX},
            ConsistentRead=True,
        )
        return [comment for item in found for comment in _comments_of(item)]


def _comments_of(item: dict[str, Any]) -> list[CommentView]:
    return [
        comment
        for name, value in item.items()
        if name.startswith(BATCH_PREFIX)
        for comment in _COMMENTS.validate_json(str(value))
    ]
