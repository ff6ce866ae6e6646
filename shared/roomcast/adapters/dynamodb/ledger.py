"""Commands' outcome records: read before a command is applied, written with its effect."""

from __future__ import annotations

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import items
from roomcast.adapters.dynamodb.base import Table, error_code, translated
from roomcast.domain.outcomes import CommandOutcome
from roomcast.usecases.ports import Receipt


class DynamoLedger(Table):
    def recorded(self, key: str) -> tuple[CommandOutcome, str] | None:
        item = self.get_item(items.outcome_key(key))
        return items.outcome(item) if item else None

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
