"""The lean poster over real HTTP: signed as botocore signs, pooled, and with ConnectionsApi's answers.

A small HTTP/1.1 server answers each connection id from a script (410, 429, 403, 500...) and checks
every request's SigV4 signature with botocore's own signer; the local gateway carries real frames to
real WebSocket clients.
"""

from __future__ import annotations

import datetime
import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials, RefreshableCredentials
from websockets.sync.client import connect

from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.lean_poster import LeanPoster
from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

pytestmark = pytest.mark.integration

SECRETS = {"testing": "testing"}  # access key -> secret key the server knows (tests/conftest.py's identity)


@dataclass
class Seen:
    path: str
    body: bytes
    access_key: str
    signed: bool  # the Authorization header's signature is the one botocore computes for this request
    peer: tuple[str, int]


class Script:
    """What the server answers, per connection id: statuses in turn, then 200."""

    def __init__(self) -> None:
        self.answers: dict[str, list[int]] = defaultdict(list)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.hang_up_after: set[str] = set()  # answered, then the server closes the kept connection

    def answer(self, connection_id: str) -> int:
        with self.lock:
            queued = self.answers[connection_id]
            return queued.pop(0) if queued else 200


def signature_holds(method: str, url: str, headers: Any, body: bytes) -> tuple[str, bool]:
    """Recomputes the request's SigV4 signature with botocore's signer, from what arrived."""
    authorization = headers.get("Authorization", "")
    credential = authorization.split("Credential=")[1].split(",")[0] if "Credential=" in authorization else ""
    access_key, _date, region, service, _ = (credential.split("/") + [""] * 5)[:5]
    request = AWSRequest(method=method, url=url, data=body)
    for name in ("X-Amz-Date", "X-Amz-Security-Token"):
        if headers.get(name):
            request.headers[name] = headers[name]
    request.context["timestamp"] = headers.get("X-Amz-Date", "")
    credentials = ReadOnlyCredentials(access_key, SECRETS.get(access_key, "?"), headers.get("X-Amz-Security-Token"))
    signer = SigV4Auth(credentials, service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return access_key, authorization.endswith(f"Signature={expected}")


def scripted_server(script: Script) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = f"http://{self.headers['Host']}{self.path}"
            access_key, signed = signature_holds("POST", url, self.headers, body)
            with script.lock:
                script.seen.append(Seen(self.path, body, access_key, signed, self.client_address))
            status = script.answer(self.path.rsplit("/", 1)[-1])
            error_type = {410: "GoneException", 429: "LimitExceededException", 403: "ForbiddenException"}
            payload = b"" if status == 200 else b'{"message": "scripted"}'
            self.send_response(status)
            if status != 200:
                self.send_header("x-amzn-ErrorType", error_type.get(status, "InternalServerErrorException"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if self.path.rsplit("/", 1)[-1] in script.hang_up_after:
                self.close_connection = True  # without saying so: the client finds out on its next request

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def endpoint(script: Script) -> Iterator[str]:
    server = scripted_server(script)
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not so after {timeout} s"
        time.sleep(0.01)


def lean(endpoint: str, **options: Any) -> LeanPoster:
    return LeanPoster(endpoint, sleep=lambda _: None, **options)


def test_a_post_is_signed_and_addressed_as_botocores_client_does(endpoint: str, script: Script) -> None:
    # An id with characters the path must encode, as API Gateway's ids end in "="
    connection = "ZtG1-cJHjoECF5A="
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))

    client.post_to_connection(ConnectionId=connection, Data=b"from botocore")
    lean(endpoint).post(connection, b"from lean")

    botocore_seen, lean_seen = script.seen
    assert botocore_seen.signed, "the server's check must accept botocore's own request"
    assert lean_seen.path == botocore_seen.path == "/v1/@connections/ZtG1-cJHjoECF5A%3D"
    assert lean_seen.body == b"from lean"
    assert lean_seen.signed and lean_seen.access_key == "testing"


def test_410_is_connection_gone_at_once(endpoint: str, script: Script) -> None:
    script.answers["c1"] = [410]
    poster = lean(endpoint)

    with pytest.raises(ConnectionGone):
        poster.post("c1", b"x")

    assert poster.attempts == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_throttling_and_server_errors_are_retried_until_they_pass(endpoint: str, script: Script, status: int) -> None:
    script.answers["c1"] = [status, status]
    delays: list[float] = []
    poster = LeanPoster(endpoint, max_attempts=4, base_delay=0.05, sleep=delays.append)

    poster.post("c1", b"x")

    assert poster.attempts == 3
    # full jitter: each wait is drawn from [0, base * 2**attempt]
    assert len(delays) == 2 and 0 <= delays[0] <= 0.1 and 0 <= delays[1] <= 0.2


def test_throttling_that_outlasts_the_attempts_is_transient(endpoint: str, script: Script) -> None:
    script.answers["c1"] = [429] * 10
    poster = lean(endpoint, max_attempts=3)

    with pytest.raises(TransientError, match="429 LimitExceededException"):
        poster.post("c1", b"x")

    assert poster.attempts == 3


@pytest.mark.parametrize("status", [400, 403, 413])
def test_a_refusal_is_never_retried(endpoint: str, script: Script, status: int) -> None:
    script.answers["c1"] = [status]
    poster = lean(endpoint)

    with pytest.raises(PostRefused, match=str(status)):
        poster.post("c1", b"x")

    assert poster.attempts == 1


def test_a_server_that_is_not_there_is_transient() -> None:
    poster = lean("http://127.0.0.1:9/v1", max_attempts=2)

    with pytest.raises(TransientError, match="after 2 attempts"):
        poster.post("c1", b"x")


def test_posts_reuse_the_pools_connections(endpoint: str, script: Script) -> None:
    poster = lean(endpoint, pool_size=4)

    threads = [threading.Thread(target=lambda n=n: [poster.post(f"c{n}", b"x") for _ in range(25)]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(script.seen) == 100 and all(seen.signed for seen in script.seen)
    assert len({seen.peer for seen in script.seen}) <= 4  # keep-alive: at most one connection per thread


def test_a_kept_connection_the_server_closed_is_replaced_without_a_retry(endpoint: str, script: Script) -> None:
    script.hang_up_after.add("c1")
    poster = lean(endpoint, pool_size=1)

    poster.post("c1", b"x")
    poster.post("c2", b"y")

    assert poster.attempts == 2
    assert [seen.body for seen in script.seen] == [b"x", b"y"]
    assert script.seen[0].peer != script.seen[1].peer


def test_expiring_credentials_are_refreshed_and_signed_with(endpoint: str, script: Script) -> None:
    # Credentials that always expire within botocore's refresh window: each use renews them
    keys = itertools.count(1)

    def renew() -> dict[str, str]:
        key = f"AKIDRENEWED{next(keys)}"
        SECRETS[key] = f"secret-{key}"
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=11)
        return {"access_key": key, "secret_key": f"secret-{key}", "token": "t", "expiry_time": expiry.isoformat()}

    credentials = RefreshableCredentials.create_from_metadata(renew(), renew, "test")
    session = boto3.Session(region_name="eu-west-1")
    session._session._credentials = credentials  # the session botocore would hand an assumed role
    poster = lean(endpoint, session=session)

    poster.post("c1", b"x")
    poster.post("c1", b"y")

    first, second = script.seen
    assert first.signed and second.signed
    assert first.access_key != second.access_key
    assert {first.access_key, second.access_key} <= set(SECRETS)


def test_frames_reach_real_sockets_through_the_local_gateway() -> None:
    gateway = WebSocketGateway({"$connect": lambda _e: {"statusCode": 200}}, None, GatewayConfig(port=0))
    gateway.start_in_thread()
    try:
        with connect(f"{gateway.ws_url}/v1", open_timeout=10, proxy=None) as alice:
            wait_until(lambda: len(gateway.connection_ids()) == 1)
            (connection,) = gateway.connection_ids()
            poster = lean(gateway.callback_url + "/v1")
            poster.post(connection, b'{"type": "hello"}')
            assert alice.recv(timeout=30) == '{"type": "hello"}'
            alice.close()
            wait_until(lambda: not gateway.connection_ids())  # the close completes
            with pytest.raises(ConnectionGone):
                poster.post(connection, b"{}")
    finally:
        gateway.stop_thread()


def test_the_botocore_poster_keeps_the_same_answers(endpoint: str, script: Script) -> None:
    script.answers.update({"gone": [410], "busy": [429], "no": [403]})
    poster = ConnectionsApi(max_attempts=2, sleep=lambda _: None, endpoint_url=endpoint)

    poster.post("busy", b"x")
    with pytest.raises(ConnectionGone):
        poster.post("gone", b"x")
    with pytest.raises(PostRefused):
        poster.post("no", b"x")

    assert poster.attempts == 4
