"""The local WebSocket gateway over real sockets: websockets clients, boto3's @connections client, fake functions.

Every test starts its own gateway on a free port; functions are plain callables that record
the events they get, so each test can assert exactly what API Gateway would have sent.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

pytestmark = pytest.mark.integration

Event = dict[str, Any]
Start = Callable[..., WebSocketGateway]


class Function:
    """A fake Lambda function: records every event, then answers with ``answer(event)``."""

    def __init__(self, answer: Callable[[Event], Any] | None = None) -> None:
        self.events: list[Event] = []
        self._answer = answer
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> Any:
        with self._lock:
            self.events.append(event)
        return self._answer(event) if self._answer else {"statusCode": 200}

    def bodies(self) -> list[str]:
        with self._lock:
            return [event["body"] for event in self.events]


def policy(effect: str, resource: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}
    answer: dict[str, Any] = {
        "principalId": "alice",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
    if context is not None:
        answer["context"] = context
    return answer


def decide(event: Event) -> dict[str, Any]:
    """The fake authorizer's rules, keyed on the token."""
    token = event["queryStringParameters"]["token"]
    if token == "good":
        return policy("Allow", event["methodArn"], {"userId": "alice", "admin": False, "level": 3})
    if token == "wildcard":
        return policy("Allow", "arn:aws:execute-api:*:*:local/*")
    if token == "nested":
        return policy("Allow", event["methodArn"], {"user": {"id": "alice"}})
    if token == "boom":
        raise RuntimeError("authorizer crashed")
    return policy("Deny", event["methodArn"])


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {predicate}")
        time.sleep(0.01)


@pytest.fixture
def routes() -> dict[str, Function]:
    return {"$connect": Function(), "$disconnect": Function(), "$default": Function(), "subscribe": Function()}


@pytest.fixture
def authorizer() -> Function:
    return Function(decide)


