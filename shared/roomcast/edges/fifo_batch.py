"""The command queue's batches, FIFO: Powertools' SqsFifoPartialProcessor, telling the intake what it skips.

With ``skip_group_on_error`` a failed record fails the rest of its message group in the batch, so no
later command of that author overtakes it; other groups go on. The skipped records are never handed to
the record handler, yet each such delivery counts towards ``maxReceiveCount``: on their last one they
go to the dead-letter queue with the failed record. ``on_skipped`` lets the intake record why first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class CommandBatch(SqsFifoPartialProcessor):
    def __init__(self) -> None:
        super().__init__(skip_group_on_error=True)
        self.on_skipped: Callable[[SQSRecord], None] | None = None

    def _process_record(self, record: dict[str, Any]) -> Any:
        group = record.get("attributes", {}).get("MessageGroupId")
        if self.on_skipped is not None and group in self._failed_group_ids:
            self.on_skipped(SQSRecord(record))
        return super()._process_record(record)
