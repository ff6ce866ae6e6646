"""WebSocket $disconnect (best effort, so items also carry a TTL): forget the connection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.edges.quota import release
from roomcast.settings import DisconnectSettings

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = DisconnectSettings.from_env()
    message = APIGatewayWebSocketEvent(event)
    bootstrap.routes(settings).disconnect(message.request_context.connection_id)
    release(bootstrap.guard(settings), message)
    return {"statusCode": 200}
