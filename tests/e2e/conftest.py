"""End-to-end tests start the local stack and drive it only through its public surfaces:
boto3 on its AWS endpoint, real WebSocket clients, the `roomcast` CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from support.local_stack import RunningStack, start_up


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One stack for the session: each test uses rooms of its own."""
    running = start_up(tmp_path_factory.mktemp("stack"))
    yield running
    running.up.stop()
    assert running.up.process is not None and running.up.process.returncode == 0, running.up.log.read_text()


@pytest.fixture(autouse=True)
def _point_at(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 in the test process talks to the stack under test."""
    if "stack" in request.fixturenames:
        running: RunningStack = request.getfixturevalue("stack")
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.aws_endpoint_url)
        monkeypatch.setenv("ROOMCAST_LOCAL_STATE", str(running.state_file))


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"
