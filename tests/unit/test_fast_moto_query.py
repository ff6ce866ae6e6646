"""The fast local DynamoDB's Query gives moto's own answers, page for page, on the same data.

Randomised: one table (hash and range key, a GSI with a range key, a GSI without one, an LSI) with
random items, and a few hundred random queries, each paged to the end; the pages from plain moto
and from the patched moto must be identical. Then the patched moto writes (puts, in-place updates
that move items within and out of the indexes, deletes, transactions) and the same comparison
runs again, so the sorted partitions and indexes are checked after maintenance, not only after
their first build.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast_local import fast_moto, fast_query
from roomcast_local.fast_query import run

TABLE = "compare"
SEED = 1309


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    assert not fast_moto.applied()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": t}
                for a, t in (("PK", "S"), ("SK", "S"), ("G", "S"), ("GR", "N"), ("L", "S"))
            ],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByG",
                    "KeySchema": [
                        {"AttributeName": "G", "KeyType": "HASH"},
                        {"AttributeName": "GR", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["V"]},
                },
                {
                    "IndexName": "OnlyG",
                    "KeySchema": [{"AttributeName": "G", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
            LocalSecondaryIndexes=[
                {
                    "IndexName": "ByL",
                    "KeySchema": [
                        {"AttributeName": "PK", "KeyType": "HASH"},
                        {"AttributeName": "L", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        yield client
    fast_moto.revert()


def _item(rng: random.Random, pk: str | None = None, sk: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": {"S": pk or f"p{rng.randrange(4)}"},
        "SK": {
            "S": sk or rng.choice(["a", "ab", "abc", "b", "ba", "c", "Comment:", "Member:"]) + str(rng.randrange(60))
        },
        "V": {"N": str(rng.randrange(10))},
    }
    if rng.random() < 0.8:
        item["G"] = {"S": f"g{rng.randrange(3)}"}
    if rng.random() < 0.8:
        item["GR"] = {"N": str(rng.randrange(-20, 20))}  # duplicates: the table key breaks the ties
    if rng.random() < 0.7:
        item["L"] = {"S": rng.choice(["x", "xy", "y", "z"]) + str(rng.randrange(5))}
    if rng.random() < 0.04:
        item["Big"] = {"S": "x" * rng.randrange(100_000, 300_000)}  # so that some pages end at 1 MB
    return item


def _range_value(rng: random.Random, attr: str) -> dict[str, str]:
    if attr == "GR":
        return {"N": str(rng.randrange(-25, 25))}
    prefixes = ["a", "ab", "b", "C", "Comment:", "x", "xy", "z", "zz"]
    return {"S": rng.choice(prefixes) + rng.choice(["", "1", "3", "9"])}


def _queries(rng: random.Random, count: int) -> list[dict[str, Any]]:
    queries = []
    for _ in range(count):
        query: dict[str, Any] = {"TableName": TABLE, "ScanIndexForward": rng.random() < 0.5}
        index = rng.choice([None, "ByG", "OnlyG", "ByL"])
        values: dict[str, Any] = {}
        if index in ("ByG", "OnlyG"):
            query["IndexName"] = index
            condition, values[":h"], range_attr = "G = :h", {"S": f"g{rng.randrange(4)}"}, "GR"
        else:
            if index:
                query["IndexName"] = index
            condition, values[":h"] = "PK = :h", {"S": f"p{rng.randrange(5)}"}
            range_attr = "L" if index else "SK"
        operator = rng.choice([None, "=", "<", "<=", ">", ">=", "between", "begins_with"])
        if index == "OnlyG" or (operator == "begins_with" and range_attr == "GR"):
            operator = None
        if operator == "between":
            low, high = sorted(
                [_range_value(rng, range_attr), _range_value(rng, range_attr)],
                key=lambda v: float(v["N"]) if "N" in v else v["S"],
            )
            values[":lo"], values[":hi"] = low, high
            condition += f" AND {range_attr} BETWEEN :lo AND :hi"
        elif operator == "begins_with":
            values[":r"] = _range_value(rng, range_attr)
            condition += f" AND begins_with({range_attr}, :r)"
        elif operator:
            values[":r"] = _range_value(rng, range_attr)
            condition += f" AND {range_attr} {operator} :r"
        query["KeyConditionExpression"] = condition
        if rng.random() < 0.3:
            query["FilterExpression"], values[":v"] = "V > :v", {"N": str(rng.randrange(10))}
        if rng.random() < 0.2 and index != "ByL":
            query["ProjectionExpression"] = "PK, SK, V"
        if rng.random() < 0.6:
            query["Limit"] = rng.randrange(1, 12)
        query["ExpressionAttributeValues"] = values
        queries.append(query)
    return queries


def _pages(client: Any, queries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Every page of every query, as moto answers it (LastEvaluatedKey, counts and items)."""
    answers = []
    for query in queries:
        pages, start = [], None
        while True:
            request = dict(query, ExclusiveStartKey=start) if start else query
            page = client.query(**request)
            page.pop("ResponseMetadata")
            pages.append(page)
            start = page.get("LastEvaluatedKey")
            if start is None or len(pages) > 500:
                break
        answers.append(pages)
    return answers


