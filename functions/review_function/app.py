"""ReviewFunction: the sample review hook (docs/moderation.md). Invoked synchronously by the
CommandFunction for each comment of a room whose reviewMode is not off; answers allow, deny or modify."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.edges.review_sample import handle_review

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return handle_review(event, bootstrap.review_rules())
