"""boto3 clients, built on first use so that nothing does I/O at import time.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_DYNAMODB``...), which is how the local stack and the tests
point the same code at moto or another DynamoDB.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode retries throttling with backoff; what still fails after it
# surfaces as a TransientError and SQS redelivers the record.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)

# The @connections client's own retries are off: the poster retries throttled posts itself,
# with backoff it can count and tests can observe. (botocore's ``max_attempts`` counts retries after
# the first request, so it was 1 retry per attempt; ``total_max_attempts`` counts every request.)
_CONNECTIONS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=5)


# boto3's default session is not safe to build clients from in two threads at once: the StreamFunction may
# make its first DynamoDB request from two (a room's hold read alongside its subscriptions).
_BUILDING = threading.Lock()


@cache
def dynamodb() -> Any:
    """A DynamoDB client that (de)serialises plain Python values, as the resource API does."""
    with _BUILDING:
        return boto3.resource("dynamodb", config=_CONFIG).meta.client


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


@cache
def secretsmanager() -> Any:
    return boto3.client("secretsmanager", config=_CONFIG)


@cache
def management_api(endpoint_url: str, pool_size: int = 10) -> Any:
    """The API Gateway management (@connections) client of one WebSocket API stage.

    ``pool_size`` matches the fan-out's threads, so concurrent posts keep their connections."""
    config = _CONNECTIONS_CONFIG.merge(Config(max_pool_connections=pool_size))
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=config)


def reset() -> None:
    """Forget cached clients (tests and the local stack switch endpoints)."""
    for client in (dynamodb, sqs, secretsmanager, management_api):
        client.cache_clear()
