"""API Gateway's WebSocket API on one local port, so the live path runs without AWS or Docker.

Clients connect with WebSocket on ``/`` or ``/{stage}``; functions answer through the
@connections management API (``POST``/``GET``/``DELETE /@connections/{id}``, with or without
the stage prefix) on the same port, which is what boto3's ``apigatewaymanagementapi`` client
calls with ``endpoint_url=gateway.callback_url``.

What it keeps of API Gateway's behaviour is listed in ws_api.py.

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
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, web

from roomcast_local import ws_api as api
from roomcast_local.template import ACCOUNT
from roomcast_local.ws_api import Connection, GatewayConfig, ManagementApi

__all__ = ["GatewayConfig", "WebSocketGateway"]

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]

# Lambda would scale out per connection; this bounds how many handlers block at once here.
_INVOKE_THREADS = 64
_CLIENT_CLOSED_WITHOUT_STATUS = (1005, "Client-side close frame status not set")
_CONNECTION_LOST = (WSCloseCode.ABNORMAL_CLOSURE.value, "Connection lost")
_GOING_AWAY = (WSCloseCode.GOING_AWAY.value, "Going away")
_IDENTITY_PREFIXES = ("route.request.querystring.", "route.request.header.")


class WebSocketGateway(ManagementApi):
    def __init__(self, routes: Mapping[str, Invoke], authorizer: Invoke | None, config: GatewayConfig) -> None:
        self.routes = dict(routes)
        self.authorizer = authorizer
        self.config = config
        self.port = config.port
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"
        self._selection_path = api.selection_path(config.route_selection_expression)
        self._identity_sources = api.identity_sources(config.identity_source)
        self._connections: dict[str, Connection] = {}
        self._stopping = False
        self._sessions: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Other applications served on this port beside the API (the console): prefix -> factory.
        self.subapps: dict[str, Callable[[], web.Application]] = {}

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
        for subapp_prefix, make in self.subapps.items():
            app.add_subapp(subapp_prefix, make())
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
        conn = Connection(
            connection_id=self._new_connection_id(),
            ws=ws,
            connected_at=now,
            source_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""),
            last_active_at=now,
            closes_at=loop_now + self.config.max_connection_seconds,
            idle_since=loop_now,
        )
        request_id = api.new_id()
        parameters = {
            **api.single_and_multi("headers", "multiValueHeaders", request.headers),
            **api.single_and_multi("queryStringParameters", "multiValueQueryStringParameters", request.query),
        }
        if self.authorizer is not None:
            refusal = await self._authorize(self.authorizer, request, conn, parameters, request_id)
            if refusal is not None:
                return refusal
        connect = self.routes.get("$connect")
        if connect is not None:
            event = {
                **parameters,
                "requestContext": api.request_context(
                    conn, self.config, self.domain_name, "$connect", "CONNECT", request_id
                ),
                "isBase64Encoded": False,
            }
            try:
                status = api.status_of(await self._invoke(connect, event))
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

    async def _session(self, conn: Connection) -> None:
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
        self, authorizer: Invoke, request: web.Request, conn: Connection, parameters: dict[str, Any], request_id: str
    ) -> web.Response | None:
        """None when the policy allows this $connect (conn.authorizer then holds its context); else the refusal."""
        for source in self._identity_sources:
            if not api.identity_value(source, request):
                logger.info("refused a connection: no %s", source)
                return web.json_response({"message": "Unauthorized"}, status=401)
        method_arn = f"arn:aws:execute-api:{self.region}:{ACCOUNT}:{self.config.api_id}/{self.config.stage}/$connect"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **parameters,
            "stageVariables": {},
            "requestContext": api.request_context(
                conn, self.config, self.domain_name, "$connect", "CONNECT", request_id
            ),
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
        if not api.policy_allows(response["policyDocument"], method_arn):
            logger.info("authorizer denied connection %s", conn.connection_id)
            return web.json_response({"message": "Forbidden"}, status=403)
        conn.authorizer = {**context, "principalId": response.get("principalId")}
        return None

    # -- messages --------------------------------------------------------------------------

    async def _receive(self, conn: Connection, inbox: asyncio.Queue[WSMessage | None]) -> tuple[int, str]:
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

    async def _work(self, conn: Connection, inbox: asyncio.Queue[WSMessage | None]) -> None:
        """Handle one connection's messages one at a time, in the order they arrived."""
        while (message := await inbox.get()) is not None:
            await self._route(conn, message)

    async def _route(self, conn: Connection, message: WSMessage) -> None:
        request_id = api.new_id()
        if message.type is WSMsgType.TEXT:
            body, encoded = message.data, False
            route_key = self.select_route(body)
        else:  # binary: no JSON to select on, and Lambda gets it base64-encoded
            body, encoded = base64.b64encode(message.data).decode(), True
            route_key = "$default" if "$default" in self.routes else None
        if route_key is None:
            await self._answer(conn, "Forbidden", request_id)
            return
        context = api.request_context(conn, self.config, self.domain_name, route_key, "MESSAGE", request_id)
        context["messageId"] = api.new_id()
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

    async def _answer(self, conn: Connection, message: str, request_id: str) -> None:
        """API Gateway's own error frame for a message it could not route or whose integration failed."""
        frame = {"message": message, "connectionId": conn.connection_id, "requestId": request_id}
        with contextlib.suppress(ConnectionError):  # the client is gone already; $disconnect follows
            await conn.ws.send_str(json.dumps(frame))

    async def _disconnect(self, conn: Connection, status: int, reason: str) -> None:
        logger.info("disconnected %s: code %d, reason %r", conn.connection_id, status, reason)
        route = self.routes.get("$disconnect")
        if route is None:
            return
        context = api.request_context(conn, self.config, self.domain_name, "$disconnect", "DISCONNECT", api.new_id())
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

    async def _close(self, conn: Connection, status: int, reason: str) -> None:
        """Close from the gateway's side (delete, limits, shutdown): forgotten first, so racing posts get 410."""
        self._connections.pop(conn.connection_id, None)
        if conn.closed_as is None:
            conn.closed_as = (status, reason)
        await conn.ws.close(code=status, message=reason.encode())

    # -- helpers ---------------------------------------------------------------------------

    async def _invoke(self, invoke: Invoke, event: dict[str, Any]) -> Any:
        """Run a blocking handler on the pool: it may call back into this server, which must stay free."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, invoke, event)

    def _new_connection_id(self) -> str:
        while (connection_id := api.new_id()) in self._connections:
            pass
        return connection_id
