"""Reading a queue without consuming it, and redriving one dead letter (roomcast_local/console/queues.py),
on moto's server over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from roomcast_local.console import queues

pytestmark = pytest.mark.integration


@pytest.fixture
def sqs(moto_server: str) -> Any:
    return boto3.client(
        "sqs", endpoint_url=moto_server, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture
def two_queues(sqs: Any) -> Iterator[tuple[str, str]]:
    names = [f"console-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("dlq", "commands")]
    urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in names]
    yield urls[0], urls[1]
    for url in urls:
        sqs.delete_queue(QueueUrl=url)


def park(sqs: Any, url: str, body: str, code: str = "InvalidCommand") -> str:
    attributes = {"ErrorCode": {"DataType": "String", "StringValue": code}}
    return str(sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)["MessageId"])


def test_peek_reads_past_one_receive_and_leaves_every_message_visible(sqs: Any, two_queues: tuple[str, str]) -> None:
    dead_letters, _ = two_queues
    sent = [park(sqs, dead_letters, f"body {number}") for number in range(25)]
    for _ in range(2):  # the second read finds them all again: the first one put them back
        seen = queues.peek(sqs, dead_letters)
        assert sorted(message["messageId"] for message in seen) == sorted(sent)
    first = next(message for message in seen if message["messageId"] == sent[0])
    assert first["body"] == "body 0" and first["attributes"] == {"ErrorCode": "InvalidCommand"}
    assert first["sentAt"] > 0


def test_redrive_sends_the_body_back_then_deletes_only_that_message(sqs: Any, two_queues: tuple[str, str]) -> None:
    dead_letters, commands = two_queues
    keep, move = park(sqs, dead_letters, "keep me"), park(sqs, dead_letters, '{"type":"addComment"}')
    new_id = queues.redrive(sqs, dead_letters, commands, move)
    received = sqs.receive_message(QueueUrl=commands, MaxNumberOfMessages=10)["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in received] == [(new_id, '{"type":"addComment"}')]
    assert [message["messageId"] for message in queues.peek(sqs, dead_letters)] == [keep]


def test_redriving_a_message_that_is_not_there_says_so(sqs: Any, two_queues: tuple[str, str]) -> None:
    dead_letters, commands = two_queues
    park(sqs, dead_letters, "other")
    with pytest.raises(queues.NotFound, match="no message nope on the dead-letter queue"):
        queues.redrive(sqs, dead_letters, commands, "nope")
    assert len(queues.peek(sqs, dead_letters)) == 1


def test_a_fifo_dead_letter_goes_back_in_its_own_group(sqs: Any) -> None:
    fifo = {"FifoQueue": "true"}
    names = [f"console-{kind}-{uuid.uuid4().hex[:8]}.fifo" for kind in ("dlq", "commands")]
    dead_letters, commands = (sqs.create_queue(QueueName=name, Attributes=fifo)["QueueUrl"] for name in names)
    body = '{"type":"joinChatRoom","roomId":"art","userId":"bob","commandId":"c-1"}'
    parked = sqs.send_message(
        QueueUrl=dead_letters, MessageBody=body, MessageGroupId="art#bob", MessageDeduplicationId="c-1"
    )["MessageId"]
    try:
        new_id = queues.redrive(sqs, dead_letters, commands, parked)
        received = sqs.receive_message(QueueUrl=commands, AttributeNames=["MessageGroupId"])["Messages"]
        assert [(m["MessageId"], m["Attributes"]["MessageGroupId"]) for m in received] == [(new_id, "art#bob")]
    finally:
        for url in (dead_letters, commands):
            sqs.delete_queue(QueueUrl=url)