@pytest.fixture
def start(routes: dict[str, Function], authorizer: Function, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """start(auth=..., **config) runs a gateway with the test's routes (and authorizer) on a free port."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # boto3 must reach the loopback gateway directly
    started: list[WebSocketGateway] = []

    def _start(auth: Function | None = authorizer, **config: Any) -> WebSocketGateway:
        gateway = WebSocketGateway(routes, auth, GatewayConfig(port=0, **config))
        gateway.start_in_thread()
        started.append(gateway)
        return gateway

    yield _start
    for gateway in started:
        gateway.stop_thread()


def management(gateway: WebSocketGateway, path: str = "") -> Any:
    """boto3's @connections client, as the functions build it (retries off: every answer is seen)."""
    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.callback_url + path,
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


def client(gateway: WebSocketGateway, query: str = "?token=good", path: str = "/v1") -> ClientConnection:
    return connect(f"{gateway.ws_url}{path}{query}", open_timeout=5, close_timeout=2, proxy=None)


def refused_status(gateway: WebSocketGateway, query: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        client(gateway, query)
    return refused.value.response.status_code


def connection_id(routes: dict[str, Function]) -> str:
    """The id of the latest connection, as its $connect event named it."""
    connection: str = routes["$connect"].events[-1]["requestContext"]["connectionId"]
    return connection


def raw_client(gateway: WebSocketGateway) -> socket.socket:
    """A bare TCP socket that completes the WebSocket handshake and then does nothing at all."""
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1?token=good HTTP/1.1\r\nHost: {gateway.domain_name}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, "the gateway hung up during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def drain(connection: ClientConnection) -> None:
    """Reads (at most 5 s per message) until the connection closes."""
    while True:
        connection.recv(timeout=5)


def send_until_closed(connection: ClientConnection, every: float = 0.05) -> None:
    """Keeps the connection busy (for at most 5 s) until it closes."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        connection.send("busy")
        time.sleep(every)


def closed_code(connection: ClientConnection) -> tuple[int, str]:
    """Waits for the gateway to close the connection; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        drain(connection)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


# -- connecting --------------------------------------------------------------------------


def test_an_authorized_connection_carries_the_authorizer_context_on_every_event(
    start: Start, routes: dict[str, Function], authorizer: Function
) -> None:
    gateway = start()
    with client(gateway, "?token=good&room=art&room=music") as ws:
        ws.send(json.dumps({"action": "subscribe", "roomId": "art"}))
        ws.send("hello")
        wait_until(lambda: len(routes["subscribe"].events) == 1 and len(routes["$default"].events) == 1)
        assert gateway.connection_ids() == [connection_id(routes)]
    wait_until(lambda: routes["$disconnect"].events)

    (auth,) = authorizer.events
    connection = auth["requestContext"]["connectionId"]
    assert len(connection) == 16 and connection.endswith("=")
    assert auth["type"] == "REQUEST"
    assert auth["methodArn"] == "arn:aws:execute-api:eu-west-1:123456789012:local/v1/$connect"
    assert auth["queryStringParameters"] == {"token": "good", "room": "music"}
    assert auth["multiValueQueryStringParameters"] == {"token": ["good"], "room": ["art", "music"]}
    assert auth["headers"]["Upgrade"] == "websocket"
    assert auth["stageVariables"] == {}
    assert auth["requestContext"]["eventType"] == "CONNECT"
    assert auth["requestContext"]["domainName"] == gateway.domain_name
    assert "authorizer" not in auth["requestContext"]

    (connect_event,) = routes["$connect"].events
    assert connect_event["requestContext"]["requestId"] == auth["requestContext"]["requestId"]
    assert connect_event["isBase64Encoded"] is False
    assert connect_event["queryStringParameters"]["token"] == "good"
    expected = {"userId": "alice", "admin": False, "level": 3, "principalId": "alice"}
    message_events = routes["subscribe"].events + routes["$default"].events
    for event in [connect_event, *message_events, *routes["$disconnect"].events]:
        context = event["requestContext"]
        assert context["authorizer"] == expected
        assert context["connectionId"] == connection
        assert context["connectedAt"] == auth["requestContext"]["connectedAt"]
        assert context["stage"] == "v1" and context["apiId"] == "local"
        assert context["identity"]["sourceIp"] == "127.0.0.1"
    for event in message_events:
        assert event["requestContext"]["eventType"] == "MESSAGE"
        assert event["requestContext"]["messageId"]
        assert event["isBase64Encoded"] is False
    (disconnect,) = routes["$disconnect"].events
    assert disconnect["requestContext"]["eventType"] == "DISCONNECT"
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000
    assert gateway.connection_ids() == []


def test_a_missing_token_is_401_without_calling_the_authorizer(
    start: Start, routes: dict[str, Function], authorizer: Function
) -> None:
    gateway = start()
    assert refused_status(gateway, "") == 401
    assert refused_status(gateway, "?token=") == 401
    assert authorizer.events == []
    assert routes["$connect"].events == []


@pytest.mark.parametrize(("token", "status"), [("stranger", 403), ("boom", 500), ("nested", 500)])
def test_a_refusing_or_failing_authorizer_refuses_the_upgrade(
    start: Start, routes: dict[str, Function], token: str, status: int
) -> None:
    gateway = start()
    assert refused_status(gateway, f"?token={token}") == status
    assert routes["$connect"].events == []
    assert gateway.connection_ids() == []


def test_a_wildcard_resource_in_the_policy_allows(start: Start, routes: dict[str, Function]) -> None:
    gateway = start()
    with client(gateway, "?token=wildcard"):
        wait_until(lambda: gateway.connection_ids())
    assert routes["$connect"].events[0]["requestContext"]["authorizer"] == {"principalId": "alice"}


def test_without_an_authorizer_anyone_connects_on_either_path(start: Start, routes: dict[str, Function]) -> None:
    gateway = start(auth=None, identity_source=None)
    with client(gateway, query="", path=""), client(gateway, query="", path="/v1"):
        wait_until(lambda: len(gateway.connection_ids()) == 2)
    assert all("authorizer" not in event["requestContext"] for event in routes["$connect"].events)
    assert "queryStringParameters" not in routes["$connect"].events[0]


@pytest.mark.parametrize(("answer", "status"), [({"statusCode": 401}, 401), (RuntimeError("no table"), 500)])
def test_the_connect_route_can_refuse_the_upgrade(
    start: Start, routes: dict[str, Function], answer: Any, status: int
) -> None:
    def connect_route(event: Event) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    routes["$connect"] = Function(connect_route)
    gateway = start()
    assert refused_status(gateway, "?token=good") == status
    assert gateway.connection_ids() == []
    assert routes["$disconnect"].events == []  # a connection that never opened is never disconnected


# -- messages ----------------------------------------------------------------------------


def test_messages_go_to_the_route_their_action_names_else_to_default(start: Start, routes: dict[str, Function]) -> None:
    gateway = start()
    subscribe = json.dumps({"action": "subscribe", "roomId": "art"})
    others = [json.dumps({"action": "dance"}), "not json", json.dumps({"action": "$connect"}), json.dumps([1])]
    with client(gateway) as ws:
        for text in [subscribe, *others]:
            ws.send(text)
        wait_until(lambda: len(routes["$default"].events) == len(others))
    assert routes["subscribe"].bodies() == [subscribe]
    assert routes["$default"].bodies() == others
    assert [e["requestContext"]["routeKey"] for e in routes["$default"].events] == ["$default"] * len(others)
    assert routes["subscribe"].events[0]["requestContext"]["routeKey"] == "subscribe"


@pytest.mark.parametrize(
    ("body", "route"),
    [
        ('{"meta": {"kind": "subscribe"}}', "subscribe"),
        ('{"meta": {"kind": "nope"}}', "$default"),
        ('{"meta": "subscribe"}', "$default"),
        ('{"action": "subscribe"}', "$default"),
        ("[" * 5000 + "]" * 5000, "$default"),
    ],
)
def test_a_dotted_selection_expression_walks_into_the_body(routes: dict[str, Function], body: str, route: str) -> None:
    config = GatewayConfig(route_selection_expression="$request.body.meta.kind")
    assert WebSocketGateway(routes, None, config).select_route(body) == route


def test_without_a_default_route_an_unknown_action_is_answered_forbidden(
    start: Start, routes: dict[str, Function]
) -> None:
    del routes["$default"]
    gateway = start()
    with client(gateway) as ws:
        ws.send(json.dumps({"action": "dance"}))
        answer = json.loads(ws.recv(timeout=5))
    assert answer["message"] == "Forbidden"
    assert answer["connectionId"] == connection_id(routes)
    assert answer["requestId"]


def test_a_failing_handler_is_answered_internal_server_error_and_the_connection_stays(
    start: Start, routes: dict[str, Function]
) -> None:
    def fail(event: Event) -> Any:
        raise RuntimeError("handler bug")

    routes["$default"] = Function(fail)
    gateway = start()
    with client(gateway) as ws:
        ws.send("first")
        assert json.loads(ws.recv(timeout=5))["message"] == "Internal server error"
        ws.send(json.dumps({"action": "subscribe"}))
        wait_until(lambda: routes["subscribe"].events)
        assert gateway.connection_ids() == [connection_id(routes)]


def test_a_handler_posts_back_to_its_own_connection_through_boto3(start: Start, routes: dict[str, Function]) -> None:
    def echo(event: Event) -> Any:
        # As the functions do: the callback URL from the event's domain and stage.
        context = event["requestContext"]
        api = boto3.session.Session().client(
            "apigatewaymanagementapi", endpoint_url=f"http://{context['domainName']}/{context['stage']}"
        )
        api.post_to_connection(ConnectionId=context["connectionId"], Data=b"echo: " + event["body"].encode())
        api.post_to_connection(ConnectionId=context["connectionId"], Data=b"\xff\x00binary")
        return {"statusCode": 200}

    routes["subscribe"] = Function(echo)
    gateway = start()
    with client(gateway) as ws:
        ws.send('{"action": "subscribe"}')
        assert ws.recv(timeout=5) == 'echo: {"action": "subscribe"}'
        assert ws.recv(timeout=5) == b"\xff\x00binary"


def test_one_connections_messages_are_handled_in_order_while_others_proceed(
    start: Start, routes: dict[str, Function]
) -> None:
    release = threading.Event()

    def slow_first(event: Event) -> Any:
        if event["body"] == "a0":
            release.wait(5)
        return {"statusCode": 200}

    routes["$default"] = Function(slow_first)
    gateway = start()
    with client(gateway) as a, client(gateway) as b:
        a.send("a0")
        a.send("a1")
        wait_until(lambda: routes["$default"].bodies() == ["a0"])
        b.send("b0")
        wait_until(lambda: "b0" in routes["$default"].bodies())
        assert "a1" not in routes["$default"].bodies()  # a0 still blocks its own connection
        release.set()
        wait_until(lambda: "a1" in routes["$default"].bodies())
    assert routes["$default"].bodies() == ["a0", "b0", "a1"]


def test_an_oversize_frame_closes_the_connection_with_1009(start: Start, routes: dict[str, Function]) -> None:
    gateway = start(frame_limit_bytes=1024)
    with client(gateway) as ws:
        ws.send("x" * 1024)
        wait_until(lambda: routes["$default"].events)
        ws.send("x" * 1025)
        assert closed_code(ws)[0] == 1009
    wait_until(lambda: routes["$disconnect"].events)
    assert routes["$default"].bodies() == ["x" * 1024]
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectStatusCode"] == 1009
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectReason"] == "Message too big"


# -- @connections ------------------------------------------------------------------------


def test_posting_to_an_unknown_connection_is_gone(start: Start) -> None:
    gateway = start()
    api = management(gateway)
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="ZtG1-cJHjoECF5A=", Data=b"hello")
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId="ZtG1-cJHjoECF5A=")
    with pytest.raises(api.exceptions.GoneException):
        api.delete_connection(ConnectionId="ZtG1-cJHjoECF5A=")


