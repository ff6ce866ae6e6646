"""WebSocket subscribe, unsubscribe, history and $default: answers go back on the connection."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.edges.quota import guarded_message
from roomcast.edges.websocket import caller_of
from roomcast.settings import MessageSettings

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = MessageSettings.from_env()
    message = APIGatewayWebSocketEvent(event)
    guarded_message(bootstrap.routes(settings), bootstrap.guard(settings), caller_of(message), message.decoded_body)
    return {"statusCode": 200}
