"""boto3 clients, built on first use so that nothing does I/O at import time.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_DYNAMODB``...), which is how the local stack and the tests
point the same code at moto or DynamoDB Local.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode retries throttling with backoff; what still fails after it
# surfaces as a TransientError and SQS redelivers the record.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@cache
def dynamodb() -> Any:
    """A DynamoDB client that (de)serialises plain Python values, as the resource API does."""
    return boto3.resource("dynamodb", config=_CONFIG).meta.client


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


def reset() -> None:
    """Forget cached clients (tests switch endpoints between backends)."""
    dynamodb.cache_clear()
    sqs.cache_clear()
