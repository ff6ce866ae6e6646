"""The local stack's AWS endpoint (moto's server behind roomcast_local's front) in this process, on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from roomcast_local.aws_endpoint import AwsEndpoint


@contextmanager
def local_endpoint(monkeypatch: pytest.MonkeyPatch, region: str) -> Iterator[str]:
    """Its URL; boto3 clients made meanwhile sign with dummy credentials, and DynamoDB Streams works."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    server = AwsEndpoint("127.0.0.1", 0, region)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
