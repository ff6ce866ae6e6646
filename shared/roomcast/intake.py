"""The command path's use case: one SQS record in, exactly one effect or a clear reason out.

Outcomes (docs/commands.md):
- malformed or invalid → copied to the dead-letter queue with its reason, then acknowledged;
- rejected by the rules → logged and counted, acknowledged;
- transient failure → raised, so that SQS redelivers this record only;
- delivered again → the first outcome is returned, nothing is written twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
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

from roomcast import clients, service
from roomcast.errors import InvalidCommand, Rejected, RoomcastError, TransientError
from roomcast.models import Outcome, command_from_data, describe, parse_command
from roomcast.repository import ChatRepository
from roomcast.settings import get_settings

logger = Logger(child=True)
metrics = Metrics()

MAX_REASON_CHARS = 1_000
_NOT_SQS_TEXT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Delivery(BaseModel):
    """What the idempotency layer hashes: the producer's commandId, or else SQS's messageId."""

    key: str
    command: dict[str, Any]


def handle_record(record: SQSRecord) -> None:
    """Powertools BatchProcessor's record handler: returning marks the record done, raising retries it."""
    try:
        _handle(record)
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


def _handle(record: SQSRecord) -> None:
    try:
        command = parse_command(record.body)
    except ValidationError as error:
        dead_letter(record, InvalidCommand(describe(error)))
        return
    # Two namespaces, so that no commandId can collide with the key of a message that has none.
    key = f"cmd:{command.command_id}" if command.command_id else f"sqs:{record.message_id}"
    delivery = Delivery(key=key, command=command.model_dump(mode="json", by_alias=True))
    log = {"commandType": command.type, "roomId": command.room_id, "userId": command.user_id, "idempotencyKey": key}
    try:
        outcome = _apply_once()(delivery=delivery)
    except Rejected as rejection:
        logger.info("command rejected", extra={**log, "reason": rejection.code, "detail": rejection.message})
        _count("CommandRejected", rejection.code)
        return
    except IdempotencyValidationError:
        dead_letter(record, InvalidCommand(f"commandId {command.command_id!r} was already used for another command"))
        return
    except (IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError) as error:
        raise TransientError(f"idempotency store: {type(error).__name__}") from error
    logger.info("command applied", extra={**log, "event": outcome.event.type})
    _count("CommandApplied")


def dead_letter(record: SQSRecord, error: RoomcastError) -> None:
    """Copy the message to the DLQ with its reason; if that fails the record is retried, never lost."""
    # The reason quotes the message (field names, the type); keep only what SQS accepts in an attribute.
    reason = _NOT_SQS_TEXT.sub("?", error.message)[:MAX_REASON_CHARS]
    logger.warning(
        "command dead-lettered", extra={"messageId": record.message_id, "reason": error.code, "detail": reason}
    )
    try:
        clients.sqs().send_message(
            QueueUrl=get_settings().dead_letter_queue_url,
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


def register_context(context: LambdaContext) -> None:
    """Lets the idempotency layer expire in-progress records when the invocation times out."""
    _idempotency_config().register_lambda_context(context)


def _count(name: str, reason: str | None = None) -> None:
    """A total per invocation, and for refusals one more datapoint broken down by reason."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if reason is not None:
        with single_metric(name=name, unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="Reason", value=reason)


@cache
def _idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="command",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
    )


@cache
def _apply_once() -> Callable[..., Outcome]:
    settings = get_settings()
    repo = ChatRepository(settings.table_name)

    def apply(delivery: Delivery) -> Outcome:
        return service.apply(command_from_data(delivery.command), repo)

    return idempotent_function(
        apply,
        data_keyword_argument="delivery",
        persistence_store=DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name),
        config=_idempotency_config(),
        output_serializer=PydanticSerializer(model=Outcome),
        key_prefix="roomcast-command",
    )


def reset() -> None:
    """Forget cached configuration (tests change the environment between backends)."""
    _apply_once.cache_clear()
    _idempotency_config.cache_clear()
