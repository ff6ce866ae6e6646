"""roomcast_local/inprocess_sqs.py: the pollers' in-process SQS calls answer what boto3 gets over HTTP.

The local stack's AWS endpoint runs in this process on a loopback port, with the patches the stack
applies. Messages are sent through boto3; a receive over HTTP that leaves them visible
(``VisibilityTimeout`` 0) and a receive in process must return the same messages, attribute by
attribute; deletes and visibility changes in process must act on the queue boto3 sees; and an SQS
event source on the in-process client delivers Lambda's event and keeps a failed record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from roomcast_local import moto_fifo
from roomcast_local.inprocess_sqs import InProcessSqs
from roomcast_local.sqs_source import SqsEventSource
from support.endpoint import local_endpoint

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    patched = moto_fifo.applied()
    moto_fifo.apply()  # the stack's FIFO receives, which the in-process calls must go through too
    try:
        with local_endpoint(monkeypatch, REGION) as url:
            yield boto3.client("sqs", endpoint_url=url, region_name=REGION)
    finally:
        if not patched:
            moto_fifo.revert()


def _fifo(sqs: Any) -> str:
    name = f"inprocess-{uuid.uuid4().hex[:8]}.fifo"
    return str(sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"])


def _send(sqs: Any, queue: str, count: int) -> None:
    attributes = {
        "kind": {"DataType": "String", "StringValue": "comment"},
        "blob": {"DataType": "Binary", "BinaryValue": bytes([0, 1, 255])},
    }
    entries = [
        {
            "Id": str(n),
            "MessageBody": f"m{n}",
            "MessageGroupId": f"g{n % 2}",
            "MessageDeduplicationId": f"d{n}",
            **({"MessageAttributes": attributes} if n == 0 else {}),
        }
        for n in range(count)
    ]
    assert not sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed")


def _counts(sqs: Any, queue: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
    visible, hidden = (int(attributes[name]) for name in names)
    return visible, hidden


def test_a_receive_answers_what_boto3_gets(sqs: Any) -> None:
    queue = _fifo(sqs)
    _send(sqs, queue, 4)
    request = {
        "QueueUrl": queue,
        "MaxNumberOfMessages": 10,
        "AttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    over_http = sqs.receive_message(**request, VisibilityTimeout=0)["Messages"]
    in_process = InProcessSqs(REGION).receive_message(**request)["Messages"]

    def steady(message: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: v for k, v in message["Attributes"].items() if k != "ApproximateReceiveCount"}
        return {**{k: v for k, v in message.items() if k != "ReceiptHandle"}, "Attributes": attributes}

    assert [steady(m) for m in in_process] == [steady(m) for m in over_http]
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in in_process] == ["2"] * 4
    assert in_process[0]["MessageAttributes"]["blob"] == {"DataType": "Binary", "BinaryValue": bytes([0, 1, 255])}
    assert set(in_process[0]["Attributes"]) >= {"MessageGroupId", "SequenceNumber", "SenderId", "SentTimestamp"}
    assert _counts(sqs, queue) == (0, 4)
    assert InProcessSqs(REGION).receive_message(QueueUrl=queue) == {}  # both groups in flight: nothing


def test_deletes_and_visibility_changes_act_on_the_queue(sqs: Any) -> None:
    queue = _fifo(sqs)
    _send(sqs, queue, 3)
    client = InProcessSqs(REGION)
    messages = client.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])[
        "Messages"
    ]
    assert all(set(m["Attributes"]) == {"MessageGroupId"} for m in messages)
    handles = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    deleted = client.delete_message_batch(QueueUrl=queue, Entries=handles[:2])
    assert deleted == {"Successful": [{"Id": "0"}, {"Id": "1"}], "Failed": []}
    released = client.change_message_visibility_batch(QueueUrl=queue, Entries=[{**handles[2], "VisibilityTimeout": 0}])
    assert released["Successful"] == [{"Id": "2"}]

    assert _counts(sqs, queue) == (1, 0)
    again = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert [m["Body"] for m in again] == [messages[2]["Body"]]


def test_an_event_source_on_it_keeps_lambdas_semantics(sqs: Any) -> None:
    queue = _fifo(sqs)
    _send(sqs, queue, 3)
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "m1"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    source = SqsEventSource(InProcessSqs(REGION), queue, "arn:aws:sqs:eu-west-1:123456789012:q.fifo", invoke)
    result = source.poll_once(wait_seconds=1)

    assert (result.received, result.failed) == (3, 1)
    record = events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == REGION
    assert record["messageAttributes"]["kind"]["stringValue"] == "comment"
    assert {"MessageGroupId", "SequenceNumber", "ApproximateReceiveCount"} <= set(record["attributes"])
    assert _counts(sqs, queue) == (0, 1)  # the failed record stays, hidden for the visibility timeout
