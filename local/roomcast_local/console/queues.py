"""Reading a queue without consuming it, and moving one dead letter back to the command queue.

SQS has no "peek": a receive hides what it returns for the visibility timeout. The console hides
each message it reads for a moment, so that the next receive returns the next ones, then makes them
all visible again at once, as the AWS console's "poll for messages" does (without its wait).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Long enough for one read of the queue; messages are made visible again right after it anyway.
HIDE_SECONDS = 30
MAX_MESSAGES = 100


class NotFound(Exception):
    """No message with that id is on the queue (or it is being read by someone else right now)."""


@contextmanager
def _hidden(sqs: Any, queue_url: str, limit: int) -> Iterator[list[dict[str, Any]]]:
    """Up to ``limit`` messages received (hidden), visible again on exit unless deleted meanwhile."""
    received: list[dict[str, Any]] = []
    try:
        while len(received) < limit:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, limit - len(received)),
                VisibilityTimeout=HIDE_SECONDS,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            received += batch
        yield received
    finally:
        _show(sqs, queue_url, [message for message in received if not message.get("deleted")])


def _show(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def peek(sqs: Any, queue_url: str, limit: int = MAX_MESSAGES) -> list[dict[str, Any]]:
    """What is on the queue now, oldest first as SQS returns it, each with its reason attributes."""
    with _hidden(sqs, queue_url, limit) as messages:
        return [_view(message) for message in messages]


def _view(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "body": message["Body"],
        # The command function's reason (ErrorCode, ErrorMessage, OriginalMessageId); none on a
        # message SQS itself moved after maxReceiveCount receives.
        "attributes": {
            name: value.get("StringValue", "") for name, value in sorted(message.get("MessageAttributes", {}).items())
        },
        "sentAt": int(attributes.get("SentTimestamp", 0)),
        "receiveCount": int(attributes.get("ApproximateReceiveCount", 0)),
    }


def redrive(sqs: Any, dead_letter_queue_url: str, queue_url: str, message_id: str) -> str:
    """Send one dead letter's body back to ``queue_url``, then delete it; the new MessageId.

    Sent before it is deleted: a failure in between leaves it on both queues (the command's outcome
    record makes a second delivery harmless), never on neither."""
    with _hidden(sqs, dead_letter_queue_url, MAX_MESSAGES) as messages:
        for message in messages:
            if message["MessageId"] == message_id:
                sent = sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], **_fifo(queue_url, message))
                sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
                message["deleted"] = True
                return str(sent["MessageId"])
    raise NotFound(f"no message {message_id} on the dead-letter queue")


def _fifo(queue_url: str, message: dict[str, Any]) -> dict[str, str]:
    """A FIFO queue's ids: the message's own group (its order is its group's), and a new deduplication
    id, or SQS would drop a redrive within 5 minutes of the original as a duplicate of it."""
    if not queue_url.endswith(".fifo"):
        return {}
    group = message.get("Attributes", {}).get("MessageGroupId", "redriven")
    return {"MessageGroupId": group, "MessageDeduplicationId": uuid.uuid4().hex}
