"""The addresses sam-env.json gives a Lambda container."""

from __future__ import annotations

import pytest

from roomcast_local.sam_env import container_url


@pytest.mark.parametrize(
    ("local", "container"),
    [
        ("http://127.0.0.1:4566", "http://host.docker.internal:4566"),
        ("http://0.0.0.0:3001/@connections", "http://host.docker.internal:3001/@connections"),
        ("ws://localhost:3001/v1", "ws://host.docker.internal:3001/v1"),
        ("http://[::1]:8000", "http://host.docker.internal:8000"),
    ],
)
def test_a_local_address_becomes_the_docker_host(local: str, container: str) -> None:
    assert container_url(local) == container


@pytest.mark.parametrize(
    "elsewhere",
    ["http://dynamodb.internal:8000", "http://127.0.0.10:4566", "roomcast-ChatTable", "https://example.com/127.0.0.1"],
)
def test_anything_else_is_left_alone(elsewhere: str) -> None:
    assert container_url(elsewhere) == elsewhere
