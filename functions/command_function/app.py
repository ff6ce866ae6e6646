"""SQS FIFO → CommandFunction: validates each command and applies it to the table."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.edges.fifo_batch import CommandBatch
from roomcast.settings import CommandSettings

logger = Logger()
metrics = Metrics()
# A failed record fails the rest of its message group in the batch (they come back in order), and
# only its group: other authors' commands go on.
processor = CommandBatch()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    intake = bootstrap.command_intake(CommandSettings.from_env())
    processor.on_skipped = intake.skipped
    with intake.reading_ahead(event.get("Records", [])):
        return process_partial_response(
            event=event, record_handler=intake.handle_record, processor=processor, context=context
        )
