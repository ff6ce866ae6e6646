"""The template's WebSocket API on a local gateway, for tests that run the functions in this process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from roomcast_local import template
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

Invoke = Callable[[dict[str, Any]], Any]


def template_gateway(route: Callable[[str], Invoke]) -> WebSocketGateway:
    """Routes, authorizer, stage and selection expressions as template.yaml declares them; ``route``
    turns a function's logical id into what runs it. Started, on a free port."""
    api = template.websocket_api()
    gateway = WebSocketGateway(
        routes={key: route(function) for key, function in api.routes.items()},
        authorizer=route(api.authorizer) if api.authorizer else None,
        config=GatewayConfig(
            port=0,
            stage=api.stage,
            route_selection_expression=api.route_selection_expression,
            identity_source=api.identity_source,
        ),
    )
    gateway.start_in_thread()
    return gateway
