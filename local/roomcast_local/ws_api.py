"""What API Gateway's WebSocket API looks like from outside: its settings, a connection, the
@connections management API, the events' ``requestContext``, authorizer policies and error answers.
The gateway (ws_gateway.py) runs the sessions; this is what it answers and sends.

Kept from API Gateway:

- a Lambda REQUEST authorizer on ``$connect`` only: a missing identity source is 401 without
  calling it, a policy that does not allow ``execute-api:Invoke`` on the method ARN is 403, a
  failing authorizer is 500; its ``context`` (plus ``principalId``) is ``requestContext.authorizer``
  on every later event of the connection;
- ``$connect`` refuses the upgrade with its own non-2xx status; ``$disconnect`` runs exactly once
  per accepted connection, after the connection is forgotten (posts to it then get 410);
- route selection on ``$request.body.<path>``, ``$default`` otherwise, and API Gateway's
  ``Forbidden`` / ``Internal server error`` frames when there is no route or the integration fails;
- the 32 KB frame limit (close 1009), the 128 KB @connections payload limit (413), the 10-minute
  idle timeout and the 2-hour connection limit (close 1001 "Going away");
- error answers botocore parses into the service model's exceptions (``GoneException``, ...).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, web
from multidict import MultiMapping

from roomcast.domain.ids import iso_ms

_IDENTITY_PREFIXES = ("route.request.querystring.", "route.request.header.")


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 3001  # 0 picks a free port (WebSocketGateway.port has the one in use)
    stage: str = "v1"
    api_id: str = "local"
    route_selection_expression: str = "$request.body.action"
    max_connection_seconds: float = 7200
    idle_timeout_seconds: float = 600
    # Client -> server. API Gateway allows 128 KB messages in 32 KB frames; browsers send every
    # message as one frame, so here a message is capped at one frame's size.
    frame_limit_bytes: int = 32 * 1024
    message_limit_bytes: int = 128 * 1024  # @connections POST payload
    # Comma-separated like API Gateway's IdentitySource; None means no authorizer.
    identity_source: str | None = "route.request.querystring.token"
    # A client that vanished without a close frame (or FIN) is noticed after 1.5x this.
    heartbeat_seconds: float | None = 30
    # How long stop() lets connections close and their $disconnect run before it cuts them: the
    # stack must stop within a few seconds however many clients are connected or unresponsive.
    stop_timeout_seconds: float = 1.0


@dataclass(eq=False)
class Connection:
    connection_id: str
    ws: web.WebSocketResponse
    connected_at: float  # epoch seconds, what events and GetConnection report
    source_ip: str
    user_agent: str
    last_active_at: float  # epoch seconds of the last client message
    closes_at: float  # event-loop time the connection limit ends it
    idle_since: float  # event-loop time of the last client message, for the idle timeout
    authorizer: dict[str, Any] | None = None
    # Set when the gateway itself closes the socket: what $disconnect reports then.
    closed_as: tuple[int, str] | None = None


class ManagementApi:
    """``POST``/``GET``/``DELETE /@connections/{id}``, as boto3's ``apigatewaymanagementapi`` calls them."""

    config: GatewayConfig
    _connections: dict[str, Connection]

    async def _close(self, conn: Connection, status: int, reason: str) -> None:
        raise NotImplementedError

    async def _post(self, request: web.Request) -> web.Response:
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            data = None
        if data is None or len(data) > self.config.message_limit_bytes:
            return error_response(
                413, "PayloadTooLargeException", f"Message exceeds {self.config.message_limit_bytes} bytes"
            )
        conn = self._connections.get(request.match_info["connection_id"])
        if conn is None:
            return gone()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            send = conn.ws.send_bytes(data)
        else:
            send = conn.ws.send_str(text)
        try:
            await send
        except ConnectionError:
            return gone()  # closing under us: $disconnect is on its way
        return web.Response(status=200)

    async def _get(self, request: web.Request) -> web.Response:
        conn = self._connections.get(request.match_info["connection_id"])
        if conn is None:
            return gone()
        # GetConnection's wire names (the service model's locationName), which botocore maps to
        # ConnectedAt, Identity.SourceIp, ...
        return web.json_response(
            {
                "connectedAt": iso_ms(conn.connected_at * 1000),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                "lastActiveAt": iso_ms(conn.last_active_at * 1000),
            }
        )

    async def _delete(self, request: web.Request) -> web.Response:
        conn = self._connections.get(request.match_info["connection_id"])
        if conn is None:
            return gone()
        await self._close(conn, WSCloseCode.OK.value, "")
        return web.Response(status=204)


