"""moto 5.2.5's FIFO queues, as the local stack runs them (roomcast_local/moto_fifo.py): group order kept
when a failed batch's messages come back, a group locked while one of its messages is in flight."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue

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


def receive_concurrently(url: str, receivers: int, wait_seconds: int) -> tuple[list[threading.Thread], list[str]]:
    """``receivers`` threads, each one long poll for one message; returns the threads and what they got."""
    received: list[str] = []

    def receive() -> None:
        sqs = boto3.client("sqs", region_name="eu-west-1")
        received.extend(bodies_waiting(sqs, url, wait_seconds))

    threads = [threading.Thread(target=receive) for _ in range(receivers)]
    for thread in threads:
        thread.start()
    return threads, received


def bodies_waiting(sqs: Any, url: str, wait_seconds: int) -> list[str]:
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=wait_seconds)
    return [m["Body"] for m in received.get("Messages", [])]


def test_concurrent_long_polls_hand_a_group_to_one_receiver_at_a_time(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    threads, received = receive_concurrently(url, receivers=4, wait_seconds=3)
    send(sqs, url, "art#carol", "c1", "c2", "c3", "c4", "c5")
    for thread in threads:
        thread.join()

    # Whichever poll took c1, the others found the group in flight until their polls ended, as in SQS.
    assert received == ["c1"]


def test_a_long_poll_wakes_when_its_group_is_released(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    send(sqs, url, "art#carol", "c1", "c2")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    threads, received = receive_concurrently(url, receivers=1, wait_seconds=20)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    threads[0].join()

    assert first["Body"] == "c1" and received == ["c2"]


def test_without_the_patch_concurrent_long_polls_take_one_group_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the lock exists: each of moto's long polls keeps the groups in flight from when it began."""
    moto_fifo.revert()
    waiting = threading.Semaphore(0)
    original_wait = Queue.wait_for_messages

    def wait_for_messages(self: Queue, timeout: int) -> None:
        waiting.release()
        original_wait(self, timeout)

    monkeypatch.setattr(Queue, "wait_for_messages", wait_for_messages)
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="eu-west-1")
            url = sqs.create_queue(QueueName="plain.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            threads, received = receive_concurrently(url, receivers=3, wait_seconds=5)
            for _ in threads:
                assert waiting.acquire(timeout=30)  # every poll began on the empty queue
            send(sqs, url, "art#carol", "c1", "c2", "c3", "c4")
            for thread in threads:
                thread.join()

            assert sorted(received) == ["c1", "c2", "c3"]
    finally:
        moto_fifo.apply()
