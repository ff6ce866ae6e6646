"""The WebSocket routes' edge: who is calling, what they asked, and every refusal as one error frame.

``{"type": "error", "code", "message", "requestId"}``: domain errors keep their code,
malformed requests are ``InvalidRequest``; transient failures are raised (API Gateway logs them).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from pydantic import ValidationError

from roomcast.domain.chat import not_a_member
from roomcast.domain.errors import InvalidRequest, RoomcastError, RoomNotFound, TransientError, Unauthorized
from roomcast.domain.shapes import describe
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.frames import ErrorFrame
from roomcast.wire.requests import ClientRequest, SubscribeRequest, UnsubscribeRequest, parse_request

logger = Logger(child=True)


def caller_of(event: APIGatewayWebSocketEvent) -> Caller:
    """The caller as API Gateway describes it; the user id only ever comes from the authorizer's context."""
    context = event.request_context
    user_id = (context.get("authorizer") or {}).get("userId")
    if not user_id:
        raise Unauthorized("the connection carries no verified identity")
    return Caller(
        connection_id=context.connection_id,
        user_id=str(user_id),
        connected_at_ms=int(context.connected_at),
        request_id=context.request_id,
    )


def handle_message(routes: Routes, caller: Caller, body: str | None) -> None:
    """subscribe, unsubscribe, history and anything else ($default): one answer frame at least."""
    try:
        request = parse_request(body)
    except ValidationError as invalid:
        refuse_invalid(routes, caller, invalid)
        return
    handle_request(routes, caller, request)


def handle_request(routes: Routes, caller: Caller, request: ClientRequest) -> None:
    """A parsed request to its route; each refusal to one error frame."""
    request_id = request.request_id or caller.request_id
    try:
        if isinstance(request, SubscribeRequest):
            routes.subscribe(caller, request, request_id)
        elif isinstance(request, UnsubscribeRequest):
            routes.unsubscribe(caller, request, request_id)
        else:
            routes.history(caller, request, request_id)
    except ValidationError as invalid:
        refuse(routes, caller, InvalidRequest(describe(invalid)), request_id)
    except TransientError:
        raise
    except RoomNotFound:
        # One answer for a room that does not exist and a room one is not in: the socket is no oracle
        # of which room ids exist.
        refuse(routes, caller, not_a_member(request.room_id, caller.user_id), request_id)
    except RoomcastError as error:
        refuse(routes, caller, error, request_id)


def refuse_invalid(routes: Routes, caller: Caller, invalid: ValidationError) -> None:
    refuse(routes, caller, InvalidRequest(describe(invalid)), caller.request_id)


def refuse(routes: Routes, caller: Caller, error: RoomcastError, request_id: str) -> None:
    logger.info("request refused", extra={"code": error.code, "detail": error.message})
    routes.answer(caller, ErrorFrame(code=error.code, message=error.message, request_id=request_id))
