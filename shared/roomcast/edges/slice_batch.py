"""The FanoutFunction's edge: each SQS record is one slice of a big room's fan-out (wire/slices.py), or
the end of a paced room's frame window (wire/flush.py), told apart by their shapes.

Powertools' batch processor calls ``handle_record`` per record; raising fails that record alone
(ReportBatchItemFailures), so only the slice that reached nobody comes back after the visibility
timeout, and a malformed one goes to the dead-letter queue after maxReceiveCount receives. Slices come
from the FIFO fan-out queue (``fifo_processor``: SqsFifoPartialProcessor, a failed slice failing the rest
of its message group in the batch, so none of its connections' later slices overtakes it), flushes from
the standard flush queue.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from roomcast.domain.shapes import describe
from roomcast.usecases.fanout import FanoutResult
from roomcast.usecases.pacing import WindowFlusher
from roomcast.usecases.ports import Connections, Poster
from roomcast.usecases.second_tier import HoldRenewal, SliceQueue, deliver_slice
from roomcast.wire.flush import WindowFlush, parse_fanout_message

logger = Logger(child=True)

# Posting stops this long before the function's timeout, leaving time to send the slice's rest back to the
# queue (one SendMessage); a timeout instead would have the whole slice posted again to those it reached.
DEADLINE_MARGIN_SECONDS = 2.0


class InvalidSlice(ValueError):
    """A message on the fan-out or flush queue that is neither a slice nor a flush: never posted, parked by the
    redrive policy."""


class SliceBatch:
    def __init__(
        self,
        poster: Poster,
        connections: Connections,
        max_workers: int,
        flusher: WindowFlusher | None = None,
        rest: SliceQueue | None = None,
        renewal: HoldRenewal | None = None,
    ) -> None:
        self.poster = poster
        self.connections = connections
        self.max_workers = max_workers
        self.flusher = flusher
        self.rest = rest
        self.renewal = renewal  # a slice not done when received renews its room's hold on the tier

    def handle_record(self, record: SQSRecord, lambda_context: LambdaContext | None = None) -> FanoutResult:
        """Powertools' record handler (it passes ``lambda_context`` by name): raising fails the record, and
        only it."""
        try:
            piece = parse_fanout_message(record.body)
        except ValidationError as error:
            logger.error("not a slice", extra={"messageId": record.message_id, "detail": describe(error)})
            raise InvalidSlice(f"message {record.message_id} is not a slice: {describe(error)}") from None
        if isinstance(piece, WindowFlush):
            if self.flusher is None:
                raise InvalidSlice(f"message {record.message_id} is a window flush, and no window is configured")
            return self.flusher.flush(piece, deadline=_deadline(lambda_context))
        deadline = _deadline(lambda_context)
        result = deliver_slice(
            piece, self.poster, self.connections, self.max_workers, None, deadline, self.rest, self.renewal
        )
        logger.info(
            "slice delivered",
            extra={
                "roomId": piece.room_id,
                "part": piece.part,
                "parts": piece.parts,
                "connections": len(piece.targets),
                "posts": result.posts,
                # Where it came from ("rest:..." for a rest handed on: its connections were in its parent's too).
                "batch": piece.batch,
            },
        )
        return result


def _deadline(context: LambdaContext | None) -> float | None:
    """When to stop posting, on ``time.monotonic()``'s clock; None without a context (no timeout known)."""
    if context is None:
        return None
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS


def fifo_processor() -> SqsFifoPartialProcessor:
    """The fan-out queue's: a failed slice fails its group's later records of the batch; when every record
    failed, the batch is reported the same way instead of raising, so none that succeeded is posted again."""
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    processor.raise_on_entire_batch_failure = False
    return processor


def standard_processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def from_fifo(event: dict[str, Any]) -> bool:
    """Whether the event's records come from a FIFO queue (each event comes from one queue)."""
    records = event.get("Records") or [{}]
    return str(records[0].get("eventSourceARN", "")).endswith(".fifo")
