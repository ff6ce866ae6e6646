"""WebSocket $connect: the authorizer has verified the token; remember who is on the connection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.domain.errors import Unauthorized
from roomcast.edges.quota import guarded_connect
from roomcast.edges.websocket import caller_of
from roomcast.settings import ConnectSettings

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = ConnectSettings.from_env()
    try:
        caller = caller_of(APIGatewayWebSocketEvent(event))
    except Unauthorized as refused:
        logger.warning("connection refused", extra={"detail": refused.message})
        return {"statusCode": 401}
    return {"statusCode": guarded_connect(bootstrap.routes(settings), bootstrap.guard(settings), caller)}
