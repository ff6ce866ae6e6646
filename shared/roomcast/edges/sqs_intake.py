"""The command path's edge: one SQS record in, exactly one effect or a clear reason out.

Outcomes (docs/commands.md):
- malformed or invalid → copied to the dead-letter queue with its reason, then acknowledged;
- rejected by the rules → logged and counted, acknowledged;
- transient failure → raised, so that SQS redelivers this record only;
- delivered again → the first outcome is returned, nothing is written twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from roomcast.domain.commands import command_from_data, parse_command
from roomcast.domain.errors import InvalidCommand, Rejected, RoomcastError, TransientError
from roomcast.domain.events import Outcome
from roomcast.domain.shapes import describe
from roomcast.usecases import commands
from roomcast.usecases.ports import Store

logger = Logger(child=True)
metrics = Metrics()

MAX_REASON_CHARS = 1_000
_NOT_SQS_TEXT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Delivery(BaseModel):
    """What the idempotency layer hashes: the producer's commandId, or else SQS's messageId."""

    key: str
    command: dict[str, Any]


class CommandIntake:
    def __init__(
        self, store: Store, persistence: BasePersistenceLayer, ttl_seconds: int, sqs: Any, dead_letter_queue_url: str
    ) -> None:
        self.sqs = sqs
        self.dead_letter_queue_url = dead_letter_queue_url
        self.config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="command",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
        )

        def apply(delivery: Delivery) -> Outcome:
            return commands.apply(command_from_data(delivery.command), store)

        self._apply_once: Callable[..., Outcome] = idempotent_function(
            apply,
            data_keyword_argument="delivery",
            persistence_store=persistence,
            config=self.config,
            output_serializer=PydanticSerializer(model=Outcome),
            key_prefix="roomcast-command",
        )

    def register_context(self, context: LambdaContext) -> None:
        """Lets the idempotency layer expire in-progress records when the invocation times out."""
        self.config.register_lambda_context(context)

    def handle_record(self, record: SQSRecord) -> None:
        """Powertools BatchProcessor's record handler: returning marks the record done, raising retries it."""
        try:
            self._handle(record)
        except Exception as error:
            # Transient failures and bugs alike: SQS redelivers, and after maxReceiveCount parks it in the DLQ.
            logger.warning(
                "command will be retried",
                extra={
                    "messageId": record.message_id,
                    "error": type(error).__name__,
                    "detail": str(error)[:MAX_REASON_CHARS],
                },
            )
            _count("CommandRetried")
            raise

    def _handle(self, record: SQSRecord) -> None:
        try:
            command = parse_command(record.body)
        except ValidationError as error:
            self.dead_letter(record, InvalidCommand(describe(error)))
            return
        # Two namespaces, so that no commandId can collide with the key of a message that has none.
        key = f"cmd:{command.command_id}" if command.command_id else f"sqs:{record.message_id}"
        delivery = Delivery(key=key, command=command.model_dump(mode="json", by_alias=True))
        log = {"commandType": command.type, "roomId": command.room_id, "userId": command.user_id, "idempotencyKey": key}
        try:
            outcome = self._apply_once(delivery=delivery)
        except Rejected as rejection:
            logger.info("command rejected", extra={**log, "reason": rejection.code, "detail": rejection.message})
            _count("CommandRejected", rejection.code)
            return
        except IdempotencyValidationError:
            used = InvalidCommand(f"commandId {command.command_id!r} was already used for another command")
            self.dead_letter(record, used)
            return
        except (IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError) as error:
            raise TransientError(f"idempotency store: {type(error).__name__}") from error
        logger.info("command applied", extra={**log, "event": outcome.event.type})
        _count("CommandApplied")

    def dead_letter(self, record: SQSRecord, error: RoomcastError) -> None:
        """Copy the message to the DLQ with its reason; if that fails the record is retried, never lost."""
        # The reason quotes the message (field names, the type); keep only what SQS accepts in an attribute.
        reason = _NOT_SQS_TEXT.sub("?", error.message)[:MAX_REASON_CHARS]
        logger.warning(
            "command dead-lettered", extra={"messageId": record.message_id, "reason": error.code, "detail": reason}
        )
        try:
            self.sqs.send_message(
                QueueUrl=self.dead_letter_queue_url,
                MessageBody=record.body,
                MessageAttributes={
                    "ErrorCode": {"DataType": "String", "StringValue": error.code},
                    "ErrorMessage": {"DataType": "String", "StringValue": reason},
                    "OriginalMessageId": {"DataType": "String", "StringValue": record.message_id},
                },
            )
        except Exception as failure:
            raise TransientError(f"could not dead-letter message: {failure}") from failure
        _count("CommandDeadLettered", error.code)


def _count(name: str, reason: str | None = None) -> None:
    """A total per invocation, and for refusals one more datapoint broken down by reason."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if reason is not None:
        with single_metric(name=name, unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="Reason", value=reason)
