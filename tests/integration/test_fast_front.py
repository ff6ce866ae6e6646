"""roomcast_local/fast_front.py: the hot JSON operations answered without Flask, exactly as moto's server answers them.

The local stack's AWS endpoint is started on a loopback port with the lean front wrapped in a
checker: every request the front answers that changes nothing (a read, or any error answer) is
replayed through moto's own dispatcher, and the two answers must match in status, headers and
body. A workload of the calls the local stack makes (DynamoDB reads, writes, a transaction,
errors, the table's stream, a FIFO queue) then runs through boto3.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import responses as core_responses
from moto.dynamodb.responses import DynamoHandler

from roomcast_local import aws_endpoint, fast_front, fast_moto

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
# Answers that depend on when or which request, not on what it asked.
_VOLATILE = {"date", "x-amzn-requestid", "x-amz-crc32"}
_READS = {"GetItem", "Query", "BatchGetItem", "DescribeTable", "DescribeStream", "GetRecords"}
_READS |= {"GetQueueAttributes", "GetQueueUrl"}

Answer = tuple[str, list[tuple[str, str]], bytes]


def _call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> Answer:
    started: list[Any] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: started.extend([status, headers])))
    status, headers = started
    return status, sorted((k.lower(), v) for k, v in headers if k.lower() not in _VOLATILE), body


def _steady(answer: Answer) -> Answer:
    """Without GetRecords' NextShardIterator, a new random token on every call."""
    status, headers, body = answer
    if b'"NextShardIterator"' in body:
        page = json.loads(body)
        page.pop("NextShardIterator")
        body = json.dumps(page).encode()
    return status, headers, body


class Checked:
    """The lean front, each of whose unchanging answers is compared with moto's dispatcher's."""

    def __init__(self, app: Any) -> None:
        self.front = fast_front.LeanFront(app)
        self.plain = app
        self.lean: list[str] = []
        self.compared: list[str] = []
        self.mismatches: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if fast_front.handler_for(environ) is None:
            return self.plain(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        operation = environ["HTTP_X_AMZ_TARGET"].partition(".")[2]
        self.lean.append(operation)
        answer = _call(self.front, {**environ, "wsgi.input": io.BytesIO(body)})
        if operation in _READS or not answer[0].startswith("2"):
            self.compared.append(operation)
            expected = _call(self.plain, {**environ, "wsgi.input": io.BytesIO(body)})
            if _steady(answer) != _steady(expected):
                self.mismatches.append(f"{operation}: {answer!r} != {expected!r}")
        start_response(answer[0], answer[1])
        return [answer[2]]


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Checked]]:
    checked: list[Checked] = []

    def wrap(app: Any) -> Any:
        fast_front.apply()
        checked.append(Checked(app))
        return checked[0]

    monkeypatch.setattr(fast_front, "wrap", wrap)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    server = aws_endpoint.AwsEndpoint("127.0.0.1", 0, REGION)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}", checked[0]
    finally:
        server.stop()
        fast_front.revert()


def _client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION)


def _dynamodb_workload(url: str) -> None:
    dynamodb = _client(url, "dynamodb")
    table = f"front-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for n in range(5):
        item = {"PK": {"S": "room"}, "SK": {"S": f"c#{n:03d}"}, "N": {"N": str(n)}, "B": {"B": bytes([n, 255])}}
        dynamodb.put_item(TableName=table, Item=item)
    key = {"PK": {"S": "room"}, "SK": {"S": "c#001"}}
    dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    dynamodb.get_item(TableName=table, Key={"PK": {"S": "room"}, "SK": {"S": "none"}})
    room = {":p": {"S": "room"}}
    page = dynamodb.query(TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues=room, Limit=2)
    dynamodb.query(
        TableName=table,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues=room,
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    dynamodb.batch_get_item(RequestItems={table: {"Keys": [key]}})
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": {"PK": {"S": "room"}, "SK": {"S": "c#009"}}}}]
    )
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": key, "ConditionExpression": "attribute_not_exists(PK)"}}
            ]
        )
    with pytest.raises(ClientError, match="ConditionalCheckFailedException"):
        dynamodb.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(PK)")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        dynamodb.get_item(TableName="no-such-table", Key=key)
    with pytest.raises(ClientError, match="ValidationException"):
        dynamodb.query(TableName=table, KeyConditionExpression="nonsense")
    dynamodb.describe_table(TableName=table)
    _stream_workload(url, dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"])


def _stream_workload(url: str, stream_arn: str) -> None:
    streams = _client(url, "dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=3)
    assert len(records["Records"]) == 3


def _sqs_workload(url: str) -> None:
    sqs = _client(url, "sqs")
    name = f"front-{uuid.uuid4().hex[:8]}.fifo"
    queue = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == queue
    entries = [
        {"Id": str(n), "MessageBody": f"m{n}", "MessageGroupId": "g", "MessageDeduplicationId": f"d{n}"}
        for n in range(3)
    ]
    assert not sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in messages] == ["m0", "m1", "m2"]
    handles = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    assert not sqs.delete_message_batch(QueueUrl=queue, Entries=handles).get("Failed")
    sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    with pytest.raises(ClientError, match=r"QueueDoesNotExist|NonExistentQueue"):
        sqs.get_queue_url(QueueName="no-such-queue")


def test_lean_answers_are_moto_servers_own(endpoint: tuple[str, Checked]) -> None:
    url, checked = endpoint
    _dynamodb_workload(url)
    _sqs_workload(url)
    secrets = _client(url, "secretsmanager")  # not a hot operation: moto's dispatcher answers it
    secrets.create_secret(Name=f"front-{uuid.uuid4().hex[:8]}", SecretString="s3cret")
    assert checked.mismatches == []
    # The local stack's hot operations took the lean path, and their unchanging answers were compared.
    hot = {"GetItem", "Query", "TransactWriteItems", "GetRecords", "ReceiveMessage", "DeleteMessageBatch"}
    assert hot | {"SendMessageBatch"} <= set(checked.lean)
    assert {"GetItem", "Query", "TransactWriteItems", "PutItem", "GetRecords", "GetQueueUrl"} <= set(checked.compared)
    assert not any(op.startswith("CreateSecret") for op in checked.lean)


def test_off_with_plain_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fast_moto.SWITCH, "0")
    server = aws_endpoint.AwsEndpoint("127.0.0.1", 0, REGION)
    server.start()
    try:
        assert server._server is not None
        assert not isinstance(server._server.app.app, fast_front.LeanFront)
    finally:
        server.stop()


def test_revert_restores_moto() -> None:
    original = core_responses.method_names_from_class
    names = set(original(DynamoHandler))
    fast_front.apply()
    fast_front.apply()  # idempotent
    assert core_responses.method_names_from_class is not original
    assert set(core_responses.method_names_from_class(DynamoHandler)) == names
    assert "get_item" in names
    fast_front.revert()
    assert core_responses.method_names_from_class is original
