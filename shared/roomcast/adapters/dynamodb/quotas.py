"""Per-client counts in the chat table: a message bucket on each connection's item, connection slots per user.

The bucket is GCRA, a token bucket kept as one number: ``Tat``, the theoretical arrival time (ms) of
the next message at the allowed rate. A message is admitted while ``Tat`` runs at most the burst's
tolerance ahead of now, and pushes it one interval further; each write is conditional, so concurrent
invocations for one connection cannot both spend the last token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Table, error_code, translated
from roomcast.domain.chat import split_feed
from roomcast.domain.quotas import MessageRate

# A slot is free when never taken, when its connection's time is over, or when it is already this connection's.
_SLOT_FREE = "attribute_not_exists(PK) OR ExpiresAt <= :now OR ConnectionId = :c"


class DynamoLimiter(Table):
    def take(self, connection_id: str, now_ms: int, rate: MessageRate) -> int:
        key = {"PK": keys.connection_pk(connection_id), "SK": keys.META}
        # Within the burst: one interval further. Cheapest path, one write per admitted message.
        if self._update(
            key,
            "SET Tat = Tat + :t",
            "attribute_exists(PK) AND Tat BETWEEN :now AND :ceiling",
            {":t": rate.interval_ms, ":now": now_ms, ":ceiling": now_ms + rate.tolerance_ms},
        ):
            return 0
        # The bucket has filled up again (or was never used): start over from now, strikes forgiven.
        if self._update(
            key,
            "SET Tat = :next, Strikes = :zero",
            "attribute_exists(PK) AND (attribute_not_exists(Tat) OR Tat < :now)",
            {":next": now_ms + rate.interval_ms, ":now": now_ms, ":zero": 0},
        ):
            return 0
        with translated():
            try:
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="ADD Strikes :one",
                    ConditionExpression="attribute_exists(PK)",
                    ExpressionAttributeValues={":one": 1},
                    ReturnValues="UPDATED_NEW",
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                return rate.strikes  # the connection's item is gone: nothing to admit it on
        return int(response["Attributes"]["Strikes"])

    def claim_slot(self, user_id: str, connection_id: str, slots: int, expires_at: int, now_s: int) -> bool:
        # Two tries: a slot seen free may be taken by a concurrent $connect before our put lands.
        for _ in range(2):
            taken = {
                item["SK"]
                for item in self._slots(user_id)
                if int(item["ExpiresAt"]) > now_s and item.get("ConnectionId") != connection_id
            }
            free = [keys.slot_sk(n) for n in range(slots) if keys.slot_sk(n) not in taken]
            if not free:
                return False
            item = {"PK": keys.slots_pk(user_id), "SK": free[0], "ConnectionId": connection_id, "ExpiresAt": expires_at}
            if self._put(item, _SLOT_FREE, now_s, connection_id):
                return True
        return False

    def release_slot(self, user_id: str, connection_id: str) -> None:
        held = [item for item in self._slots(user_id) if item.get("ConnectionId") == connection_id]
        for key in [{"PK": item["PK"], "SK": item["SK"]} for item in held]:
            # Conditional: the slot may have gone to another connection meanwhile, not ours to free.
            delete = partial(
                self.client.delete_item,
                TableName=self.table_name,
                Key=key,
                ConditionExpression="ConnectionId = :c",
                ExpressionAttributeValues={":c": connection_id},
            )
            _held(delete)

    def subscribed_rooms(self, connection_id: str) -> set[str]:
        found = self.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sub)",
            ExpressionAttributeValues={":pk": keys.connection_pk(connection_id), ":sub": keys.SUBSCRIPTION_PREFIX},
            ProjectionExpression="SK",
            ConsistentRead=True,
        )
        return {split_feed(keys.strip(keys.SUBSCRIPTION_PREFIX, item["SK"]))[0] for item in found}

    def _slots(self, user_id: str) -> list[dict[str, Any]]:
        return self.query_all(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": keys.slots_pk(user_id)},
            ConsistentRead=True,
        )

    def _update(self, key: dict[str, Any], update: str, condition: str, values: dict[str, Any]) -> bool:
        return _held(
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        )

    def _put(self, item: dict[str, Any], condition: str, now_s: int, connection_id: str) -> bool:
        return _held(
            lambda: self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues={":now": now_s, ":c": connection_id},
            )
        )


def _held(write: Callable[[], Any]) -> bool:
    """A conditional write: False when its condition did not hold."""
    try:
        with translated():
            write()
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return False
    return True
