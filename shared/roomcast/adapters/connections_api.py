"""Every call to API Gateway's @connections API, and the only place that sees its ClientError."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from roomcast.adapters import aws_clients
from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError

_THROTTLED = frozenset({"LimitExceededException", "TooManyRequestsException", "ThrottlingException"})
_SERVER_ERRORS = frozenset({"InternalServerErrorException", "ServiceUnavailableException", "InternalFailure"})


class RetryingPoster:
    """The retry loop every poster shares: an attempt either delivers, or raises what no retry changes
    (ConnectionGone, PostRefused), or says why it may succeed later; those are retried with full-jitter
    backoff, then raised as TransientError."""

    def __init__(self, max_attempts: int, base_delay: float, sleep: Callable[[float], None]) -> None:
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.attempts = 0  # posts sent, retries included: the figure benchmarks and tests count
        self._lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> None:
        """One frame to one connection."""
        failure = ""
        for attempt in range(1, self.max_attempts + 1):
            with self._lock:
                self.attempts += 1
            failure = self._attempt(connection_id, data) or ""
            if not failure:
                return
            if attempt < self.max_attempts:
                self.sleep(random.uniform(0, self.base_delay * 2**attempt))
        raise TransientError(f"post to {connection_id} still failing after {self.max_attempts} attempts: {failure}")

    def _attempt(self, connection_id: str, data: bytes) -> str | None:
        """None when delivered; why it failed when a retry may help."""
        raise NotImplementedError


class ConnectionsApi(RetryingPoster):
    """Posts frames to WebSocket connections (the use cases' ``Poster``) through boto3's client."""

    def __init__(
        self,
        client: Any | None = None,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        endpoint_url: str = "",
        pool_size: int = 10,
    ) -> None:
        super().__init__(max_attempts, base_delay, sleep)
        self._client = client
        self.endpoint_url = endpoint_url
        self.pool_size = pool_size

    @property
    def client(self) -> Any:
        """Built on first post: $connect and $disconnect never post, and have no callback URL."""
        if self._client is None:
            if not self.endpoint_url:
                raise RuntimeError("WEBSOCKET_CALLBACK_URL is not set: this function cannot post to connections")
            self._client = aws_clients.management_api(self.endpoint_url, self.pool_size)
        return self._client

    def _attempt(self, connection_id: str, data: bytes) -> str | None:
        """Throttling and 5xx may pass on a retry; 410 is gone; anything else is refused."""
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
            return None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            # GoneException is a ClientError: it must be told apart before any generic handling.
            if code == "GoneException" or status == 410:
                raise ConnectionGone(f"connection {connection_id} is gone") from error
            if code not in _THROTTLED and code not in _SERVER_ERRORS and status not in {429, 500, 502, 503}:
                raise PostRefused(f"post to {connection_id} refused: {code or status}") from error
            return str(error)
        except BotoCoreError as error:
            return str(error)
