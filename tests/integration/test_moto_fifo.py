"""moto 5.2.5's FIFO queues, as the local stack runs them (roomcast_local/moto_fifo.py): group order kept
when a failed batch's messages come back, a group locked while one of its messages is in flight."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast_local import moto_fifo

pytestmark = pytest.mark.integration


@pytest.fixture
def queue() -> Iterator[tuple[Any, str]]:
    moto_fifo.apply()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="order.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "0"})[
            "QueueUrl"
        ]
        yield sqs, url


def send(sqs: Any, url: str, group: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)


def bodies(sqs: Any, url: str, count: int = 10) -> list[str]:
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count).get("Messages", [])
    return [m["Body"] for m in received]


def test_a_failed_batch_comes_back_from_its_oldest_message(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    send(sqs, url, "art#carol", "first", "second", "third")
    assert bodies(sqs, url) == ["first", "second", "third"]

    # None deleted: each visibility timeout (0 s) has run out, as after a batch that failed whole
    assert bodies(sqs, url, 1) == ["first"]


def test_a_group_in_flight_is_locked_and_other_groups_are_not(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    send(sqs, url, "art#carol", "c1", "c2")
    send(sqs, url, "art#dave", "d1")
    assert bodies(sqs, url, 1) == ["c1"]

    assert bodies(sqs, url) == ["d1"]
    assert bodies(sqs, url) == []


def test_without_the_patch_moto_hands_out_the_groups_last_message_first() -> None:
    """Why roomcast_local.moto_fifo exists; if moto fixes it, this fails and the patch can go."""
    moto_fifo.revert()
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            url = sqs.create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "0"})[
                "QueueUrl"
            ]
            send(sqs, url, "art#carol", "first", "second", "third")
            bodies(sqs, url)

            assert bodies(sqs, url, 1) == ["third"]
    finally:
        moto_fifo.apply()