def test_posting_after_the_client_closed_is_gone_and_disconnect_ran_once(
    start: Start, routes: dict[str, Function]
) -> None:
    gateway = start()
    api = management(gateway)
    with client(gateway) as ws:
        api.post_to_connection(ConnectionId=connection_id(routes), Data=b"before")
        assert ws.recv(timeout=5) == "before"
        ws.close(code=1000, reason="bye")
    wait_until(lambda: routes["$disconnect"].events)
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id(routes), Data=b"after")
    (disconnect,) = routes["$disconnect"].events
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000
    assert disconnect["requestContext"]["disconnectReason"] == "bye"


def test_deleting_a_connection_closes_it_and_runs_disconnect(start: Start, routes: dict[str, Function]) -> None:
    gateway = start()
    api = management(gateway)
    with client(gateway) as ws:
        api.delete_connection(ConnectionId=connection_id(routes))
        assert closed_code(ws)[0] == 1000
    wait_until(lambda: routes["$disconnect"].events)
    assert len(routes["$disconnect"].events) == 1
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectStatusCode"] == 1000
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=connection_id(routes))


@pytest.mark.parametrize("path", ["", "/v1"])
def test_get_connection_describes_it(start: Start, routes: dict[str, Function], path: str) -> None:
    gateway = start()
    api = management(gateway, path)
    before = datetime.now(UTC) - timedelta(seconds=1)
    with client(gateway) as ws:
        first = api.get_connection(ConnectionId=connection_id(routes))
        time.sleep(0.01)  # so that the message's time differs from the connection's in milliseconds
        ws.send("activity")
        wait_until(lambda: routes["$default"].events)
        later = api.get_connection(ConnectionId=connection_id(routes))
    assert before < first["ConnectedAt"] <= datetime.now(UTC)
    assert first["LastActiveAt"] == first["ConnectedAt"]
    assert later["LastActiveAt"] > first["ConnectedAt"]
    assert first["Identity"]["SourceIp"] == "127.0.0.1"
    assert first["Identity"]["UserAgent"].startswith("Python/")


