"""The fast local DynamoDB over real HTTP, as the local stack serves it (`python -m roomcast_local aws`).

A cancelled transaction must leave every item, index entry and stream record as it was, with
moto's own error shape; concurrent transactions and queries must all succeed.
"""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

import boto3
import pytest

TABLE = "fast"


def _client(url: str, service: str = "dynamodb") -> Any:
    return boto3.client(service, endpoint_url=url)


def _fresh_table(url: str) -> Any:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5).close()
    client = _client(url)
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "G", "GR")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByG",
                "KeySchema": [{"AttributeName": "G", "KeyType": "HASH"}, {"AttributeName": "GR", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return client


def _stream_records(url: str) -> list[dict[str, Any]]:
    streams = _client(url, "dynamodbstreams")
    arn = _client(url).describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records: list[dict[str, Any]] = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return records


def _item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


def _cancelled(url: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], int]:
    """Seed, run a transaction whose last action fails, and return the error, the items, the index and
    how many stream records the transaction left."""
    client = _fresh_table(url)
    for item in (_item("r", "a", G="g", GR="1", V="old"), _item("r", "c", G="g", GR="3")):
        client.put_item(TableName=TABLE, Item=item)
    before = len(_stream_records(url))
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("r", "b", G="g", GR="2")}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _item("r", "a"),
                        "UpdateExpression": "SET V = :v, GR = :gr",
                        "ExpressionAttributeValues": {":v": {"S": "new"}, ":gr": {"S": "9"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": _item("r", "c")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _item("r", "zz"),
                        "ConditionExpression": "attribute_exists(PK)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    error = cancelled.value.response
    error.pop("ResponseMetadata")
    items = client.query(
        TableName=TABLE, KeyConditionExpression="PK = :r", ExpressionAttributeValues={":r": {"S": "r"}}
    )
    index = client.query(
        TableName=TABLE, IndexName="ByG", KeyConditionExpression="G = :g", ExpressionAttributeValues={":g": {"S": "g"}}
    )
    return error, items["Items"], index["Items"], len(_stream_records(url)) - before


def test_a_cancelled_transaction_leaves_every_item_as_it_was(moto_fast_server: str, moto_server: str) -> None:
    error, items, index, new_records = _cancelled(moto_fast_server)

    assert error["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "None"},
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
    ]
    assert items == [_item("r", "a", G="g", GR="1", V="old"), _item("r", "c", G="g", GR="3")]
    assert index == items
    assert new_records == 0
    # Plain moto's server, the same transaction: the same answer, item for item.
    assert (error, items, index, new_records) == _cancelled(moto_server)


def test_an_invalid_transaction_is_refused_and_undone(moto_fast_server: str) -> None:
    client = _fresh_table(moto_fast_server)
    client.put_item(TableName=TABLE, Item=_item("r", "a", V="old"))

    with pytest.raises(client.exceptions.ClientError, match="multiple operations on one item"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("r", "a", V="new")}},
                {"Delete": {"TableName": TABLE, "Key": _item("r", "a")}},
            ]
        )

    assert client.get_item(TableName=TABLE, Key=_item("r", "a"))["Item"] == _item("r", "a", V="old")


def test_concurrent_transactions_and_queries_all_succeed(moto_fast_server: str) -> None:
    _fresh_table(moto_fast_server)
    threads, per_thread = 8, 25
    failures: list[BaseException] = []

    def write(thread: int) -> None:
        client = _client(moto_fast_server)
        try:
            for n in range(per_thread):
                key = f"{thread:02d}-{n:03d}"
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": TABLE, "Item": _item("room", f"c#{key}", G="g", GR=key)}},
                        {"Put": {"TableName": TABLE, "Item": _item(f"user{thread}", f"c#{key}")}},
                    ]
                )
                client.query(
                    TableName=TABLE,
                    IndexName="ByG",
                    KeyConditionExpression="G = :g",
                    ExpressionAttributeValues={":g": {"S": "g"}},
                    ScanIndexForward=False,
                    Limit=10,
                )
        except BaseException as error:  # noqa: BLE001 - collected: the assertion names it
            failures.append(error)

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    client = _client(moto_fast_server)
    room = client.query(
        TableName=TABLE, KeyConditionExpression="PK = :r", ExpressionAttributeValues={":r": {"S": "room"}}
    )
    assert room["Count"] == threads * per_thread
    assert [i["SK"]["S"] for i in room["Items"]] == sorted(
        f"c#{t:02d}-{n:03d}" for t in range(threads) for n in range(per_thread)
    )
    assert len(_stream_records(moto_fast_server)) == 2 * threads * per_thread