def request_context(
    conn: Connection, config: GatewayConfig, domain_name: str, route_key: str, event_type: str, request_id: str
) -> dict[str, Any]:
    """``requestContext`` of every event API Gateway sends for one connection."""
    now = time.time()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": config.stage,
        "connectedAt": int(conn.connected_at * 1000),
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        "requestId": request_id,
        "domainName": domain_name,
        "connectionId": conn.connection_id,
        "apiId": config.api_id,
    }
    if conn.authorizer is not None:
        context["authorizer"] = dict(conn.authorizer)
    return context


def policy_allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """IAM's evaluation for execute-api:Invoke on method_arn: an explicit Deny wins, then any Allow."""
    statements = policy.get("Statement") or []
    allowed = False
    for statement in [statements] if isinstance(statements, dict) else statements:
        if not isinstance(statement, dict):
            continue
        if not (
            _any_matches(statement.get("Action"), "execute-api:Invoke", ignore_case=True)
            and _any_matches(statement.get("Resource"), method_arn, ignore_case=False)
        ):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _any_matches(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    """IAM wildcards: * is any run of characters, ? is one character (action names ignore case)."""
    for pattern in [patterns] if isinstance(patterns, str) else patterns or []:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
        if re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)):
            return True
    return False


def selection_path(expression: str) -> list[str]:
    prefix = "$request.body."
    if not expression.startswith(prefix) or not expression[len(prefix) :]:
        raise ValueError(f"unsupported route selection expression {expression!r}: only $request.body.<path>")
    return expression[len(prefix) :].split(".")


def identity_sources(sources: str | None) -> list[str]:
    parsed = [source.strip() for source in (sources or "").split(",") if source.strip()]
    for source in parsed:
        if not source.startswith(_IDENTITY_PREFIXES) or source.endswith("."):
            raise ValueError(f"unsupported identity source {source!r}: use {' or '.join(_IDENTITY_PREFIXES)}NAME")
    return parsed


def identity_value(source: str, request: web.Request) -> str | None:
    querystring, header = _IDENTITY_PREFIXES
    if source.startswith(querystring):
        return request.query.get(source.removeprefix(querystring))
    return request.headers.get(source.removeprefix(header))


def single_and_multi(single: str, multi: str, values: MultiMapping[str]) -> dict[str, Any]:
    """API Gateway's pair of maps (last value wins in the single one); both absent when there are none."""
    if not values:
        return {}
    last: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for key, value in values.items():
        last[key] = value
        every.setdefault(key, []).append(value)
    return {single: last, multi: every}


def status_of(response: Any) -> int:
    """A proxy response's status code; a response without one counts as success."""
    if isinstance(response, dict) and response.get("statusCode") is not None:
        return int(response["statusCode"])
    return 200


def new_id() -> str:
    """11 random bytes as 16 URL-safe base64 characters: the shape of API Gateway's ids ("ZtG1-cJHjoECF5A=")."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def error_response(status: int, error_type: str, message: str) -> web.Response:
    """An error as API Gateway sends it: botocore takes the exception name from x-amzn-ErrorType."""
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


def gone() -> web.Response:
    return error_response(410, "GoneException", "The connection is gone")
