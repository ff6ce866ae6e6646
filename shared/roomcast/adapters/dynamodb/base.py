"""What every aggregate's adapter shares: ClientError translation, transactions, batched writes and reads."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from roomcast.adapters import aws_clients
from roomcast.domain.errors import RoomcastError, TransientError

Item = dict[str, Any]

_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_MAX_UNPROCESSED_RETRIES = 8
_BATCH_WRITE_SIZE = 25
_BATCH_GET_SIZE = 100


@contextmanager
def translated() -> Iterator[None]:
    """Map botocore failures to domain errors; anything else is a bug and propagates."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _TRANSIENT_CODES:
            raise TransientError(f"DynamoDB: {code}") from error
        raise
    except BotoCoreError as error:  # timeouts, connection resets
        raise TransientError(f"DynamoDB unreachable: {type(error).__name__}") from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class AlreadyDone(RoomcastError):
    """Internal to the adapters: a write whose condition shows it already holds."""

    def __init__(self, message: str = "already holds") -> None:
        super().__init__(message)


class Table:
    """One DynamoDB table; each aggregate's adapter is a Table with its own requests."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws_clients.dynamodb()

    def transact(
        self,
        actions: Sequence[Mapping[str, Any]],
        on_condition_failed: Sequence[Callable[[], Exception] | None],
    ) -> None:
        """TransactWriteItems; a failed condition on action i raises ``on_condition_failed[i]()``."""
        items = [{op: {"TableName": self.table_name, **body} for op, body in action.items()} for action in actions]
        try:
            with translated():
                self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if any(code in _TRANSIENT_REASONS for code in reasons):
                raise TransientError(f"transaction cancelled: {reasons}") from error
            for index, code in enumerate(reasons):
                factory = on_condition_failed[index] if index < len(on_condition_failed) else None
                if code == "ConditionalCheckFailed" and factory is not None:
                    raise factory() from error
            raise

    def get_item(self, key: Item) -> Item | None:
        """One item by its key, strongly consistent: every read of one item here decides a rule."""
        with translated():
            response = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        item: Item | None = response.get("Item")
        return item

    def query_all(self, **request: Any) -> list[Item]:
        """Every page of one Query."""
        found: list[Item] = []
        while True:
            with translated():
                response = self.client.query(TableName=self.table_name, **request)
            found.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def batch_get(self, wanted: Sequence[Item], consistent: bool = True) -> list[Item]:
        """BatchGetItem, 100 keys a call, unprocessed keys retried with backoff."""
        found: list[Item] = []

        def call(pending: dict[str, Any]) -> dict[str, Any]:
            response = self.client.batch_get_item(RequestItems=pending)
            found.extend(response.get("Responses", {}).get(self.table_name, []))
            return dict(response.get("UnprocessedKeys") or {})

        for start in range(0, len(wanted), _BATCH_GET_SIZE):
            keys = list(wanted[start : start + _BATCH_GET_SIZE])
            _until_processed(call, {self.table_name: {"Keys": keys, "ConsistentRead": consistent}}, "reads")
        return found

    def delete_keys(self, doomed: Sequence[Item]) -> None:
        """BatchWriteItem, 25 keys a call, unprocessed items retried with backoff."""
        self._batch_write([{"DeleteRequest": {"Key": key}} for key in doomed], "deletes")

    def put_items(self, items: Sequence[Item]) -> None:
        """BatchWriteItem, 25 items a call (unconditional Puts), unprocessed items retried with backoff."""
        self._batch_write([{"PutRequest": {"Item": item}} for item in items], "puts")

    def _batch_write(self, requests: Sequence[Item], what: str) -> None:
        for start in range(0, len(requests), _BATCH_WRITE_SIZE):
            pending = list(requests[start : start + _BATCH_WRITE_SIZE])

            def call(request: dict[str, Any]) -> dict[str, Any]:
                response = self.client.batch_write_item(RequestItems=request)
                return dict(response.get("UnprocessedItems") or {})

            _until_processed(call, {self.table_name: pending}, what)


def _until_processed(call: Callable[[dict[str, Any]], dict[str, Any]], request: dict[str, Any], what: str) -> None:
    """The one loop for batch requests: resend what DynamoDB left unprocessed, with full-jitter backoff."""
    attempt = 0
    while request:
        with translated():
            request = call(request)
        if request:
            attempt += 1
            if attempt > _MAX_UNPROCESSED_RETRIES:
                raise TransientError(f"{what} still unprocessed after {attempt} tries")
            time.sleep(min(1.0, 0.05 * 2**attempt) * random.random())
