"""The local stack's SQS pollers reading the embedded moto's queues in process, not over HTTP (moto 5.2.5).

Each batch a poller hands to a function cost two requests through botocore and moto's server, on
the same two cores as everything else: a ReceiveMessage, then a DeleteMessageBatch, each some
1.5 ms of botocore in the poller and 1 to 1.6 ms in the server, plus the hand-over between their
threads. With the endpoint in this process (``python -m roomcast_local up`` without
``--aws-endpoint``) the poller calls moto's SQS backend directly instead: the same backend methods
moto's ``SQSResponse`` calls (so the FIFO group locks, long polls and wake-ups of moto_fifo.py and
fast_sqs.py apply as before), with the answer shaped as boto3 returns it, attribute by attribute
as ``SQSResponse.receive_message`` picks them.

Only what ``SqsEventSource`` calls is offered: ``receive_message``, ``delete_message_batch``,
``change_message_visibility_batch`` and ``meta.region_name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from moto.sqs.models import Message, SQSBackend, sqs_backends

TARGET_MOTO = "5.2.5"

# SQSResponse.receive_message's, in its order: the system attributes a receive may ask for.
_SYSTEM_ATTRIBUTES = (
    "AWSTraceHeader",
    "ApproximateFirstReceiveTimestamp",
    "ApproximateReceiveCount",
    "MessageDeduplicationId",
    "MessageGroupId",
    "SenderId",
    "SentTimestamp",
    "SequenceNumber",
)


class InProcessSqs:
    """A stand-in for the boto3 SQS client of one region, on the embedded moto's backend."""

    def __init__(self, region: str) -> None:
        self.meta = SimpleNamespace(region_name=region)

    def _queue(self, queue_url: str) -> tuple[SQSBackend, str]:
        # .../{account}/{queue name}, as moto's queue URLs are
        account, name = queue_url.rstrip("/").split("/")[-2:]
        return sqs_backends[account][self.meta.region_name], name

    def receive_message(
        self,
        *,
        QueueUrl: str,  # noqa: N803 - boto3's parameter names
        MaxNumberOfMessages: int = 1,  # noqa: N803
        AttributeNames: Sequence[str] = (),  # noqa: N803
        MessageAttributeNames: Sequence[str] = (),  # noqa: N803
        WaitTimeSeconds: int = 0,  # noqa: N803
    ) -> dict[str, Any]:
        backend, name = self._queue(QueueUrl)
        if not 1 <= MaxNumberOfMessages <= 10 or not 0 <= WaitTimeSeconds <= 20:
            raise ValueError(f"MaxNumberOfMessages {MaxNumberOfMessages}, WaitTimeSeconds {WaitTimeSeconds}")
        visibility = backend.get_queue(name).visibility_timeout  # type: ignore[attr-defined]  # set from its attributes
        messages = backend.receive_message(
            name, MaxNumberOfMessages, WaitTimeSeconds, visibility, list(MessageAttributeNames)
        )
        if not messages:
            return {}
        wanted = [a for a in _SYSTEM_ATTRIBUTES if "All" in AttributeNames or a in AttributeNames]
        return {"Messages": [_message(m, wanted) for m in messages]}

    def delete_message_batch(self, *, QueueUrl: str, Entries: Iterable[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        backend, name = self._queue(QueueUrl)
        done, failed = backend.delete_message_batch(name, list(Entries))
        return {"Successful": [{"Id": entry} for entry in done], "Failed": failed}

    def change_message_visibility_batch(
        self,
        *,
        QueueUrl: str,  # noqa: N803
        Entries: Iterable[dict[str, Any]],  # noqa: N803
    ) -> dict[str, Any]:
        backend, name = self._queue(QueueUrl)
        done, failed = backend.change_message_visibility_batch(name, list(Entries))
        return {"Successful": [{"Id": entry} for entry in done], "Failed": failed}


def _message(message: Message, wanted: list[str]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
    }
    attributes = {name: value for name in wanted if (value := _attribute(message, name)) is not None}
    if attributes:
        answer["Attributes"] = attributes
    if message.message_attributes:
        answer["MD5OfMessageAttributes"] = message.attribute_md5
        answer["MessageAttributes"] = message.message_attributes
    return answer


def _attribute(message: Message, name: str) -> str | None:
    """One system attribute as SQSResponse.receive_message writes it; None where it leaves it out."""
    if name == "AWSTraceHeader":
        trace = (message.system_attributes or {}).get("AWSTraceHeader")
        return trace.get("StringValue") if trace else None
    value = {
        "ApproximateFirstReceiveTimestamp": message.approximate_first_receive_timestamp,
        "ApproximateReceiveCount": message.approximate_receive_count,
        "MessageDeduplicationId": message.deduplication_id,
        "MessageGroupId": message.group_id,
        "SenderId": message.sender_id,
        "SentTimestamp": message.sent_timestamp,
        "SequenceNumber": message.sequence_number,
    }[name]
    return None if value is None else str(value)
