"""The StreamFunction's edge: one Lambda stream event, delivered as a whole, then checked record by record.

Delivery runs first over the whole batch (one frame per room per connection); Powertools'
BatchProcessor then calls ``handle_record`` per record, which fails the records of rooms
whose posts still failed (so Lambda retries from the first of them) and runs cleanups.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBStreamEvent

from roomcast.adapters.dynamodb.stream_records import change_of
from roomcast.usecases.stream import Change, DeliveryReport, LiveProcessor

logger = Logger(child=True)


class StreamBatch:
    def __init__(self, live: LiveProcessor, event: dict[str, Any]) -> None:
        self.live = live
        self.changes: dict[str, Change] = {}
        for record in DynamoDBStreamEvent(event).records:
            change = change_of(record)
            self.changes[change.sequence] = change
        self.report = DeliveryReport()

    def deliver(self) -> DeliveryReport:
        self.report = self.live.deliver(self.changes.values())
        logger.info(
            "batch delivered",
            extra={
                "records": len(self.changes),
                "feeds": self.report.feeds,
                "frames": self.report.frames,
                "posts": self.report.posts,
            },
        )
        return self.report

    def handle_record(self, record: DynamoDBRecord) -> None:
        """Powertools' record handler: raising fails the record."""
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        self.live.handle(self.changes[sequence or ""], self.report.failed_sequences)
