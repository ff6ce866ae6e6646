"""The fan-out queue → FanoutFunction: the second tier, posting one slice of a big room's subscribers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.edges.slice_batch import fifo_processor, from_fifo, standard_processor
from roomcast.settings import FanoutSettings

logger = Logger()
metrics = Metrics()
# A slice that failed returns alone (on the FIFO fan-out queue, holding back its message group); when
# every record of the batch failed, the batch is reported the same way instead of raising.
slices = fifo_processor()
flushes = standard_processor()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = bootstrap.slice_batch(FanoutSettings.from_env())
    return process_partial_response(
        event=event,
        record_handler=batch.handle_record,
        processor=slices if from_fifo(event) else flushes,
        context=context,
    )
