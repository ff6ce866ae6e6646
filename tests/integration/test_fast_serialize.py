"""roomcast_local/fast_serialize.py: every answer it writes is the body moto's own serializer writes, byte for byte.

A workload of the calls the local stack makes (and more: every DynamoDB attribute type, pages,
transactions, errors, the table's stream with its timestamps, SQS, Secrets Manager) runs on moto's
in-process mock with the patch applied; each answer the fast path writes is compared with moto's
serializer's for the same result, and the hot operations must have taken the fast path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import ActionContext, ActionResult

from roomcast_local import fast_serialize

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TABLE = "chat"


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], list[str]]]:
    """(operations answered by the fast path, mismatches against moto's serializer)."""
    fast: list[str] = []
    mismatches: list[str] = []
    plain_body = fast_serialize.plain_body

    def checked(result: Any, context: ActionContext) -> str:
        body = plain_body(result, context)
        _, _, expected = fast_serialize._saved["execute_result"](ActionResult(result), context)
        name = str(context.operation_model.name)
        fast.append(name)
        if body != expected:
            mismatches.append(f"{name}: {body!r} != {expected!r}")
        return body

    fast_serialize.apply()
    monkeypatch.setattr(fast_serialize, "plain_body", checked)
    try:
        with mock_aws():
            yield fast, mismatches
    finally:
        fast_serialize.revert()


def _table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "G")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByG",
                "KeySchema": [{"AttributeName": "G", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _item(n: int) -> dict[str, Any]:
    return {
        "PK": {"S": "room"},
        "SK": {"S": f"c#{n:03d}"},
        "G": {"S": "g"},
        "Text": {"S": f"comment {n} ✓"},
        "Seq": {"N": str(n)},
        "Blob": {"B": bytes([n % 256, 0, 255])},
        "Tags": {"SS": ["a", f"t{n}"]},
        "Nums": {"NS": ["1", str(n + 2)]},
        "Bins": {"BS": [b"x", bytes([n % 256])]},
        "Meta": {"M": {"by": {"S": "u"}, "deep": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
        "Flag": {"BOOL": n % 2 == 0},
        "Nothing": {"NULL": True},
    }


def _dynamodb_workload(dynamodb: Any) -> None:
    _table(dynamodb)
    for n in range(12):
        dynamodb.put_item(TableName=TABLE, Item=_item(n))
    key = {"PK": {"S": "room"}, "SK": {"S": "c#001"}}
    dynamodb.get_item(TableName=TABLE, Key=key)
    dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": "none"}, "SK": {"S": "x"}})
    room = {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "room"}}}
    page = dynamodb.query(TableName=TABLE, Limit=5, **room)
    dynamodb.query(TableName=TABLE, Limit=5, ExclusiveStartKey=page["LastEvaluatedKey"], **room)
    dynamodb.query(
        TableName=TABLE,
        IndexName="ByG",
        KeyConditionExpression="G = :g",
        ExpressionAttributeValues={":g": {"S": "g"}},
        ProjectionExpression="SK, #t",
        ExpressionAttributeNames={"#t": "Text"},
        ReturnConsumedCapacity="TOTAL",
    )
    dynamodb.scan(TableName=TABLE, Limit=3)
    dynamodb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET Seq = Seq + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item(50)}},
            {"Delete": {"TableName": TABLE, "Key": {"PK": {"S": "room"}, "SK": {"S": "c#002"}}}},
        ]
    )
    put = {"TableName": TABLE, "Item": _item(1), "ConditionExpression": "attribute_not_exists(PK)"}
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[{"Put": put}])
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=TABLE, Item=_item(1), ConditionExpression="attribute_not_exists(PK)")
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": [key]}})
    dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": _item(60)}}]})
    dynamodb.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    dynamodb.describe_table(TableName=TABLE)


def _stream_workload(dynamodb: Any) -> None:
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert records and all("ApproximateCreationDateTime" in r["dynamodb"] for r in records)


def _other_workload() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="commands.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello", MessageGroupId="g", MessageDeduplicationId="d")
    for message in sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="key", SecretString="s3cret")
    secrets.get_secret_value(SecretId="key")


def test_every_fast_answer_is_moto_serializers_own(compared: tuple[list[str], list[str]]) -> None:
    fast, mismatches = compared
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    _dynamodb_workload(dynamodb)
    _stream_workload(dynamodb)
    _other_workload()
    assert mismatches == []
    # The local stack's hot answers take the fast path.
    assert {"GetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems", "GetRecords"} <= set(fast)


def test_answers_the_same_through_boto3_with_and_without_it() -> None:
    def answers() -> list[Any]:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            _table(dynamodb)
            for n in range(3):
                dynamodb.put_item(TableName=TABLE, Item=_item(n))
            room = {":p": {"S": "room"}}
            query = dynamodb.query(TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues=room)
            got = dynamodb.get_item(TableName=TABLE, Key={"PK": {"S": "room"}, "SK": {"S": "c#001"}})
            for answer in (query, got):
                answer.pop("ResponseMetadata")
            return [query, got]

    plain = answers()
    fast_serialize.apply()
    try:
        patched = answers()
    finally:
        fast_serialize.revert()
    assert patched == plain
    assert patched[1]["Item"]["Blob"] == {"B": bytes([1, 0, 255])}


def test_revert_restores_moto() -> None:
    original = ActionResult.execute_result
    fast_serialize.apply()
    fast_serialize.apply()  # idempotent
    assert ActionResult.execute_result is not original
    fast_serialize.revert()
    assert ActionResult.execute_result is original
