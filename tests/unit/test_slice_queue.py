"""SqsSliceQueue's answers, on a real boto3 SQS client with botocore's Stubber: entries SQS failed are sent
again, a request that fails every round reports its slices unsent, and batches keep within 256 KiB; each
entry in its message group, deduplicated by its body's digest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from roomcast.adapters.slice_queue import SqsSliceQueue

URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/roomcast-FanoutQueue.fifo"


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def group(body: str) -> str:
    return f"g-{body[0]}"


def entries(*numbered: tuple[int, str]) -> dict[str, Any]:
    return {
        "QueueUrl": URL,
        "Entries": [
            {
                "Id": str(n),
                "MessageBody": body,
                "MessageGroupId": group(body),
                "MessageDeduplicationId": hashlib.sha256(body.encode()).hexdigest(),
            }
            for n, body in numbered
        ],
    }


def send(queue: SqsSliceQueue, bodies: list[str]) -> set[int]:
    return queue.send(bodies, [group(body) for body in bodies])


def sent(*ids: int) -> dict[str, Any]:
    return {"Successful": [{"Id": str(n), "MessageId": f"m{n}", "MD5OfMessageBody": "x"} for n in ids], "Failed": []}


def test_an_entry_sqs_failed_is_sent_again_alone(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    failed = {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"}
    stubber.add_response("send_message_batch", {**sent(0), "Failed": [failed]}, entries((0, "a"), (1, "b")))
    stubber.add_response("send_message_batch", sent(1), entries((1, "b")))

    assert send(SqsSliceQueue(client, URL), ["a", "b"]) == set()


def test_slices_sqs_refuses_every_round_are_reported_unsent(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    for _ in range(3):
        stubber.add_client_error("send_message_batch", "AWS.SimpleQueueService.NonExistentQueue", http_status_code=400)

    assert send(SqsSliceQueue(client, URL), ["a", "b"]) == {0, 1}


def test_big_slices_go_fewer_to_a_batch(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    big = ["x" * 100_000, "y" * 100_000, "z" * 100_000]
    stubber.add_response("send_message_batch", sent(0, 1), entries((0, big[0]), (1, big[1])))
    stubber.add_response("send_message_batch", sent(2), entries((2, big[2])))

    assert send(SqsSliceQueue(client, URL, max_workers=1), big) == set()


def test_slices_and_groups_of_different_counts_are_refused() -> None:
    client = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")

    with pytest.raises(ValueError, match="2 slices with 1 message groups"):
        SqsSliceQueue(client, URL).send(["a", "b"], ["g"])