def test_a_post_over_the_message_limit_is_413(start: Start, routes: dict[str, Function]) -> None:
    gateway = start(message_limit_bytes=1024)
    api = management(gateway)
    with client(gateway) as ws:
        api.post_to_connection(ConnectionId=connection_id(routes), Data=b"y" * 1024)
        assert ws.recv(timeout=5) == "y" * 1024
        with pytest.raises(api.exceptions.PayloadTooLargeException) as refused:
            api.post_to_connection(ConnectionId=connection_id(routes), Data=b"y" * 1025)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


# -- limits and lost clients ---------------------------------------------------------------


def test_an_idle_connection_is_closed_going_away(start: Start, routes: dict[str, Function]) -> None:
    # 3 s of activity, one message every 0.25 s, each restarting a 2 s idle timer: with 0.1 s against
    # 0.5 s, one pause of the loaded test process (CI, 1 December 2026) let the timer fire mid-activity.
    gateway = start(idle_timeout_seconds=2.0)
    with client(gateway) as ws:
        for _ in range(12):
            ws.send("still here")
            time.sleep(0.25)
        assert gateway.connection_ids() == [connection_id(routes)]
        assert closed_code(ws) == (1001, "Going away")
    wait_until(lambda: routes["$disconnect"].events)
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectStatusCode"] == 1001
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectReason"] == "Going away"


