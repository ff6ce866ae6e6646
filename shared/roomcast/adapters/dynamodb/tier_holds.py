"""DynamoTierHolds: each room incarnation's hold on the second fan-out tier (domain/tier_hold.py).

One item, ``Tier:<feed>`` / ``hold`` (Until, Buckets, ExpiresAt: about 80 bytes), read strongly
consistently (1 RCU) by the batches with frames for the room, written (1 WCU) when its frames go to the
fan-out queue and the stored hold would lapse soon. The table's TTL removes it a while after it lapsed;
a lapsed hold still there is ignored, so TTL's delay matters to nobody.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Table, error_code, translated
from roomcast.domain.tier_hold import TierHold

# How long past its end the item is kept before TTL may remove it: nothing reads a lapsed hold's value.
EXPIRY_AFTER_SECONDS = 3_600


class DynamoTierHolds(Table):
    def read(self, feed: str) -> TierHold | None:
        """Strongly consistent: the batch that wrote the hold may have run a moment ago, on another shard."""
        item = self.get_item({"PK": keys.tier_pk(feed), "SK": keys.TIER_HOLD})
        if item is None:
            return None
        sent = int(item["Sent"]) if "Sent" in item else None  # an item written before slices were counted
        return TierHold(int(item["Until"]), int(item["Buckets"]), sent, int(item.get("Done", 0)))

    def write(self, feed: str, hold: TierHold) -> None:
        """Unconditional: of two writers racing, the later one's hold starts later and lasts as long, so it
        covers the other's slices too (unless it has fewer buckets: counted in docs/capacity.md)."""
        with translated():
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "PK": keys.tier_pk(feed),
                    "SK": keys.TIER_HOLD,
                    "Until": hold.until,
                    "Buckets": hold.buckets,
                    "ExpiresAt": hold.until + EXPIRY_AFTER_SECONDS,
                    **({} if hold.sent is None else {"Sent": hold.sent, "Done": hold.done}),
                },
            )

    def add_sent(self, feed: str, count: int, hold: TierHold | None) -> None:
        """One UpdateItem (1 WCU): ADD keeps the counts of racing writers (two shards' batches)."""
        values: dict[str, Any] = {":count": count}
        request: dict[str, Any] = {"UpdateExpression": "ADD Sent :count", "ExpressionAttributeValues": values}
        if hold is not None:
            request["UpdateExpression"] = "SET #until = :until, Buckets = :buckets, ExpiresAt = :expiry ADD Sent :count"
            request["ExpressionAttributeNames"] = {"#until": "Until"}
            request["ExpressionAttributeValues"] |= {
                ":until": hold.until,
                ":buckets": hold.buckets,
                ":expiry": hold.until + EXPIRY_AFTER_SECONDS,
            }
        self._update(feed, **request)

    def finish(self, feed: str) -> None:
        """One UpdateItem (1 WCU, billed when refused too), only on a hold that counts its slices: one gone
        (TTL) or written before counting is left alone."""
        self._update(
            feed,
            UpdateExpression="ADD Done :one",
            ConditionExpression="attribute_exists(Sent)",
            ExpressionAttributeValues={":one": 1},
        )

    def extend(self, feed: str, until: int) -> None:
        """One UpdateItem (1 WCU, billed when refused too): Until raised, never lowered; Buckets kept, 1 when
        the item is gone (TTL), so a later batch cuts the room by its own size, as it would anyway."""
        self._update(
            feed,
            UpdateExpression="SET #until = :until, Buckets = if_not_exists(Buckets, :one), ExpiresAt = :expiry",
            ConditionExpression="attribute_not_exists(#until) OR #until < :until",
            ExpressionAttributeNames={"#until": "Until"},
            ExpressionAttributeValues={":until": until, ":one": 1, ":expiry": until + EXPIRY_AFTER_SECONDS},
        )

    def _update(self, feed: str, **request: Any) -> None:
        """An UpdateItem of the hold; one its condition refuses has nothing to do."""
        try:
            with translated():
                self.client.update_item(
                    TableName=self.table_name, Key={"PK": keys.tier_pk(feed), "SK": keys.TIER_HOLD}, **request
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