def _write(client: Any, rng: random.Random, count: int) -> None:
    existing = client.scan(TableName=TABLE, ProjectionExpression="PK, SK")["Items"]
    for _ in range(count):
        roll = rng.random()
        key = rng.choice(existing)
        if roll < 0.3:
            client.put_item(TableName=TABLE, Item=_item(rng))
        elif roll < 0.5:
            client.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET G = :g, GR = :r, L = :l",
                ExpressionAttributeValues={
                    ":g": {"S": f"g{rng.randrange(3)}"},
                    ":r": {"N": str(rng.randrange(-20, 20))},
                    ":l": {"S": f"y{rng.randrange(9)}"},
                },
            )
        elif roll < 0.6:
            client.update_item(TableName=TABLE, Key=key, UpdateExpression="REMOVE GR, L")
        elif roll < 0.8:
            client.delete_item(TableName=TABLE, Key=key)
        else:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": _item(rng, sk=f"t{rng.randrange(1000)}")}},
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": key,
                            "UpdateExpression": "SET G = :g",
                            "ExpressionAttributeValues": {":g": {"S": "g1"}},
                        }
                    },
                ]
            )


def test_patched_query_pages_are_moto_s_own(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED)
    for _ in range(200):
        dynamodb.put_item(TableName=TABLE, Item=_item(rng))
    queries = _queries(rng, 120)
    read_pages = []
    monkeypatch.setattr(fast_query, "run", lambda *a: read_pages.append(a) or run(*a))

    plain = _pages(dynamodb, queries)
    with fast_moto.patched():
        patched = _pages(dynamodb, queries)
        _write(dynamodb, rng, 100)
        patched_after_writes = _pages(dynamodb, queries)
    plain_after_writes = _pages(dynamodb, queries)

    assert sum(len(p) > 1 for p in plain) > 30, "the queries should exercise paging"
    assert sum(len(page["Items"]) for pages in plain for page in pages) > 500
    # Only the queries on OnlyG with a key condition on its missing range key go to moto's own query.
    assert len(read_pages) > 0.9 * sum(len(p) for p in patched + patched_after_writes)
    for query, want, got in zip(queries, plain, patched, strict=True):
        assert got == want, query
    for query, want, got in zip(queries, plain_after_writes, patched_after_writes, strict=True):
        assert got == want, query


def test_a_query_moto_refuses_is_refused_the_same_way(dynamodb: Any) -> None:
    with fast_moto.patched():
        for query, message in [
            ({"IndexName": "Nope", "KeyConditionExpression": "G = :h"}, "Invalid index"),
            ({"IndexName": "ByG", "ConsistentRead": True, "KeyConditionExpression": "G = :h"}, "Consistent reads"),
        ]:
            with pytest.raises(dynamodb.exceptions.ClientError, match=message):
                dynamodb.query(TableName=TABLE, ExpressionAttributeValues={":h": {"S": "g1"}}, **query)
