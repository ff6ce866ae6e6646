"""The command path's edge: one SQS record in, exactly one effect and one recorded outcome out.

Outcomes (docs/commands.md), each recorded under the command's key (domain/outcomes.py):
- malformed or invalid → recorded ``deadLettered``, copied to the dead-letter queue with its reason;
- rejected by the rules → recorded ``rejected`` with the code; acknowledged;
- applied → the effect and its ``applied`` record commit in one transaction;
- delivered again → the recorded outcome stands, nothing is written twice;
- transient failure → raised, so that SQS redelivers this record only; the last allowed delivery
  records ``deadLettered`` before SQS moves the message to the DLQ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from roomcast.domain.commands import Command, parse_command
from roomcast.domain.errors import (
    AlreadyRecorded,
    InvalidCommand,
    NotAMember,
    Rejected,
    RoomcastError,
    RoomNotFound,
    TransientError,
)
from roomcast.domain.events import Event
from roomcast.domain.ids import COMMAND_ID_PATTERN, Clock, iso_ms, system_clock
from roomcast.domain.ordering import group_mismatch
from roomcast.domain.outcomes import CommandOutcome, Status, fingerprint, outcome_key, producer_of
from roomcast.domain.shapes import describe
from roomcast.edges.batch_rooms import BatchRooms
from roomcast.usecases import commands
from roomcast.usecases.ports import Receipt, Reviewer, Store

logger = Logger(child=True)
metrics = Metrics()

MAX_REASON_CHARS = 1_000
_NOT_SQS_TEXT = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_COMMAND_ID = re.compile(COMMAND_ID_PATTERN)
# Refusals that another author's command still on its way may lift (a join before the room's
# creation, a comment before a join that is not in the author's group): retried, not recorded, until
# the last delivery SQS allows. Any other rejection is final at once.
_MAY_BE_EARLY = (RoomNotFound, NotAMember)
EARLY_BACKOFF_MAX_SECONDS = 60


class WrongMessageGroup(InvalidCommand):
    """A command in another FIFO message group than its own: it would escape its author's order."""

    code = "WrongMessageGroup"


class Early(TransientError):
    """A refusal that a command still on its way may lift: the message is retried in its group."""

    code = "Early"


@dataclass(frozen=True)
class Delivery:
    """One SQS record: who sent it, and which command it carries (as far as it can be read)."""

    record: SQSRecord
    producer: str
    command_id: str | None
    fields: dict[str, str]

    @property
    def group_id(self) -> str | None:
        return self.record.attributes.message_group_id

    @property
    def receives(self) -> int:
        return int(self.record.attributes.approximate_receive_count or 1)

    @classmethod
    def of(cls, record: SQSRecord) -> Delivery:
        try:
            body = json.loads(record.body)
        except ValueError:
            body = None
        loose = body if isinstance(body, dict) else {}
        fields = {k: v for k, v in loose.items() if k in {"type", "roomId", "userId"} and isinstance(v, str)}
        command_id = loose.get("commandId")
        valid_id = command_id if isinstance(command_id, str) and _COMMAND_ID.fullmatch(command_id) else None
        return cls(record, producer_of(record.attributes.sender_id or ""), valid_id, fields)

    @property
    def key(self) -> str:
        return outcome_key(self.producer, self.command_id, self.record.message_id)


