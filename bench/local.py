"""Shared by several benchmarks: a fake AWS identity, the template's tables on in-process moto, a mute @connections."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from bench.meter import Meter, table_specs
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.usecases.ports import Store
from roomcast_local import invoke as local_invoke
from roomcast_local import template

REGION = "eu-west-1"

# The same fake identity as the test suite's: nothing the benchmarks run can reach a real account.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # moto's in-process streams need it with current botocore.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "roomcast-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "RoomcastBench",
    # Handlers run in this process print their metrics and logs to stdout otherwise.
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def isolate_aws() -> None:
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key == "AWS_PROFILE":
            del os.environ[key]
    os.environ.update(ENVIRONMENT)


@dataclass
class Chat:
    """template.yaml's tables, queues and secret on in-process moto, metered."""

    provisioned: template.Provisioned
    meter: Meter

    @property
    def table_name(self) -> str:
        return self.provisioned.refs["ChatTable"]

    @property
    def store(self) -> Store:
        return dynamodb_store(self.table_name)


@contextmanager
def chat_on_moto(prefix: str = "bench") -> Iterator[Chat]:
    with mock_aws():
        # Clients and settings cached by earlier code point elsewhere; these are built inside the mock.
        local_invoke.reset_caches()
        provisioned = template.provision(
            prefix, boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager")
        )
        meter = Meter(table_specs(provisioned))
        with meter.active():
            yield Chat(provisioned, meter)
    local_invoke.reset_caches()


class NullApi:
    """An @connections client for figures that count DynamoDB only: every post succeeds, nothing is sent."""

    def __init__(self) -> None:
        self.posts = 0
        self._lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        with self._lock:
            self.posts += 1
        return {}


class BulkWriter:
    """A DynamoDB client for seeding a workload: Roomcast's own code builds every item, and its transactions
    become batched puts (conditions dropped: the seed is valid by construction).

    Why: moto copies the whole table for every TransactWriteItems action (moto/dynamodb/models/__init__.py,
    ``transact_write_items``), so thousands of setup transactions grow quadratically with the table. Reads
    pass through to the real client; ``flush()`` before reading what was just seeded.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._pending: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's
        for action in TransactItems:
            if "Put" in action:
                self._pending.append((action["Put"]["TableName"], action["Put"]["Item"]))
            elif "ConditionCheck" not in action and "Update" not in action:
                # (an Update moves a comment author's LastPosition: a seed drawn from one clock needs none)
                raise ValueError(f"a seed only puts items, not {sorted(action)}")
        if len(self._pending) >= 25:
            self.flush()
        return {}

    def flush(self) -> None:
        while self._pending:
            chunk, self._pending = self._pending[:25], self._pending[25:]
            request: dict[str, list[dict[str, Any]]] = {}
            for table, item in chunk:
                request.setdefault(table, []).append({"PutRequest": {"Item": item}})
            while request:
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def pages(count: int) -> Callable[[], bool]:
    """An ``out_of_time`` for clean_up_room that allows ``count`` pages, then hands over."""
    budget = iter([False] * count)
    return lambda: next(budget, True)


def never() -> bool:
    return False
