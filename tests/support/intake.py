"""SQS records for the command intake, as Lambda hands them over from the FIFO command queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.domain.commands import Command
from roomcast.domain.ordering import message_group

SENDER = "AROAEXAMPLEPRODUCER:task-1"


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, str]:
        self.sent.append(request)
        return {"MessageId": f"dlq-{len(self.sent)}"}


def record(
    body: Command | str, message_id: str = "m-1", receives: int = 1, sender: str = SENDER, group: str | None = None
) -> SQSRecord:
    text = body if isinstance(body, str) else body.model_dump_json(by_alias=True, exclude_none=True)
    if group is None:
        group = "poison" if isinstance(body, str) else message_group(body)
    return SQSRecord(
        {
            "messageId": message_id,
            "body": text,
            "attributes": {"SenderId": sender, "ApproximateReceiveCount": str(receives), "MessageGroupId": group},
            "messageAttributes": {},
        }
    )
