"""A transaction's ClientRequestToken is remembered for 10 minutes after it succeeded, then forgotten,
without walking every remembered token on each transaction (moto_tokens' expiry queue)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast_local import moto_tokens
from support.moto_tables import hash_table

TABLE = "tokens"


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()  # never before what other tests' tokens were stamped with

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(moto_tokens.time, "monotonic", clock)
    was_applied = "transact_write_items" in moto_tokens._saved
    moto_tokens.revert()  # and forget other tests' tokens
    moto_tokens.apply()
    yield clock
    if not was_applied:
        moto_tokens.revert()


def _count(client: Any, token: str) -> int:
    """Adds one to the counter under ``token``; answers the counter."""
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"PK": {"S": "counter"}},
                    "UpdateExpression": "ADD N1 :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ],
        ClientRequestToken=token,
    )
    return int(client.get_item(TableName=TABLE, Key={"PK": {"S": "counter"}})["Item"]["N1"]["N"])


def test_a_token_counts_once_for_ten_minutes_then_is_forgotten(clock: Clock) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        hash_table(client, TABLE, "PK")
        early, late = str(uuid.uuid4()), str(uuid.uuid4())
        assert _count(client, early) == 1
        clock.now += 300
        assert _count(client, late) == 2
        assert _count(client, early) == 2  # a retry within 10 minutes changes nothing
        clock.now += moto_tokens.TOKEN_SECONDS - 299  # early's ten minutes are over, late's are not
        assert _count(client, late) == 2
        assert _count(client, early) == 3  # forgotten: it runs again
        assert _count(client, early) == 3  # and is remembered again
        clock.now += moto_tokens.TOKEN_SECONDS + 1
        assert _count(client, late) == 4
        assert len(moto_tokens._tokens) == len(moto_tokens._expiry) == 1