def test_a_connection_is_closed_after_its_maximum_duration_however_active(
    start: Start, routes: dict[str, Function]
) -> None:
    gateway = start(max_connection_seconds=0.6)
    with client(gateway) as ws, pytest.raises(ConnectionClosed) as closed:
        send_until_closed(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    wait_until(lambda: routes["$disconnect"].events)
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectStatusCode"] == 1001


def test_a_dropped_tcp_connection_runs_disconnect_and_later_posts_are_gone(
    start: Start, routes: dict[str, Function]
) -> None:
    gateway = start()
    api = management(gateway)
    sock = raw_client(gateway)
    wait_until(lambda: gateway.connection_ids())
    # Linger 0: close() resets the connection, with no close frame and no FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    wait_until(lambda: routes["$disconnect"].events)
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectStatusCode"] == 1006
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id(routes), Data=b"anyone?")
    assert len(routes["$disconnect"].events) == 1


def test_a_client_that_stops_answering_is_found_by_the_heartbeat(start: Start, routes: dict[str, Function]) -> None:
    gateway = start(heartbeat_seconds=0.2)
    api = management(gateway)
    with raw_client(gateway):  # completes the handshake, then never reads nor answers a ping
        wait_until(lambda: routes["$disconnect"].events, timeout=3)
        with pytest.raises(api.exceptions.GoneException):
            api.post_to_connection(ConnectionId=connection_id(routes), Data=b"anyone?")
    assert routes["$disconnect"].events[0]["requestContext"]["disconnectStatusCode"] == 1006


def test_stopping_the_gateway_closes_every_connection_with_its_disconnect(
    start: Start, routes: dict[str, Function]
) -> None:
    gateway = start()
    with client(gateway) as first, client(gateway) as second:
        wait_until(lambda: len(gateway.connection_ids()) == 2)
        gateway.stop_thread()
        assert closed_code(first)[0] == 1001
        assert closed_code(second)[0] == 1001
    assert len(routes["$disconnect"].events) == 2


def test_stopping_waits_for_handlers_in_flight_and_still_answers_their_posts(
    start: Start, routes: dict[str, Function]
) -> None:
    go = threading.Event()
    outcomes: list[str] = []

    def post_late(event: Event) -> Any:
        go.wait(5)
        try:
            management(gateway).post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b"late")
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcomes.append(type(error).__name__)
        return {"statusCode": 200}

    routes["$default"] = Function(post_late)
    gateway = start()
    with client(gateway) as ws:
        ws.send("work")
        wait_until(lambda: routes["$default"].events)
        stopping = threading.Thread(target=gateway.stop_thread)
        stopping.start()
        wait_until(lambda: not gateway.connection_ids())
        go.set()
        stopping.join(timeout=5)
        assert closed_code(ws)[0] == 1001
    assert not stopping.is_alive()
    assert outcomes == ["GoneException"]  # the server still answered: not a connection error
    assert len(routes["$disconnect"].events) == 1
