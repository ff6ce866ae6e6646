"""The command queue's batches, FIFO: Powertools' SqsFifoPartialProcessor, telling the intake what it skips.

With ``skip_group_on_error`` a failed record fails the rest of its message group in the batch, so no
later command of that author overtakes it; other groups go on. The skipped records are never handed to
the record handler, yet each such delivery counts towards ``maxReceiveCount``: on their last one they
go to the dead-letter queue with the failed record. ``on_skipped`` lets the intake record why first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import ExceptionInfo, FailureResponse, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.edges.sqs_intake import Early


class CommandBatch(SqsFifoPartialProcessor):
    def __init__(self) -> None:
        super().__init__(skip_group_on_error=True)
        # (the skipped record, whether its group stopped at an Early refusal rather than a failure)
        self.on_skipped: Callable[[SQSRecord, bool], None] | None = None
        self._early_groups: set[str] = set()

    def _prepare(self) -> None:
        super()._prepare()
        self._early_groups.clear()

    def _process_record(self, record: dict[str, Any]) -> Any:
        group = record.get("attributes", {}).get("MessageGroupId")
        if self.on_skipped is not None and group in self._failed_group_ids:
            self.on_skipped(SQSRecord(record), group in self._early_groups)
        return super()._process_record(record)

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        if isinstance(exception[1], Early) and self._current_group_id:
            self._early_groups.add(self._current_group_id)
        return super().failure_handler(record, exception)
