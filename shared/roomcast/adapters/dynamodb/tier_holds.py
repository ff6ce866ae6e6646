"""DynamoTierHolds: each room incarnation's hold on the second fan-out tier (domain/tier_hold.py).

One item, ``Tier:<feed>`` / ``hold`` (Until, Buckets, ExpiresAt: about 80 bytes), read strongly
consistently (1 RCU) by the batches with frames for the room, written (1 WCU) when its frames go to the
fan-out queue and the stored hold would lapse soon. The table's TTL removes it a while after it lapsed;
a lapsed hold still there is ignored, so TTL's delay matters to nobody.
"""

from __future__ import annotations

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
        return TierHold(until=int(item["Until"]), buckets=int(item["Buckets"]))

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
                },
            )

    def extend(self, feed: str, until: int) -> None:
        """One UpdateItem (1 WCU, billed when refused too): Until raised, never lowered; Buckets kept, 1 when
        the item is gone (TTL), so a later batch cuts the room by its own size, as it would anyway."""
        try:
            with translated():
                self.client.update_item(
                    TableName=self.table_name,
                    Key={"PK": keys.tier_pk(feed), "SK": keys.TIER_HOLD},
                    UpdateExpression="SET #until = :until, Buckets = if_not_exists(Buckets, :one), ExpiresAt = :expiry",
                    ConditionExpression="attribute_not_exists(#until) OR #until < :until",
                    ExpressionAttributeNames={"#until": "Until"},
                    ExpressionAttributeValues={
                        ":until": until,
                        ":one": 1,
                        ":expiry": until + EXPIRY_AFTER_SECONDS,
                    },
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
