"""@connections posts without botocore's request pipeline: botocore's own SigV4 signer, keep-alive connections.

botocore's client spends 2 to 4 ms of CPU per PostToConnection (parameter validation, the event
hooks, serialising, endpoint resolution, parsing the answer), which bounds one invocation to a few
hundred posts per second. A post is one signed ``POST /{stage}/@connections/{id}`` with the frame as
its body, so this poster builds exactly that: the path encoded as botocore's serializer encodes it,
signed by ``botocore.auth.SigV4Auth`` (service ``execute-api``) with the session's credentials, and
sent on keep-alive ``http.client`` connections, as many kept as the fan-out has threads (urllib3's pool
cost twice the CPU of the request itself, measured in bench/fanout.py's way).

Per post only the path, the body and the time change, so what the signer would otherwise redo each time
is kept (profiled in bench/fanout.py's cpu-per-post way, about 0.45 ms a post before): the signing key's
four HMACs (the same all day), the email.message-based headers of ``AWSRequest``/``HTTPHeaders`` (and
``AWSRequest.body``, which prepares the whole request on each read); and the request goes out as one
``sendall`` (``http.client`` sends its headers and its body apart), its answer read by llhttp
(adapters/http_answer.py). Same answers as
``ConnectionsApi``: 410 -> ConnectionGone, 429/5xx and network errors -> retried with full-jitter
backoff, then TransientError; any other status (403, 400, 413) -> PostRefused.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.credentials import ReadOnlyCredentials
from botocore.utils import percent_encode

from roomcast.adapters.connections_api import RetryingPoster
from roomcast.adapters.http_answer import read_answer
from roomcast.domain.errors import ConnectionGone, PostRefused

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.")


class LeanPoster(RetryingPoster):
    """Posts frames to WebSocket connections (the use cases' ``Poster``), thread-safe."""

    def __init__(
        self,
        endpoint_url: str,
        pool_size: int = 10,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        session: Any | None = None,
    ) -> None:
        super().__init__(max_attempts, base_delay, sleep)
        if not endpoint_url:
            raise RuntimeError("WEBSOCKET_CALLBACK_URL is not set: this function cannot post to connections")
        self.endpoint_url = endpoint_url.rstrip("/")
        parts = urlsplit(self.endpoint_url)
        self._origin, self._path = f"{parts.scheme}://{parts.netloc}", parts.path
        default_port = {"http": 80, "https": 443}.get(parts.scheme)
        self._host = (parts.hostname or "") if parts.port in (None, default_port) else f"{parts.hostname}:{parts.port}"
        self.pool_size = pool_size
        self._session = session
        self._connections = KeepAlive(parts.scheme, parts.netloc, pool_size)
        self._credentials: Any = None
        self._signer: tuple[ReadOnlyCredentials, SigV4Auth] | None = None

    def _attempt(self, connection_id: str, data: bytes) -> str | None:
        """Throttling, 5xx and dropped connections may pass on a retry; 410 is gone; anything else refused."""
        try:
            status, error_type = self._send(f"{self._path}/@connections/{percent_encode(connection_id)}", data)
        except (OSError, http.client.HTTPException) as error:
            return f"{type(error).__name__}: {error}"
        if status < 300:
            return None
        if status == 410:
            raise ConnectionGone(f"connection {connection_id} is gone")
        if status not in RETRIED_STATUSES:
            raise PostRefused(f"post to {connection_id} refused: {status} {error_type}".rstrip())
        return f"{status} {error_type}".rstrip()

    def _send(self, path: str, data: bytes) -> tuple[int, str]:
        # Host given, as the signer would derive it from the URL (twice per request otherwise).
        request = _Request(self._origin + path, data, {"Host": self._host})
        self._current_signer().add_auth(request)
        return self._connections.post(path, data, request.headers)

    def _current_signer(self) -> SigV4Auth:
        """A signer over the current frozen credentials: the session's refreshable credentials renew
        themselves shortly before they expire, and a new signer follows them."""
        if self._credentials is None:
            session = self._session or boto3.Session()
            self._credentials = session.get_credentials()
            if self._credentials is None:
                raise PostRefused("no AWS credentials to sign @connections posts with")
        frozen = self._credentials.get_frozen_credentials()
        signer = self._signer
        if signer is None or signer[0] != frozen:
            signer = (frozen, _KeptSigV4Auth(frozen, "execute-api", self._region()))
            self._signer = signer
        return signer[1]

    def _region(self) -> str:
        """The API's own region (its host names it), else the session's."""
        found = _REGION_IN_HOST.search(urlsplit(self.endpoint_url).netloc)
        if found:
            return found.group(1)
        session = self._session or boto3.Session()
        return session.region_name or "us-east-1"


class _Request:
    """What ``SigV4Auth.add_auth`` reads and writes of a request: headers in a plain dict (the names are
    ours, spelled one way) and the body as bytes."""

    __slots__ = ("body", "context", "headers", "method", "params", "url")

    def __init__(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        self.method, self.url, self.body, self.headers = "POST", url, body, headers
        self.context: dict[str, Any] = {}
        self.params: dict[str, str] = {}


class _SignedHeaders(dict[str, str]):
    """The headers to sign as ``SigV4Auth.canonical_headers`` reads them (``get_all``), one value each."""

    def get_all(self, name: str) -> list[str]:
        return [self[name]]


class _KeptSigV4Auth(SigV4Auth):
    """botocore's SigV4 signer, unchanged but for what it would recompute on every post."""

    def __init__(self, credentials: ReadOnlyCredentials, service_name: str, region_name: str) -> None:
        super().__init__(credentials, service_name, region_name)
        self._derived: dict[tuple[bytes, str], bytes] = {}

    def _sign(self, key: bytes, msg: str, hex: bool = False) -> Any:
        if hex:
            return super()._sign(key, msg, hex=True)
        # Only the signing key is derived without hex: date, region, service and "aws4_request" in turn,
        # the same four HMACs for a whole day. A pure function of its arguments, so kept as computed.
        derived = self._derived.get((key, msg))
        if derived is None:
            if len(self._derived) > 64:  # a new day's chain; the old days' are never asked again
                self._derived.clear()
            derived = self._derived[(key, msg)] = super()._sign(key, msg)
        return derived

    def headers_to_sign(self, request: Any) -> _SignedHeaders:
        return _SignedHeaders(
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() not in SIGNED_HEADERS_BLACKLIST
        )


class KeepAlive:
    """Keep-alive HTTP/1.1 connections to one host: each thread takes an idle one or opens one, and
    gives it back after reading the whole answer; at most ``size`` are kept idle."""

    def __init__(self, scheme: str, netloc: str, size: int, timeout: float = 5.0) -> None:
        self._factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        self._netloc = netloc
        self._timeout = timeout
        self._size = size
        # A list under a plain lock: queue.LifoQueue's conditions cost two Python-level lock entries and
        # two notifies a post, for waiting that never happens (a thread finding none idle opens one).
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """The answer's status and error type (x-amzn-ErrorType). A kept connection the server has
        closed meanwhile fails before any answer: the request goes once more on a new connection."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            return self._exchange(self._new(), path, body, headers)
        try:
            return self._exchange(connection, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            return self._exchange(self._new(), path, body, headers)

    def _new(self) -> http.client.HTTPConnection:
        connection = self._factory(self._netloc, timeout=self._timeout)
        connection.connect()
        return connection

    def _exchange(
        self, connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        # One write for the whole request: the path is percent-encoded, the header values are the signer's.
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        try:
            connection.sock.sendall(request)
            status, error_type, keep_alive = read_answer(connection.sock)
        except BaseException:
            connection.close()
            raise
        kept = False
        if keep_alive:
            with self._lock:
                kept = len(self._idle) < self._size
                if kept:
                    self._idle.append(connection)
        if not kept:
            connection.close()
        return status, error_type
