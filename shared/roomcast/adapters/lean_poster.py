"""@connections posts without botocore's request pipeline: botocore's own SigV4 signer, urllib3's pool.

botocore's client spends 2 to 4 ms of CPU per PostToConnection (parameter validation, the event
hooks, serialising, endpoint resolution, parsing the answer), which bounds one invocation to a few
hundred posts per second. A post is one signed ``POST /{stage}/@connections/{id}`` with the frame as
its body, so this poster builds exactly that: the path encoded as botocore's serializer encodes it,
signed by ``botocore.auth.SigV4Auth`` (service ``execute-api``) with the session's credentials, and
sent on a keep-alive ``urllib3`` pool sized to the fan-out's threads. Same answers as
``ConnectionsApi``: 410 -> ConnectionGone, 429/5xx and network errors -> retried with full-jitter
backoff, then TransientError; any other status (403, 400, 413) -> PostRefused.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.utils import percent_encode

from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.")


class LeanPoster:
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
        if not endpoint_url:
            raise RuntimeError("WEBSOCKET_CALLBACK_URL is not set: this function cannot post to connections")
        self.endpoint_url = endpoint_url.rstrip("/")
        parts = urlsplit(self.endpoint_url)
        self._origin, self._path = f"{parts.scheme}://{parts.netloc}", parts.path
        self.pool_size = pool_size
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.attempts = 0  # posts sent, retries included: the figure benchmarks and tests count
        self._session = session
        self._lock = threading.Lock()
        self._pool: Any = None
        self._credentials: Any = None
        self._signer: tuple[ReadOnlyCredentials, SigV4Auth] | None = None

    def post(self, connection_id: str, data: bytes) -> None:
        """One frame to one connection; throttling, 5xx and dropped connections are retried with backoff."""
        path = f"{self._path}/@connections/{percent_encode(connection_id)}"
        failure = ""
        for attempt in range(1, self.max_attempts + 1):
            with self._lock:
                self.attempts += 1
            try:
                response = self._send(path, data)
            except urllib3.exceptions.HTTPError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status < 300:
                    return
                if response.status == 410:
                    raise ConnectionGone(f"connection {connection_id} is gone")
                error_type = response.headers.get("x-amzn-ErrorType", "").split(":")[0]
                if response.status not in RETRIED_STATUSES:
                    raise PostRefused(f"post to {connection_id} refused: {response.status} {error_type}".rstrip())
                failure = f"{response.status} {error_type}".rstrip()
            if attempt < self.max_attempts:
                self.sleep(random.uniform(0, self.base_delay * 2**attempt))
        raise TransientError(f"post to {connection_id} still failing after {self.max_attempts} attempts: {failure}")

    def _send(self, path: str, data: bytes) -> Any:
        request = AWSRequest(method="POST", url=self._origin + path, data=data)
        self._current_signer().add_auth(request)
        # The body is read whole (a post's answer is empty or a short error), so the connection goes
        # back to the pool for the next post.
        return self._connection_pool().urlopen(
            "POST", path, body=data, headers=dict(request.headers.items()), retries=False, redirect=False
        )

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
            signer = (frozen, SigV4Auth(frozen, "execute-api", self._region()))
            self._signer = signer
        return signer[1]

    def _region(self) -> str:
        """The API's own region (its host names it), else the session's."""
        found = _REGION_IN_HOST.search(urlsplit(self.endpoint_url).netloc)
        if found:
            return found.group(1)
        session = self._session or boto3.Session()
        return session.region_name or "us-east-1"

    def _connection_pool(self) -> Any:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = urllib3.connection_from_url(
                        self.endpoint_url,
                        maxsize=self.pool_size,
                        timeout=urllib3.Timeout(connect=2, read=5),
                        retries=False,
                    )
        return self._pool
