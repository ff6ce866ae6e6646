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


class ConnectionsApi:
    """Posts frames to WebSocket connections (the use cases' ``Poster``)."""

    def __init__(
        self,
        client: Any | None = None,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        endpoint_url: str = "",
        pool_size: int = 10,
    ) -> None:
        self._client = client
        self.endpoint_url = endpoint_url
        self.pool_size = pool_size
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.sleep = sleep
        self.attempts = 0  # posts sent, retries included: the figure benchmarks and tests count
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """Built on first post: $connect and $disconnect never post, and have no callback URL."""
        if self._client is None:
            if not self.endpoint_url:
                raise RuntimeError("WEBSOCKET_CALLBACK_URL is not set: this function cannot post to connections")
            self._client = aws_clients.management_api(self.endpoint_url, self.pool_size)
        return self._client

    def post(self, connection_id: str, data: bytes) -> None:
        """One frame to one connection; throttling and 5xx are retried with full-jitter backoff."""
        for attempt in range(1, self.max_attempts + 1):
            with self._lock:
                self.attempts += 1
            try:
                self.client.post_to_connection(ConnectionId=connection_id, Data=data)
                return
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                # GoneException is a ClientError: it must be told apart before any generic handling.
                if code == "GoneException" or status == 410:
                    raise ConnectionGone(f"connection {connection_id} is gone") from error
                if code not in _THROTTLED and code not in _SERVER_ERRORS and status not in {429, 500, 502, 503}:
                    raise PostRefused(f"post to {connection_id} refused: {code or status}") from error
                failure: Exception = error
            except BotoCoreError as error:
                failure = error
            if attempt < self.max_attempts:
                self.sleep(random.uniform(0, self.base_delay * 2**attempt))
        raise TransientError(f"post to {connection_id} still failing after {self.max_attempts} attempts: {failure}")
