"""What a deleted room's cleanup reads and deletes, page by page, and its hand-over task item."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.base import Table, error_code, translated
from roomcast.domain.chat import Membership

# A GSI is only eventually consistent; AWS's knowledge center (dynamodb-missing-table-items-gsi) says writes
# propagate to it within a second, so the cleanup's last empty read of the comment index waits twice that.
INDEX_SETTLE_MS = 2_000


class DynamoCleanup(Table):
    index_settle_ms = INDEX_SETTLE_MS

    def delete_memberships(self, memberships: Sequence[Membership]) -> None:
        """Room-side items in batches; the user-side join only if still of this incarnation (the user may
        have joined a room created again with the same id), so one conditional delete each."""
        for membership in memberships:
            try:
                with translated():
                    self.client.delete_item(
                        TableName=self.table_name,
                        Key=items.join_key(membership.room_id, membership.user_id),
                        ConditionExpression="attribute_not_exists(PK) OR Incarnation = :incarnation",
                        ExpressionAttributeValues={":incarnation": membership.incarnation},
                    )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
        self.delete_keys([items.member_key(m.room_id, m.incarnation, m.user_id) for m in memberships])

    def delete_comments_page(self, feed: str, limit: int) -> int:
        """Delete the first ``limit`` comments left in a feed; returns how many (0: none left)."""
        with translated():
            response = self.client.query(
                TableName=self.table_name,
                IndexName=keys.COMMENTS_INDEX,
                KeyConditionExpression="RoomID = :feed",
                ExpressionAttributeValues={":feed": feed},
                ProjectionExpression="PK, SK",
                Limit=limit,
            )
        doomed = [items.key_of(item) for item in response.get("Items", [])]
        self.delete_keys(doomed)
        return len(doomed)

    def touch_cleanup_task(self, feed: str) -> int:
        """Create or bump the task item; its stream record wakes the processor to go on. Returns the step."""
        with translated():
            response = self.client.update_item(
                TableName=self.table_name,
                Key=items.cleanup_key(feed),
                UpdateExpression="ADD Step :one",
                ExpressionAttributeValues={":one": 1},
                ReturnValues="UPDATED_NEW",
            )
        return int(response["Attributes"]["Step"])

    def delete_cleanup_task(self, feed: str) -> None:
        self.delete_keys([items.cleanup_key(feed)])
