"""An SQS event source mapping: receive a batch, invoke the handler with Lambda's event, delete what succeeded.

Semantics kept from Lambda: only records named in ``batchItemFailures`` (or every
record, if the handler raised) stay on the queue; they come back after the
visibility timeout, and SQS moves them to the dead-letter queue after
``maxReceiveCount`` receives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Invoke = Callable[[dict[str, Any]], Any]
# What Lambda passes on; the last three only from a FIFO queue.
_LAMBDA_ATTRIBUTES = {
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
}


@dataclass(frozen=True)
class BatchResult:
    received: int
    failed: int


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event, as Lambda shapes it from a ReceiveMessage result."""
    attributes = {key: value for key, value in message.get("Attributes", {}).items() if key in _LAMBDA_ATTRIBUTES}
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsEventSource:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        batch_size: int = 10,
        stopping: threading.Event | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.stopping = stopping or threading.Event()
        self.busy = False  # between a receive that returned messages and their deletion

    def poll_once(self, wait_seconds: int = 0) -> BatchResult:
        """One receive (a long poll of up to ``wait_seconds``), handed to the function as soon as it returns."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        if not messages:
            return BatchResult(0, 0)
        # Busy first, then the stop check: a stop either waits for this batch or sees it released.
        self.busy = True
        try:
            if self.stopping.is_set():
                # Received while the stack stops: visible again at once, for whoever polls next.
                self._release(messages)
                return BatchResult(len(messages), len(messages))
            return self._handle(messages)
        finally:
            self.busy = False

    def _handle(self, messages: list[dict[str, Any]]) -> BatchResult:
        region = self.sqs.meta.region_name
        event = {"Records": [lambda_record(m, self.queue_arn, region) for m in messages]}
        try:
            response = self.invoke(event) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - a failed invocation returns the whole batch, as Lambda does
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        if failed and self.stopping.is_set():
            # Most likely failed because the stack stopped under it: a restarted one gets them at once.
            self._release([m for m in messages if m["MessageId"] in failed])
        return BatchResult(len(messages), len(failed))

    def _release(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
