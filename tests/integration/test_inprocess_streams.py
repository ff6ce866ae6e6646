"""roomcast_local/inprocess_streams.py: the stream poller's in-process reads give the event boto3's would.

The local stack's AWS endpoint runs in this process on a loopback port. A table with a stream gets
inserts, a modify and a delete, with every kind of attribute; the same shard is then read through
boto3 over HTTP and in process (GetRecords changes nothing), and each record must become the same
Lambda event record. A stream event source on the in-process client then delivers every record in
order and follows its iterator to what is written next.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from roomcast_local.inprocess_streams import InProcessStreams
from roomcast_local.stream_mapping import StreamSourceConfig, lambda_record
from roomcast_local.stream_source import StreamEventSource
from support.endpoint import local_endpoint

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with local_endpoint(monkeypatch, REGION) as url:
        yield url


def _table_with_changes(url: str) -> tuple[Any, str, str]:
    dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name=REGION)
    table = f"streams-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "B"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    every_kind = {
        "S": {"S": "text"},
        "N": {"N": "12.5"},
        "B": {"B": bytes([0, 1, 255])},
        "SS": {"SS": ["a", "b"]},
        "NS": {"NS": ["1", "2"]},
        "BS": {"BS": [b"x", bytes([254])]},
        "M": {"M": {"inner": {"B": b"\x00"}, "n": {"N": "3"}}},
        "L": {"L": [{"S": "one"}, {"B": b"\xff"}, {"NULL": True}]},
        "BOOL": {"BOOL": False},
    }
    for n in range(3):
        item = {"PK": {"S": "room"}, "SK": {"B": bytes([n])}, **every_kind}
        dynamodb.put_item(TableName=table, Item=item)
    key = {"PK": {"S": "room"}, "SK": {"B": bytes([1])}}
    dynamodb.update_item(
        TableName=table, Key=key, UpdateExpression="SET N = :n", ExpressionAttributeValues={":n": {"N": "7"}}
    )
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": "room"}, "SK": {"B": bytes([2])}})
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    return dynamodb, table, arn


def _without_keys(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "dynamodb": {k: v for k, v in record["dynamodb"].items() if k != "Keys"}}


def test_records_read_in_process_are_the_events_boto3_gives(endpoint: str) -> None:
    _, _, arn = _table_with_changes(endpoint)
    over_http = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=REGION)
    in_process = InProcessStreams()

    shards = in_process.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert [s["ShardId"] for s in shards] == [
        s["ShardId"] for s in over_http.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    ]
    iterator = in_process.get_shard_iterator(
        StreamArn=arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    expected = [lambda_record(r, arn) for r in over_http.get_records(ShardIterator=iterator)["Records"]]
    page = in_process.get_records(ShardIterator=iterator, Limit=1000)
    got = [lambda_record(r, arn) for r in page["Records"]]

    # moto's server writes a binary key attribute of Keys base64-encoded twice (its images once, as DynamoDB
    # does); in process the key is what the image holds.
    assert [_without_keys(r) for r in got] == [_without_keys(r) for r in expected]
    for record in got:
        image = record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]
        assert record["dynamodb"]["Keys"] == {"PK": image["PK"], "SK": image["SK"]}
    assert [r["eventName"] for r in got] == ["INSERT"] * 3 + ["MODIFY", "REMOVE"]
    assert got[0]["dynamodb"]["NewImage"]["B"] == {"B": "AAH/"}  # base64 on the wire, as Lambda's event has it
    # A page after the last record: empty now, then the next write, as over HTTP.
    assert in_process.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []
    after = in_process.get_shard_iterator(
        StreamArn=arn,
        ShardId=shards[0]["ShardId"],
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        SequenceNumber=got[1]["dynamodb"]["SequenceNumber"],
    )["ShardIterator"]
    assert [r["eventID"] for r in in_process.get_records(ShardIterator=after)["Records"]] == [
        r["eventID"] for r in got[2:]
    ]


def test_an_event_source_on_it_delivers_in_order_and_follows_the_shard(endpoint: str) -> None:
    dynamodb, table, arn = _table_with_changes(endpoint)
    batches: list[list[dict[str, Any]]] = []

    def invoke(event: dict[str, Any]) -> None:
        batches.append(event["Records"])

    config = StreamSourceConfig(batch_size=2)
    source = StreamEventSource(InProcessStreams(), arn, invoke, config, starting_position="TRIM_HORIZON")
    delivered = source.drain()
    dynamodb.put_item(TableName=table, Item={"PK": {"S": "room"}, "SK": {"B": b"\x09"}, "N": {"N": "1"}})
    delivered += source.drain()

    records = [r for batch in batches for r in batch]
    assert delivered == 6 and [len(b) for b in batches] == [2, 2, 1, 1]
    assert [r["eventName"] for r in records] == ["INSERT"] * 3 + ["MODIFY", "REMOVE", "INSERT"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences)
    assert records[-1]["dynamodb"]["Keys"]["SK"] == {"B": "CQ=="}
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], float)
    assert Decimal(records[-1]["dynamodb"]["NewImage"]["N"]["N"]) == 1
