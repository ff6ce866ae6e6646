"""Small DynamoDB tables for tests that compare moto with and without the local stack's patches."""

from __future__ import annotations

from typing import Any


def hash_table(client: Any, name: str, *keys: str) -> None:
    """An on-demand table keyed by ``keys`` (hash, then range), all strings."""
    kinds = ("HASH", "RANGE")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in zip(keys, kinds, strict=False)],
    )
