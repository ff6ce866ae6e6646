"""moto's SQS with roomcast_local/fast_sqs.py: the same answers, without walking the queue per message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue

from roomcast_local import fast_sqs, moto_fifo

pytestmark = pytest.mark.integration


def snapshot_of_queues(patched: bool) -> list[dict[str, str]]:
    """Every attribute of a FIFO queue with a DLQ and of a plain one, with messages visible, in flight, delayed."""
    (fast_sqs.apply if patched else fast_sqs.revert)()
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
            fifo = sqs.create_queue(
                QueueName="commands.fifo",
                Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "RedrivePolicy": redrive},
            )["QueueUrl"]
            plain = sqs.create_queue(QueueName="plain", Attributes={"DelaySeconds": "0"})["QueueUrl"]
            for n in range(4):
                sqs.send_message(QueueUrl=fifo, MessageBody=f"m{n}", MessageGroupId=f"g{n % 2}")
                sqs.send_message(QueueUrl=plain, MessageBody=f"p{n}", DelaySeconds=60 * (n % 2))
            sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, VisibilityTimeout=60)
            sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=1, VisibilityTimeout=60)
            answers = []
            for url in (fifo, plain, dlq):
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                some = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "FifoQueue"]
                chosen = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=some)["Attributes"]
                answers.append({k: v for k, v in {**attributes, **chosen}.items() if "Timestamp" not in k})
            return answers
    finally:
        fast_sqs.revert()


def test_queue_attributes_are_moto_s_own() -> None:
    assert snapshot_of_queues(patched=True) == snapshot_of_queues(patched=False)


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each walk over a queue's messages that an approximate count makes."""
    counted: list[str] = []
    original = Queue.approximate_number_of_messages

    def counting(self: Queue) -> int:
        counted.append(self.name)
        return original.fget(self)  # type: ignore[no-any-return,attr-defined]

    monkeypatch.setattr(Queue, "approximate_number_of_messages", property(counting))
    moto_fifo.apply()
    fast_sqs.apply()
    yield counted
    fast_sqs.revert()


def test_sends_and_receives_do_not_count_the_queue(walks: list[str]) -> None:
    with mock_aws():
        sqs: Any = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(
            QueueName="q.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        )["QueueUrl"]
        for n in range(20):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageGroupId=f"g{n}")
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        walked = list(walks)
        count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])

    assert len(received) == 10 and walked == []  # moto 5.2.5 walked the queue three times per send and per receipt
    # GetQueueAttributes reads the one count asked for (twice, as moto's code does), and no other count
    assert count["Attributes"] == {"ApproximateNumberOfMessages": "10"} and walks == ["q.fifo", "q.fifo"]
