"""SQS records for the command intake, as Lambda hands them over from the FIFO command queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.domain.commands import Command, CreateChatRoom, JoinChatRoom
from roomcast.domain.ids import Clock
from roomcast.domain.ordering import message_group
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.usecases.ports import Store

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


def intake_on(store: Store, clock: Clock) -> CommandIntake:
    """An intake on ``store``, as the function builds it (another one on the same store: another invocation)."""
    return CommandIntake(store, RecordingSqs(), "dlq-url", max_receive_count=5, outcome_ttl_seconds=86_400, clock=clock)


def intake_in_art(store: Store, clock: Clock, *members: str) -> CommandIntake:
    """An intake on ``store`` after room art was created by alice and joined by ``members``."""
    intake = intake_on(store, clock)
    intake.handle_record(record(CreateChatRoom(room_id="art", user_id="alice"), "setup-1"))
    for n, member in enumerate(members, start=2):
        intake.handle_record(record(JoinChatRoom(room_id="art", user_id=member), f"setup-{n}"))
    return intake
