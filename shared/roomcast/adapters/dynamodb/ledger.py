"""Commands' outcome records: read before a command is applied, written with its effect."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import items
from roomcast.adapters.dynamodb.base import Table, error_code, translated
from roomcast.domain.outcomes import CommandOutcome
from roomcast.usecases.ports import Receipt


class DynamoLedger(Table):
    def recorded(self, key: str) -> tuple[CommandOutcome, str] | None:
        item = self.get_item(items.outcome_key(key))
        return items.outcome(item) if item else None

    def recorded_among(self, keys: Sequence[str]) -> dict[str, tuple[CommandOutcome, str]]:
        """One consistent BatchGetItem for a batch's records, instead of a GetItem before each command."""
        distinct = list(dict.fromkeys(keys))
        by_pk = {items.outcome_key(key)["PK"]: key for key in distinct}
        found = self.batch_get([items.outcome_key(key) for key in distinct])
        return {by_pk[item["PK"]]: items.outcome(item) for item in found}

    def record(self, receipt: Receipt) -> bool:
        """A record on its own: a rejection, a dead letter, or an ``unchanged`` outcome (nothing else written)."""
        try:
            with translated():
                self.client.put_item(TableName=self.table_name, **items.receipt_put(receipt)["Put"])
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return False
        return True
