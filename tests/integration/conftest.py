"""One integration suite, several backends: every test that takes ``stack`` runs once on each.

- ``moto``: moto's in-process mock (fast, no sockets);
- ``moto-server``: moto's server on a loopback port, so every call is real HTTP;
- ``moto-fast``: the fast local DynamoDB (roomcast_local/fast_moto.py), as the local stack runs
  it: ``python -m roomcast_local aws`` in a process of its own, over real HTTP;
- ``endpoint``: with ``--ddb-endpoint URL``, DynamoDB at that URL (Amazon's DynamoDB
  Local, say) while SQS stays on moto's server.
"""

from __future__ import annotations

import functools
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from roomcast.adapters import aws_clients
from roomcast_local import moto_fifo, moto_tokens
from roomcast_local.processes import free_port
from support.fakes import RecordingApi
from support.local_stack import StackProcess, stack_environment
from support.stack import Stack


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("--ddb-backends").split(",") if b.strip()]
        if metafunc.config.getoption("--ddb-endpoint"):
            backends.append("endpoint")
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    moto_tokens.apply()  # a botocore retry after a read timeout is safe, as on AWS
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def moto_fast_server() -> Iterator[str]:
    """`python -m roomcast_local aws`: moto's server with the fast local DynamoDB applied."""
    with tempfile.TemporaryDirectory(prefix="roomcast-moto-fast-") as directory:
        port = free_port()
        environment = stack_environment(Path(directory), port)
        environment.pop("ROOMCAST_FAST_MOTO", None)
        server = StackProcess(["aws", "--aws-port", str(port)], Path(directory) / "aws.log", environment)
        server.start("AWS endpoint ready")
        yield f"http://127.0.0.1:{port}"
        server.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name: str = request.param
    # FIFO group order as SQS keeps it, in this process's moto as in the local stack's.
    moto_fifo.apply()
    moto_tokens.apply()
    if name == "moto":
        with mock_aws():
            yield name
        return
    url = request.getfixturevalue("moto_fast_server" if name == "moto-fast" else "moto_server")
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    if name == "endpoint":
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", request.config.getoption("--ddb-endpoint"))
    elif name not in ("moto-server", "moto-fast"):
        raise pytest.UsageError(f"unknown backend {name!r}")
    yield name


@pytest.fixture
def stack(backend: str) -> Iterator[Stack]:
    provisioned = Stack.provision(backend)
    yield provisioned
    provisioned.teardown()


@pytest.fixture
def connections_api(monkeypatch: pytest.MonkeyPatch) -> RecordingApi:
    """The functions' @connections client, whatever WEBSOCKET_CALLBACK_URL says: posts are recorded."""
    recording = RecordingApi()
    monkeypatch.setenv("POSTER_CLIENT", "botocore")  # the client this fixture records through
    monkeypatch.setattr(aws_clients, "management_api", functools.cache(lambda _url, _pool=10: recording))
    return recording
