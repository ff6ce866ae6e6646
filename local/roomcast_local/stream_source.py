"""A DynamoDB Streams event source mapping: read each shard, filter, invoke the handler, checkpoint as Lambda does.

Kept from Lambda (with-ddb, services-ddb-batchfailurereporting, services-dynamodb-errors):

- one batch per shard at a time (ParallelizationFactor 1), records in stream order, a child shard
  only after its parent has been read to its end;
- records that match no filter pattern (stream_mapping.py) are skipped, the checkpoint moving past;
- a batch succeeds whole, or (ReportBatchItemFailures) up to its lowest failed record, then redelivered;
- a failed batch is retried, bisected first if configured; records whose retries run out or that
  grow older than the maximum age are skipped, and one invocation record describing them goes to
  the on-failure queue.

Checkpoints live in this object. ``poll_once`` never sleeps: the caller picks the cadence.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from roomcast.domain.ids import iso_ms
from roomcast_local.sqs_source import Invoke
from roomcast_local.stream_mapping import (
    Record,
    StreamSourceConfig,
    compile_pattern,
    is_unchanged,
    lambda_record,
    sequence_of,
)
from roomcast_local.workers import FunctionError

_log = logging.getLogger(__name__)

# GetRecords returns at most 1,000 records per call.
_PAGE_SIZE = 1000
_DISCOVER_SECONDS = 1.0  # DescribeStream at most this often, not before each read a write has woken


# ---- the event source mapping ------------------------------------------------------------


@dataclass
class PollResult:
    """What one round did, summed over the shards."""

    read: int = 0  # stream records looked at (a record read again for a retry counts again)
    filtered: int = 0  # of those, skipped because no filter pattern matched
    delivered: int = 0  # records handed to the function (a retried record counts each time)
    invocations: int = 0
    failed_batches: int = 0  # invocations that raised or reported failed records
    discarded: int = 0  # records skipped once their retries ran out or they aged out


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    checkpoint: str | None = None  # sequence number of the last record done; None: the starting position
    # An iterator positioned just after `checkpoint` (a NextShardIterator, or LATEST's), followed
    # while the checkpoint stays there, as Lambda's poller does: an idle poll is one GetRecords call.
    resume: tuple[str | None, str] | None = None
    finished: bool = False  # closed and read to its end: its children may start
    # Sizes of the batches already cut from the records after the checkpoint, delivered before a
    # fresh batch is read: a failed batch is retried as the same records (or bisected halves), so
    # records written since never join it, nor get skipped with it when its retries run out.
    segments: list[int] = field(default_factory=list)
    failing: str | None = None  # first sequence number of the batch being retried
    attempts: int = 0  # failed attempts of that batch that count toward MaximumRetryAttempts
    last_response: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Window:
    """Records read from a shard's checkpoint on: a batch's worth that passed the filters, and what they skipped."""

    records: list[Record] = field(default_factory=list)
    passed: list[bool] = field(default_factory=list)
    next_iterator: str | None = None  # positioned after the last record, when the window ends with a page
    closed: bool = False  # the shard is closed and holds nothing after the window


@dataclass(frozen=True)
class _Outcome:
    failed_from: int | None = None  # position in the batch of the lowest failed record; None: success
    whole: bool = False  # the invocation failed as a whole (raised, or an unusable failure list)
    response: dict[str, Any] = field(default_factory=dict)


class StreamEventSource:
    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        invoke: Invoke,
        config: StreamSourceConfig,
        sqs_client: Any = None,
        starting_position: str = "TRIM_HORIZON",
        clock: Callable[[], float] = time.time,
        function_name: str = "StreamFunction",
    ) -> None:
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(f"a DynamoDB stream starts at TRIM_HORIZON or LATEST, not {starting_position}")
        if config.on_failure_queue_url and sqs_client is None:
            raise ValueError("an on-failure queue needs an sqs_client")
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.config = config
        self.sqs = sqs_client
        self.clock = clock
        partition, _, region, account = stream_arn.split(":")[1:5]
        self.function_arn = f"arn:{partition}:lambda:{region}:{account}:function:{function_name}"
        self._patterns = [compile_pattern(p) for p in config.filter_patterns]
        self._shards: dict[str, _Shard] = {}
        self._discover()
        if starting_position == "LATEST":
            # Fixed now, as when Lambda creates the mapping: later writes are delivered, earlier ones not.
            for shard in self._shards.values():
                latest = self._shard_iterator(shard, ShardIteratorType="LATEST")
                shard.resume = (None, latest)

    def poll_once(self) -> PollResult:
        """One round: a batch from every shard that may be read, delivered and checkpointed."""
        result = PollResult()
        if time.monotonic() - self._discovered_at >= _DISCOVER_SECONDS:
            self._discover()
        polled: set[str] = set()
        while ready := [s for s in self._shards.values() if s.shard_id not in polled and self._ready(s)]:
            # A parent finished in this round lets its children start in this round too.
            for shard in ready:
                polled.add(shard.shard_id)
                self._poll_shard(shard, result)
        return result

    def drain(self, max_rounds: int = 100) -> int:
        """Poll until a round reads nothing (or max_rounds); returns the records delivered."""
        delivered = 0
        for _ in range(max_rounds):
            result = self.poll_once()
            delivered += result.delivered
            if result.read == 0:
                break
        return delivered

    def checkpoints(self) -> dict[str, str]:
        """Where each shard stands (the last sequence number done), to persist across restarts."""
        return {s.shard_id: s.checkpoint for s in self._shards.values() if s.checkpoint is not None}

    def restore(self, checkpoints: Mapping[str, str]) -> None:
        """Resume after a restart from what ``checkpoints`` saved, as Lambda resumes a mapping."""
        for shard_id, sequence in checkpoints.items():
            shard = self._shards.get(shard_id)
            if shard is not None:
                shard.checkpoint = sequence
                shard.resume = None

    # ---- shards --------------------------------------------------------------------------

    def _discover(self) -> None:
        self._discovered_at = time.monotonic()
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            for shard in description["Shards"]:
                if shard["ShardId"] not in self._shards:
                    self._shards[shard["ShardId"]] = _Shard(shard["ShardId"], shard.get("ParentShardId"))
            if not description.get("LastEvaluatedShardId"):
                return
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def _ready(self, shard: _Shard) -> bool:
        # A parent the stream no longer lists has been trimmed: the child goes ahead.
        parent = self._shards.get(shard.parent_id) if shard.parent_id else None
        return not shard.finished and (parent is None or parent.finished)

    def _shard_iterator(self, shard: _Shard, **position: str) -> str:
        response = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard.shard_id, **position)
        return str(response["ShardIterator"])

    def _iterator(self, shard: _Shard) -> str:
        if shard.resume is not None and shard.resume[0] == shard.checkpoint:
            return shard.resume[1]
        if shard.checkpoint is None:
            return self._shard_iterator(shard, ShardIteratorType="TRIM_HORIZON")
        return self._shard_iterator(shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.checkpoint)

    def _read(self, shard: _Shard, limit: int) -> _Window:
        """Records after the checkpoint, up to the ``limit``-th that passes the filters or what the shard has."""
        window = _Window()
        iterator = self._iterator(shard)
        wanted = 0
        while True:
            # Without patterns every record counts, so ask for no more than the batch needs.
            page_size = _PAGE_SIZE if self._patterns else min(_PAGE_SIZE, limit - wanted)
            page = self.streams.get_records(ShardIterator=iterator, Limit=page_size)
            records, following = page.get("Records", []), page.get("NextShardIterator")
            for position, raw in enumerate(records):
                record = lambda_record(raw, self.stream_arn)
                passed = self._passes(record)
                window.records.append(record)
                window.passed.append(passed)
                wanted += passed
                if wanted == limit:
                    if position == len(records) - 1:
                        window.next_iterator, window.closed = following, following is None
                    return window
            window.next_iterator, window.closed = following, following is None
            # A short page is what an open shard holds for now: invoked at once, as Lambda invokes with
            # what its GetRecords got; a missing iterator is the end of a closed shard.
            if len(records) < page_size or following is None:
                return window
            iterator = following

    def _passes(self, record: Record) -> bool:
        if is_unchanged(record):
            return False
        return not self._patterns or any(matches(record) for matches in self._patterns)

    @staticmethod
    def _advance(shard: _Shard, window: _Window, through: int) -> None:
        """Checkpoint after ``window.records[through]`` (-1: before the window)."""
        if through >= 0:
            shard.checkpoint = sequence_of(window.records[through])
        if through == len(window.records) - 1:
            if window.closed:
                shard.finished = True
            elif window.next_iterator:
                shard.resume = (shard.checkpoint, window.next_iterator)

    # ---- one batch -----------------------------------------------------------------------

    def _poll_shard(self, shard: _Shard, result: PollResult) -> None:
        limit = shard.segments[0] if shard.segments else self.config.batch_size
        window = self._read(shard, limit)
        last = len(window.records) - 1
        picked = [i for i, passed in enumerate(window.passed) if passed]
        result.read += len(window.records)
        result.filtered += len(window.records) - len(picked)
        if not picked:
            self._advance(shard, window, last)
            return

        expired = self._expired(window, picked)
        if expired:
            # Lambda never sends a record older than the maximum age: skip it without invoking.
            first_expired = sequence_of(window.records[picked[0]])
            attempts = shard.attempts if shard.failing == first_expired else 0
            response = shard.last_response if attempts else {}
            self._discard(shard, [window.records[i] for i in picked[:expired]], "RecordAgeExceeded", attempts, response)
            result.discarded += expired
            self._shrink_segment(shard, expired)
            shard.failing, shard.attempts = None, 0
            picked = picked[expired:]
            self._advance(shard, window, picked[0] - 1 if picked else last)
            if not picked:
                return

        batch = [window.records[i] for i in picked]
        outcome = self._invoke(batch)
        result.invocations += 1
        result.delivered += len(batch)
        if outcome.failed_from is None:
            self._advance(shard, window, last)
            if shard.segments:
                shard.segments.pop(0)
            shard.failing, shard.attempts = None, 0
            return

        self._after_failure(shard, window, batch, picked, outcome, outcome.failed_from, result)

    def _after_failure(
        self,
        shard: _Shard,
        window: _Window,
        batch: list[Record],
        picked: list[int],
        outcome: _Outcome,
        failed_from: int,
        result: PollResult,
    ) -> None:
        """A failed batch: bisected, or retried from its lowest failure, or discarded once retries run out."""
        last = len(window.records) - 1
        result.failed_batches += 1
        # Records before the lowest failure are done; the rest are delivered again, in order.
        self._advance(shard, window, picked[failed_from] - 1)
        remaining = batch[failed_from:]
        shard.segments[:1] = [len(remaining)]
        if self.config.bisect_on_error and outcome.whole and len(remaining) > 1:
            # Split in two and retry each half. Per services-dynamodb-errors.html splitting does not
            # consume the retry quota, so only failures that are not split count below: a poison
            # record, once alone, gets 1 + MaximumRetryAttempts attempts. (A partial failure is
            # not split further: Lambda bisects it at the lowest failed record, as done above.)
            half = math.ceil(len(remaining) / 2)
            shard.segments[:1] = [half, len(remaining) - half]
            return

        first = sequence_of(remaining[0])
        shard.attempts = shard.attempts + 1 if shard.failing == first else 1
        shard.failing, shard.last_response = first, outcome.response
        retries = self.config.maximum_retry_attempts
        if 0 <= retries < shard.attempts:
            self._discard(shard, remaining, "RetryAttemptsExhausted", shard.attempts, outcome.response)
            result.discarded += len(remaining)
            self._advance(shard, window, last)
            if shard.segments:
                shard.segments.pop(0)
            shard.failing, shard.attempts = None, 0

    def _expired(self, window: _Window, picked: list[int]) -> int:
        """How many records at the head of the batch are older than the maximum age."""
        maximum = self.config.maximum_record_age_seconds
        if maximum < 0:
            return 0
        now, count = self.clock(), 0
        for i in picked:
            if now - window.records[i]["dynamodb"]["ApproximateCreationDateTime"] <= maximum:
                break
            count += 1
        return count

    @staticmethod
    def _shrink_segment(shard: _Shard, done: int) -> None:
        if shard.segments:
            shard.segments[0] -= done
            if shard.segments[0] <= 0:
                shard.segments.pop(0)

    def _invoke(self, batch: list[Record]) -> _Outcome:
        try:
            response = self.invoke({"Records": batch})
        except Exception as error:  # noqa: BLE001 - a function error fails the whole batch, as in Lambda
            # A worker's error says what the function raised (its own log has the rest); the local
            # stack's frames around it would say nothing, so only other errors get a traceback.
            _log.warning(
                "stream batch of %d records from %s failed: %s",
                len(batch),
                sequence_of(batch[0]),
                error,
                exc_info=not isinstance(error, FunctionError),
            )
            return _Outcome(0, whole=True, response=_response_context(function_error="Unhandled"))
        reported = self.config.report_batch_item_failures and isinstance(response, Mapping)
        failures = (response.get("batchItemFailures") or []) if reported else []
        if not failures:
            return _Outcome()
        positions = {sequence_of(record): i for i, record in enumerate(batch)}
        failed: list[int] = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
            position = positions.get(identifier) if isinstance(identifier, str) else None
            if position is None:
                # An empty, null or unknown itemIdentifier (or a misspelt key) fails the whole batch.
                return _Outcome(0, whole=True, response=_response_context())
            failed.append(position)
        return _Outcome(min(failed), response=_response_context())

    def _discard(
        self, shard: _Shard, records: list[Record], condition: str, attempts: int, response: dict[str, Any]
    ) -> None:
        """Skip ``records``: report them to the on-failure queue with Lambda's invocation record."""
        _log.warning("skipping %d stream records from %s: %s", len(records), sequence_of(records[0]), condition)
        if not self.config.on_failure_queue_url:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": iso_ms(self.clock() * 1000),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": iso_ms(first["ApproximateCreationDateTime"] * 1000),
                "approximateArrivalOfLastRecord": iso_ms(last["ApproximateCreationDateTime"] * 1000),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.config.on_failure_queue_url, MessageBody=json.dumps(message))


def _response_context(function_error: str | None = None) -> dict[str, Any]:
    """What the failed invocation answered; Lambda names a functionError only when the function raised."""
    context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        context["functionError"] = function_error
    return context
