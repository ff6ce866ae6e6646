"""The limits per client at the WebSocket edges: a throttled message or a subscription over quota is
one error frame (docs/websocket.md, quotas); a connection over its user's quota is refused with 429."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from pydantic import ValidationError

from roomcast.domain.errors import Unauthorized
from roomcast.domain.quotas import QuotaExceeded, Throttled
from roomcast.edges.websocket import caller_of, handle_request, refuse, refuse_invalid
from roomcast.usecases.quotas import Guard
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.requests import ClientRequest, SubscribeRequest, parse_request

TOO_MANY_CONNECTIONS = 429


def guarded_message(routes: Routes, guard: Guard, caller: Caller, body: str | None) -> None:
    """``handle_message`` for a message within the connection's rate and quotas; an error frame otherwise."""
    request: ClientRequest | None = None
    try:
        request = parse_request(body)
    except ValidationError as error:
        invalid = error  # answered with InvalidRequest, if the rate admits it
    try:
        guard.admit_message(caller.connection_id)
        if isinstance(request, SubscribeRequest):
            guard.admit_subscription(caller.connection_id, request.room_id)
    except (Throttled, QuotaExceeded) as refused:
        refuse(routes, caller, refused, (request.request_id if request else None) or caller.request_id)
        if isinstance(refused, Throttled) and refused.closing:
            guard.close(caller.connection_id)
        return
    if request is None:
        refuse_invalid(routes, caller, invalid)
    else:
        handle_request(routes, caller, request)


def guarded_connect(routes: Routes, guard: Guard, caller: Caller) -> int:
    """$connect's status: 200, or 429 when the user holds all its connections already."""
    if not guard.admit_connection(caller.user_id, caller.connection_id, routes.expires_at(caller)):
        return TOO_MANY_CONNECTIONS
    routes.connect(caller)
    return 200


def release(guard: Guard, event: APIGatewayWebSocketEvent) -> None:
    """$disconnect frees the connection's slot in its user's quota (the user from the authorizer's context)."""
    try:
        caller = caller_of(event)
    except Unauthorized:
        return  # never admitted, so it holds no slot; a slot left behind expires with the connection anyway
    guard.release(caller.user_id, caller.connection_id)
