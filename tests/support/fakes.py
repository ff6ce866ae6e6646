"""Fakes for the @connections API: real botocore exceptions, recorded calls, no network."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import boto3


def management_client() -> Any:
    """A real client (never called over the network) whose exception classes the fakes raise."""
    return boto3.client("apigatewaymanagementapi", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")


class RecordingApi:
    """Records every post; connections in ``gone`` answer 410, those in ``throttled`` answer 429 n times,
    those in ``refused`` 403 (an IAM policy or API id that does not match)."""

    def __init__(self, gone: set[str] | None = None, throttled: dict[str, int] | None = None) -> None:
        self.exceptions = management_client().exceptions
        self.gone = set(gone or ())
        self.throttled = dict(throttled or {})
        self.refused: set[str] = set()
        self.posts: list[tuple[str, bytes]] = []
        self.received: dict[str, list[bytes]] = defaultdict(list)
        self.deleted: list[str] = []
        self._lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        with self._lock:
            self.posts.append((ConnectionId, Data))
            if ConnectionId in self.gone:
                raise self.exceptions.GoneException(
                    {"Error": {"Code": "GoneException", "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 410}},
                    "PostToConnection",
                )
            if ConnectionId in self.refused:
                raise self.exceptions.ForbiddenException(
                    {
                        "Error": {"Code": "ForbiddenException", "Message": ""},
                        "ResponseMetadata": {"HTTPStatusCode": 403},
                    },
                    "PostToConnection",
                )
            if self.throttled.get(ConnectionId, 0) > 0:
                self.throttled[ConnectionId] -= 1
                raise self.exceptions.LimitExceededException(
                    {
                        "Error": {"Code": "LimitExceededException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 429},
                    },
                    "PostToConnection",
                )
            self.received[ConnectionId].append(Data)
        return {}

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        with self._lock:
            self.deleted.append(ConnectionId)
            self.gone.add(ConnectionId)
        return {}
