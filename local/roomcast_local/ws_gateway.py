"""API Gateway's WebSocket API on one local port, so the live path runs without AWS or Docker.

Clients connect with WebSocket on ``/`` or ``/{stage}``; functions answer through the
@connections management API (``POST``/``GET``/``DELETE /@connections/{id}``, with or without
the stage prefix) on the same port, which is what boto3's ``apigatewaymanagementapi`` client
calls with ``endpoint_url=gateway.callback_url``.

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

Handlers are blocking and post back to this same server, so every invocation runs on a thread
pool, never on the event loop. One connection's messages are handled one at a time in arrival
order; different connections run concurrently.

Not emulated: route responses (two-way routes), throttling, IAM on the management API,
authorizer result caching, message fragmentation beyond one frame (see ``frame_limit_bytes``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, web
from multidict import MultiMapping

from roomcast_local.template import ACCOUNT

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]

# Lambda would scale out per connection; this bounds how many handlers block at once here.
_INVOKE_THREADS = 64
_CLIENT_CLOSED_WITHOUT_STATUS = (1005, "Client-side close frame status not set")
_CONNECTION_LOST = (WSCloseCode.ABNORMAL_CLOSURE.value, "Connection lost")
_GOING_AWAY = (WSCloseCode.GOING_AWAY.value, "Going away")
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
class _Connection:
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


class WebSocketGateway:
    def __init__(self, routes: Mapping[str, Invoke], authorizer: Invoke | None, config: GatewayConfig) -> None:
        self.routes = dict(routes)
        self.authorizer = authorizer
        self.config = config
        self.port = config.port
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
        self._selection_path = _selection_path(config.route_selection_expression)
        self._identity_sources = _identity_sources(config.identity_source)
        self._connections: dict[str, _Connection] = {}
        self._stopping = False
        self._sessions: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    @property
    def callback_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def domain_name(self) -> str:
        return f"{self.config.host}:{self.port}"

    def connection_ids(self) -> list[str]:
        # list() of a dict is one C-level copy under the GIL, so other threads may call this.
        return list(self._connections)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._executor = ThreadPoolExecutor(_INVOKE_THREADS, thread_name_prefix="ws-gateway-invoke")
        # Oversize posts are read whole up to this bound, so the caller gets its 413 rather than
        # a reset in the middle of its upload.
        app = web.Application(client_max_size=max(1024 * 1024, 2 * self.config.message_limit_bytes))
        for prefix in ("", f"/{self.config.stage}"):
            app.router.add_get(prefix or "/", self._upgrade, allow_head=False)
            app.router.add_post(f"{prefix}/@connections/{{connection_id}}", self._post)
            app.router.add_get(f"{prefix}/@connections/{{connection_id}}", self._get, allow_head=False)
            app.router.add_delete(f"{prefix}/@connections/{{connection_id}}", self._delete)
        # No access log: it would be one line per @connections post.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self.config.stop_timeout_seconds
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.host, self.config.port).start()
        self.port = self._runner.addresses[0][1]
        logger.info("WebSocket gateway listening on %s (callbacks on %s)", self.ws_url, self.callback_url)

    async def stop(self) -> None:
        """Close every connection (each gets its $disconnect), then the server and the invoke pool.

        What has not ended after ``stop_timeout_seconds`` is cut: a client that does not answer the
        close frame, a handler still running (its worker is stopped next, which ends its call).
        """
        self._stopping = True
        closing = {asyncio.ensure_future(self._close(conn, *_GOING_AWAY)) for conn in list(self._connections.values())}
        # In-flight handlers and $disconnect may still call back: the server answers until they end.
        if closing or self._sessions:
            await asyncio.wait(closing | self._sessions, timeout=self.config.stop_timeout_seconds)
        if self._runner is not None:
            await self._runner.cleanup()  # cancels the handlers still running after its shutdown_timeout
            self._runner = None
        for task in closing:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def start_in_thread(self) -> None:
        """Run on an event loop of its own in a daemon thread; returns once the port is listening."""
        loop = asyncio.new_event_loop()
        started: Future[None] = Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as error:  # noqa: BLE001 - handed to the starting thread, which raises it
                started.set_exception(error)
                loop.close()
                return
            started.set_result(None)
            loop.run_forever()
            loop.close()

        thread = threading.Thread(target=run, name="ws-gateway", daemon=True)
        thread.start()
        started.result()
        self._loop, self._thread = loop, thread

    def stop_thread(self) -> None:
        """Stop what start_in_thread started (nothing if it did not) and end its thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop = self._thread = None

    # -- connecting ------------------------------------------------------------------------

    async def _upgrade(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            # aiohttp refuses messages of max_msg_size bytes or more; API Gateway allows the limit itself.
            max_msg_size=self.config.frame_limit_bytes + 1,
            heartbeat=self.config.heartbeat_seconds,
            # API Gateway negotiates no permessage-deflate, so frame sizes are the bytes sent.
            compress=False,
        )
        if not ws.can_prepare(request).ok:
            return web.json_response({"message": "Upgrade Required"}, status=426)
        if self._stopping:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        now = time.time()
        loop_now = asyncio.get_running_loop().time()
        conn = _Connection(
            connection_id=self._new_connection_id(),
            ws=ws,
            connected_at=now,
            source_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""),
            last_active_at=now,
            closes_at=loop_now + self.config.max_connection_seconds,
            idle_since=loop_now,
        )
        request_id = _new_id()
        parameters = {
            **_single_and_multi("headers", "multiValueHeaders", request.headers),
            **_single_and_multi("queryStringParameters", "multiValueQueryStringParameters", request.query),
        }
        if self.authorizer is not None:
            refusal = await self._authorize(self.authorizer, request, conn, parameters, request_id)
            if refusal is not None:
                return refusal
        connect = self.routes.get("$connect")
        if connect is not None:
            event = {
                **parameters,
                "requestContext": self._request_context(conn, "$connect", "CONNECT", request_id),
                "isBase64Encoded": False,
            }
            try:
                status = _status_of(await self._invoke(connect, event))
            except Exception:
                logger.exception("$connect failed; refusing connection %s", conn.connection_id)
                return web.json_response({"message": "Internal server error"}, status=500)
            if not 200 <= status < 300:
                logger.info("$connect refused connection %s with %d", conn.connection_id, status)
                return web.Response(status=status)
        await ws.prepare(request)
        self._connections[conn.connection_id] = conn
        logger.info("connected %s from %s (%d open)", conn.connection_id, conn.source_ip, len(self._connections))
        # A task stop() can wait for, so that its handlers' callbacks are still answered meanwhile.
        session = asyncio.create_task(self._session(conn))
        self._sessions.add(session)
        session.add_done_callback(self._sessions.discard)
        await session
        return ws

    async def _session(self, conn: _Connection) -> None:
        """The connection's life after the handshake: its messages, then its $disconnect."""
        inbox: asyncio.Queue[WSMessage | None] = asyncio.Queue()
        worker = asyncio.create_task(self._work(conn, inbox))
        status_and_reason = _CONNECTION_LOST
        try:
            if self._stopping:  # stop() began while $connect ran, and could not see this one
                await self._close(conn, *_GOING_AWAY)
            status_and_reason = await self._receive(conn, inbox)
        finally:
            # Forgotten before $disconnect runs, so its posts (and everyone's) get 410.
            self._connections.pop(conn.connection_id, None)
            inbox.put_nowait(None)
            await worker  # messages already received are still handled, as API Gateway does
            await self._disconnect(conn, *status_and_reason)

    async def _authorize(
        self, authorizer: Invoke, request: web.Request, conn: _Connection, parameters: dict[str, Any], request_id: str
    ) -> web.Response | None:
        """None when the policy allows this $connect (conn.authorizer then holds its context); else the refusal."""
        for source in self._identity_sources:
            if not _identity_value(source, request):
                logger.info("refused a connection: no %s", source)
                return web.json_response({"message": "Unauthorized"}, status=401)
        method_arn = f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{self.config.api_id}/{self.config.stage}/$connect"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **parameters,
            "stageVariables": {},
            "requestContext": self._request_context(conn, "$connect", "CONNECT", request_id),
        }
        try:
            response = await self._invoke(authorizer, event)
        except Exception:
            logger.exception("authorizer failed; refusing connection %s", conn.connection_id)
            return web.json_response({"message": "Internal server error"}, status=500)
        context = (response.get("context") or {}) if isinstance(response, dict) else None
        # API Gateway rejects a malformed answer, or a context holding objects or arrays, as a
        # configuration error (500): refusing it here catches that before a deployment does.
        if (
            not isinstance(response, dict)
            or not isinstance(response.get("policyDocument"), dict)
            or not isinstance(context, dict)
            or any(isinstance(value, dict | list) for value in context.values())
        ):
            logger.error("authorizer answered no policy with a flat context: %r", response)
            return web.json_response({"message": "Internal server error"}, status=500)
        if not policy_allows(response["policyDocument"], method_arn):
            logger.info("authorizer denied connection %s", conn.connection_id)
            return web.json_response({"message": "Forbidden"}, status=403)
        conn.authorizer = {**context, "principalId": response.get("principalId")}
        return None

    # -- messages --------------------------------------------------------------------------

    async def _receive(self, conn: _Connection, inbox: asyncio.Queue[WSMessage | None]) -> tuple[int, str]:
        """Queue the client's messages until the socket closes; returns the close status and reason."""
        while True:
            deadline = min(conn.closes_at, conn.idle_since + self.config.idle_timeout_seconds)
            try:
                # Not receive(timeout=...): aiohttp restarts that timeout on every heartbeat pong.
                async with asyncio.timeout_at(deadline):
                    message = await conn.ws.receive()
            except TimeoutError:
                await self._close(conn, *_GOING_AWAY)
                return conn.closed_as or _GOING_AWAY  # a delete may have closed it first
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                conn.idle_since = asyncio.get_running_loop().time()
                conn.last_active_at = time.time()
                inbox.put_nowait(message)
                continue
            if conn.closed_as is not None:
                return conn.closed_as
            if message.type is WSMsgType.CLOSE:
                return (message.data, message.extra or "") if message.data else _CLIENT_CLOSED_WITHOUT_STATUS
            if message.type is WSMsgType.ERROR and isinstance(message.data, WebSocketError):
                # aiohttp has already closed the socket with this code: 1009 for an oversize frame
                # (whose aiohttp text would name the limit plus one), 1002/1007 for protocol errors.
                if message.data.code == WSCloseCode.MESSAGE_TOO_BIG:
                    return message.data.code, "Message too big"
                return message.data.code, str(message.data)
            return _CONNECTION_LOST  # EOF or reset without a close frame, or no pong to a heartbeat

    async def _work(self, conn: _Connection, inbox: asyncio.Queue[WSMessage | None]) -> None:
        """Handle one connection's messages one at a time, in the order they arrived."""
        while (message := await inbox.get()) is not None:
            await self._route(conn, message)

    async def _route(self, conn: _Connection, message: WSMessage) -> None:
        request_id = _new_id()
        if message.type is WSMsgType.TEXT:
            body, encoded = message.data, False
            route_key = self.select_route(body)
        else:  # binary: no JSON to select on, and Lambda gets it base64-encoded
            body, encoded = base64.b64encode(message.data).decode(), True
            route_key = "$default" if "$default" in self.routes else None
        if route_key is None:
            await self._answer(conn, "Forbidden", request_id)
            return
        context = self._request_context(conn, route_key, "MESSAGE", request_id)
        context["messageId"] = _new_id()
        event = {"requestContext": context, "body": body, "isBase64Encoded": encoded}
        try:
            response = await self._invoke(self.routes[route_key], event)
        except Exception:
            logger.exception("%s failed on connection %s", route_key, conn.connection_id)
            await self._answer(conn, "Internal server error", request_id)
            return
        if isinstance(response, dict) and response.get("body") is not None:
            logger.debug("%s answered a body; route responses are not emulated, so it is dropped", route_key)

    def select_route(self, body: str) -> str | None:
        """The route a text message goes to: $request.body.<path> when it names a route, else $default."""
        try:
            value: Any = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: a client's deeply nested JSON
            value = None
        for key in self._selection_path:
            value = value.get(key) if isinstance(value, dict) else None
        # $connect and $disconnect are lifecycle routes: no message can select them.
        if isinstance(value, str) and value in self.routes and value not in ("$connect", "$disconnect"):
            return value
        return "$default" if "$default" in self.routes else None

    async def _answer(self, conn: _Connection, message: str, request_id: str) -> None:
        """API Gateway's own error frame for a message it could not route or whose integration failed."""
        frame = {"message": message, "connectionId": conn.connection_id, "requestId": request_id}
        with contextlib.suppress(ConnectionError):  # the client is gone already; $disconnect follows
            await conn.ws.send_str(json.dumps(frame))

    async def _disconnect(self, conn: _Connection, status: int, reason: str) -> None:
        logger.info("disconnected %s: code %d, reason %r", conn.connection_id, status, reason)
        route = self.routes.get("$disconnect")
        if route is None:
            return
        context = self._request_context(conn, "$disconnect", "DISCONNECT", _new_id())
        context["disconnectStatusCode"] = status
        context["disconnectReason"] = reason
        # The headers API Gateway sends $disconnect, whatever the upgrade request had.
        headers = {"Host": self.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
        event = {
            "headers": headers,
            "multiValueHeaders": {key: [value] for key, value in headers.items()},
            "requestContext": context,
            "isBase64Encoded": False,
        }
        try:
            await self._invoke(route, event)
        except Exception:
            logger.exception("$disconnect failed for connection %s", conn.connection_id)

    async def _close(self, conn: _Connection, status: int, reason: str) -> None:
        """Close from the gateway's side (delete, limits, shutdown): forgotten first, so racing posts get 410."""
        self._connections.pop(conn.connection_id, None)
        if conn.closed_as is None:
            conn.closed_as = (status, reason)
        await conn.ws.close(code=status, message=reason.encode())

    # -- @connections ----------------------------------------------------------------------

    async def _post(self, request: web.Request) -> web.Response:
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            data = None
        if data is None or len(data) > self.config.message_limit_bytes:
            return _error(413, "PayloadTooLargeException", f"Message exceeds {self.config.message_limit_bytes} bytes")
        conn = self._connections.get(request.match_info["connection_id"])
        if conn is None:
            return _gone()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            send = conn.ws.send_bytes(data)
        else:
            send = conn.ws.send_str(text)
        try:
            await send
        except ConnectionError:
            return _gone()  # closing under us: $disconnect is on its way
        return web.Response(status=200)

    async def _get(self, request: web.Request) -> web.Response:
        conn = self._connections.get(request.match_info["connection_id"])
        if conn is None:
            return _gone()
        # GetConnection's wire names (the service model's locationName), which botocore maps to
        # ConnectedAt, Identity.SourceIp, ...
        return web.json_response(
            {
                "connectedAt": _iso(conn.connected_at),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                "lastActiveAt": _iso(conn.last_active_at),
            }
        )

    async def _delete(self, request: web.Request) -> web.Response:
        conn = self._connections.get(request.match_info["connection_id"])
        if conn is None:
            return _gone()
        await self._close(conn, WSCloseCode.OK.value, "")
        return web.Response(status=204)

    # -- helpers ---------------------------------------------------------------------------

    async def _invoke(self, invoke: Invoke, event: dict[str, Any]) -> Any:
        """Run a blocking handler on the pool: it may call back into this server, which must stay free."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, invoke, event)

    def _new_connection_id(self) -> str:
        while (connection_id := _new_id()) in self._connections:
            pass
        return connection_id

    def _request_context(self, conn: _Connection, route_key: str, event_type: str, request_id: str) -> dict[str, Any]:
        now = time.time()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.config.stage,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": conn.connection_id,
            "apiId": self.config.api_id,
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


def _selection_path(expression: str) -> list[str]:
    prefix = "$request.body."
    if not expression.startswith(prefix) or not expression[len(prefix) :]:
        raise ValueError(f"unsupported route selection expression {expression!r}: only $request.body.<path>")
    return expression[len(prefix) :].split(".")


def _identity_sources(sources: str | None) -> list[str]:
    parsed = [source.strip() for source in (sources or "").split(",") if source.strip()]
    for source in parsed:
        if not source.startswith(_IDENTITY_PREFIXES) or source.endswith("."):
            raise ValueError(f"unsupported identity source {source!r}: use {' or '.join(_IDENTITY_PREFIXES)}NAME")
    return parsed


def _identity_value(source: str, request: web.Request) -> str | None:
    querystring, header = _IDENTITY_PREFIXES
    if source.startswith(querystring):
        return request.query.get(source.removeprefix(querystring))
    return request.headers.get(source.removeprefix(header))


def _single_and_multi(single: str, multi: str, values: MultiMapping[str]) -> dict[str, Any]:
    """API Gateway's pair of maps (last value wins in the single one); both absent when there are none."""
    if not values:
        return {}
    last: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for key, value in values.items():
        last[key] = value
        every.setdefault(key, []).append(value)
    return {single: last, multi: every}


def _status_of(response: Any) -> int:
    """A proxy response's status code; a response without one counts as success."""
    if isinstance(response, dict) and response.get("statusCode") is not None:
        return int(response["statusCode"])
    return 200


def _new_id() -> str:
    """11 random bytes as 16 URL-safe base64 characters: the shape of API Gateway's ids ("ZtG1-cJHjoECF5A=")."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, error_type: str, message: str) -> web.Response:
    """An error as API Gateway sends it: botocore takes the exception name from x-amzn-ErrorType."""
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


def _gone() -> web.Response:
    return _error(410, "GoneException", "The connection is gone")
