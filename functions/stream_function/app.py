"""The table's stream → StreamFunction: fan new comments and presence out, clean up deleted rooms."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.edges.stream_batch import StreamBatch
from roomcast.settings import StreamSettings

logger = Logger()
metrics = Metrics()
# A batch whose every record failed is reported like a partial failure: Lambda then retries from the
# first record instead of bisecting, which would post the batch's frames again for every half.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = StreamBatch(bootstrap.live_processor(StreamSettings.from_env(), context), event)
    # The whole batch first (one frame per room per connection), then record by record.
    batch.deliver()
    return process_partial_response(
        event=event, record_handler=batch.handle_record, processor=processor, context=context
    )
