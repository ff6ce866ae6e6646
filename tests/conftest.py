"""Fixtures every test layer shares: a fake AWS identity, so that nothing can reach a real account."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Metrics

from roomcast_local.invoke import reset_caches

_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    # moto's in-process streams need it with current botocore.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "roomcast-test",
    "POWERTOOLS_METRICS_NAMESPACE": "RoomcastTest",
    "POWERTOOLS_DEV": "false",
}


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key == "AWS_PROFILE":
            monkeypatch.delenv(key)
    # Cached clients remember the endpoint of the test that built them.
    reset_caches()


@pytest.fixture(autouse=True)
def _metrics_per_test() -> Iterator[None]:
    """Powertools keeps every Metrics' values in one set, published when a metric has 100 values: across
    tests, by whichever module's instance adds the 100th, made at import, maybe before the namespace was set."""
    yield
    Metrics().clear_metrics()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("roomcast")
    group.addoption(
        "--ddb-backends",
        default="moto,moto-server,moto-fast",
        help="comma-separated backends for the integration suite: moto (in-process), moto-server (real HTTP), "
        "moto-fast (the local stack's patched moto server, real HTTP)",
    )
    group.addoption(
        "--ddb-endpoint",
        default=None,
        help="also run the integration suite with DynamoDB at this URL (DynamoDB Local, for example)",
    )