class CommandIntake:
    def __init__(
        self,
        store: Store,
        sqs: Any,
        dead_letter_queue_url: str,
        max_receive_count: int,
        outcome_ttl_seconds: int,
        clock: Clock = system_clock,
        reviewer: Reviewer | None = None,
    ) -> None:
        self.store = store
        self.reviewer = reviewer
        self.sqs = sqs
        self.dead_letter_queue_url = dead_letter_queue_url
        self.max_receive_count = max_receive_count
        self.outcome_ttl_seconds = outcome_ttl_seconds
        self.clock = clock
        self._queue_urls: dict[str, str] = {}
        # key -> its outcome record (or None), read for the whole batch by read_ahead; used once
        self._read_ahead: dict[str, tuple[CommandOutcome, str] | None] = {}
        # the rooms and memberships of the batch's comments (edges/batch_rooms.py); empty until read_ahead
        self._batch = BatchRooms(store, clock)

    @contextmanager
    def reading_ahead(self, records: Sequence[Mapping[str, Any]]) -> Iterator[None]:
        """Around one batch: ``read_ahead``, and when the batch is over nothing of it served to the
        next (this intake is kept for the container's later invocations)."""
        self.read_ahead(records)
        try:
            yield
        finally:
            self.end_batch()

    def read_ahead(self, records: Sequence[Mapping[str, Any]]) -> None:
        """What a whole batch's commands read first, in two reads (BatchGetItem) rather than one or two
        per command: their outcome records, then the rooms and memberships its comments need (in that
        order: a comment recorded by another invocation between the two is not served a pair it moved).

        Each outcome serves the first record with its key only: a later one with the same key (a
        duplicate in the batch) reads again, once the first has written. A record that another
        invocation writes meanwhile is caught, as before, by the conditions its write carries. Best
        effort: if a read fails, each command reads its own."""
        self.end_batch()
        try:
            # (a record this cannot even key fails on its own in handle_record, not the whole batch here)
            keys = list(dict.fromkeys(Delivery.of(SQSRecord(dict(record))).key for record in records))
            found = self.store.ledger.recorded_among(keys)
            self._read_ahead = {key: found.get(key) for key in keys}
        except Exception as failure:  # noqa: BLE001 - each command then reads its own outcome record
            logger.warning("outcome records not read ahead", extra={"records": len(records), "detail": str(failure)})
        try:
            self._batch.read(_commands(records))
        except Exception as failure:  # noqa: BLE001 - each comment then reads its own room and membership
            logger.warning("rooms not read ahead", extra={"records": len(records), "detail": str(failure)})

    def end_batch(self) -> None:
        """Nothing read ahead is served after its batch."""
        self._read_ahead = {}
        self._batch.end()

    def _recorded(self, key: str) -> tuple[CommandOutcome, str] | None:
        if key in self._read_ahead:
            return self._read_ahead.pop(key)
        return self.store.ledger.recorded(key)

    def handle_record(self, record: SQSRecord) -> None:
        """Powertools BatchProcessor's record handler: returning marks the record done, raising retries it."""
        delivery = Delivery.of(record)
        try:
            self._handle(delivery)
        except Exception as error:
            # Transient failures and bugs alike: SQS redelivers, and after maxReceiveCount parks it in the DLQ.
            detail = str(error)[:MAX_REASON_CHARS]
            logger.warning(
                "command will be retried",
                extra={"messageId": record.message_id, "error": type(error).__name__, "detail": detail},
            )
            _count("CommandRetried")
            if delivery.receives >= self.max_receive_count:
                self._last_words(delivery, f"{type(error).__name__}: {detail}")
            elif isinstance(error, Early):
                self._back_off(delivery)
            raise

    def skipped(self, record: SQSRecord, behind_early: bool = False) -> None:
        """A record not handled because an earlier one of its group failed: on its last delivery it goes
        to the dead-letter queue with that one, so its outcome says so (it stays in order for a redrive).
        Behind an Early one, it comes back as soon as that one does."""
        delivery = Delivery.of(record)
        if delivery.receives >= self.max_receive_count:
            self._last_words(delivery, f"an earlier command of group {delivery.group_id} failed; kept behind it")
        elif behind_early:
            self._back_off(delivery)

    def _back_off(self, delivery: Delivery) -> None:
        """An Early record (and its group behind it) visible again after 2, 4, 8, 16 s, not the queue's
        visibility timeout: a predecessor on its way is usually applied within seconds, and a command
        that waits for nothing is rejected in half a minute rather than 15. Best effort: without it
        the queue's own timeout applies."""
        record = delivery.record
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self._queue_url(record.event_source_arn),
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=min(2**delivery.receives, EARLY_BACKOFF_MAX_SECONDS),
            )
        except Exception as failure:  # noqa: BLE001 - the record is retried either way
            logger.warning("back-off not set", extra={"messageId": record.message_id, "detail": str(failure)})

    def _queue_url(self, queue_arn: str) -> str:
        """arn:aws:sqs:<region>:<account>:<name> to its URL, asked once per queue."""
        if queue_arn not in self._queue_urls:
            _, _, _, _, account, name = queue_arn.split(":", 5)
            response = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            self._queue_urls[queue_arn] = str(response["QueueUrl"])
        return self._queue_urls[queue_arn]

    def _handle(self, delivery: Delivery) -> None:
        try:
            command = parse_command(delivery.record.body)
        except ValidationError as error:
            self.dead_letter(delivery, InvalidCommand(describe(error)))
            return
        mismatch = group_mismatch(command, delivery.group_id)
        if mismatch is not None:
            self.dead_letter(delivery, WrongMessageGroup(mismatch))
            return
        mark = fingerprint(command.model_dump_json(by_alias=True, exclude_none=True))
        found = self._recorded(delivery.key)
        if found is not None and found[0].status != "deadLettered":
            self._batch.passed(command)
            self._again(delivery, found, mark)
            return

        def recorder(event: Event) -> Receipt:
            return self._receipt(delivery, mark, command, "applied", event=event)

        log = {"commandType": command.type, "roomId": command.room_id, "userId": command.user_id, "key": delivery.key}
        try:
            with self._batch.applying(command) as store:
                outcome = commands.apply(command, store, self.clock, recorder, self.reviewer)
        except AlreadyRecorded:
            again = self.store.ledger.recorded(delivery.key)
            if again is None:
                raise
            self._again(delivery, again, mark)
            return
        except Rejected as rejection:
            if isinstance(rejection, _MAY_BE_EARLY) and delivery.receives < self.max_receive_count:
                raise Early(f"{rejection.code}: {rejection.message}") from rejection
            receipt = self._receipt(delivery, mark, command, "rejected", code=rejection.code, message=rejection.message)
            self.store.ledger.record(receipt)
            logger.info("command rejected", extra={**log, "reason": rejection.code, "detail": rejection.message})
            _count("CommandRejected", rejection.code)
            return
        logger.info("command applied", extra={**log, "event": outcome.event.type})
        _count("CommandApplied")

    def _again(self, delivery: Delivery, found: tuple[CommandOutcome, str], mark: str) -> None:
        """A command whose outcome is recorded: the same command changes nothing; another one reusing
        its commandId is invalid."""
        outcome, recorded_mark = found
        if recorded_mark != mark:
            used = f"commandId {delivery.command_id!r} was already used for another command"
            self._send_to_dlq(delivery, InvalidCommand(used))
            return
        logger.info("command already recorded", extra={"key": delivery.key, "outcome": outcome.summary()})
        _count("CommandDuplicate")

    def dead_letter(self, delivery: Delivery, error: RoomcastError) -> None:
        """Record the outcome, then copy the message to the DLQ with its reason. If either fails the
        record is retried, never lost (a dead-letter record may be written again)."""
        self._record_dead_letter(delivery, error.code, error.message)
        self._send_to_dlq(delivery, error)

    def _last_words(self, delivery: Delivery, reason: str) -> None:
        """This delivery was the last one SQS allows: say so before the message moves to the DLQ."""
        try:
            self._record_dead_letter(delivery, "RetriesExhausted", reason)
        except Exception as failure:  # noqa: BLE001 - the original error is what gets raised
            logger.warning("dead letter not recorded", extra={"key": delivery.key, "detail": str(failure)})

    def _record_dead_letter(self, delivery: Delivery, code: str, message: str) -> None:
        reason = _NOT_SQS_TEXT.sub("?", message)[:MAX_REASON_CHARS]
        self.store.ledger.record(self._receipt(delivery, "", None, "deadLettered", code=code, message=reason))

    def _send_to_dlq(self, delivery: Delivery, error: RoomcastError) -> None:
        # The reason quotes the message (field names, the type); keep only what SQS accepts in an attribute.
        record = delivery.record
        reason = _NOT_SQS_TEXT.sub("?", error.message)[:MAX_REASON_CHARS]
        logger.warning(
            "command dead-lettered", extra={"messageId": record.message_id, "reason": error.code, "detail": reason}
        )
        fifo: dict[str, str] = {}
        if self.dead_letter_queue_url.endswith(".fifo"):
            # Its own group keeps an author's dead letters in order for a redrive; the message id as
            # deduplication id makes a copy retried after a lost answer one copy.
            fifo = {"MessageGroupId": delivery.group_id or "ungrouped", "MessageDeduplicationId": record.message_id}
        try:
            self.sqs.send_message(
                QueueUrl=self.dead_letter_queue_url,
                MessageBody=record.body,
                MessageAttributes={
                    "ErrorCode": {"DataType": "String", "StringValue": error.code},
                    "ErrorMessage": {"DataType": "String", "StringValue": reason},
                    "OriginalMessageId": {"DataType": "String", "StringValue": record.message_id},
                },
                **fifo,
            )
        except Exception as failure:
            raise TransientError(f"could not dead-letter message: {failure}") from failure
        _count("CommandDeadLettered", error.code)

    def _receipt(
        self,
        delivery: Delivery,
        mark: str,
        command: Command | None,
        status: Status,
        event: Event | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> Receipt:
        now = self.clock()
        fields = delivery.fields
        outcome = CommandOutcome(
            producer=delivery.producer,
            command_id=delivery.command_id,
            message_id=delivery.record.message_id,
            command_type=command.type if command else fields.get("type"),
            room_id=command.room_id if command else fields.get("roomId"),
            user_id=command.user_id if command else fields.get("userId"),
            status=status,
            event=event,
            code=code,
            message=message,
            recorded_at=iso_ms(now),
        )
        return Receipt(delivery.key, mark, outcome, now // 1000 + self.outcome_ttl_seconds)


def _commands(records: Sequence[Mapping[str, Any]]) -> list[Command]:
    """The batch's commands that parse (any other fails on its own in handle_record)."""
    parsed = []
    for record in records:
        try:
            parsed.append(parse_command(str(record.get("body") or "")))
        except ValidationError:
            continue
    return parsed


def _count(name: str, reason: str | None = None) -> None:
    """A total per invocation, and for refusals one more datapoint broken down by reason."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if reason is not None:
        with single_metric(name=name, unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="Reason", value=reason)
