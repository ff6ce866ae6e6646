"""What `up` publishes about itself: the region, the state file ROOMCAST_LOCAL_STATE names, sam-env.json."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from roomcast.domain.ordering import fifo_message
from roomcast.models import CreateChatRoom
from roomcast_local import template
from roomcast_local.processes import free_port
from roomcast_local.state import LocalState, load_state
from support.local_stack import StackProcess, stack_environment

pytestmark = pytest.mark.e2e

ROOMCAST = str(Path(sys.executable).with_name("roomcast"))
REGION = "eu-west-1"  # samconfig.toml's


class Started:
    def __init__(self, root: Path) -> None:
        self.state_file = root / "clients" / "named-state.json"  # another folder, another name
        self.state_dir = root / "runtime"
        self.aws_port, self.ws_port = free_port(), free_port()
        environment = stack_environment(root, self.aws_port)
        # A shell whose default region is not the stack's: the stack keeps samconfig.toml's.
        environment.update({"ROOMCAST_LOCAL_STATE": str(self.state_file), "AWS_DEFAULT_REGION": "us-east-1"})
        self.environment = environment
        arguments = ["up", "--host", "0.0.0.0", "--aws-port", str(self.aws_port), "--ws-port", str(self.ws_port)]
        self.up = StackProcess([*arguments, "--state-dir", str(self.state_dir)], root / "up.log", environment)

    @property
    def state(self) -> LocalState:
        state = load_state(self.state_file)
        assert state is not None, f"no state at {self.state_file}"
        return state

    def client(self, service: str, region: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.state.aws_endpoint_url,
            region_name=region,
            aws_access_key_id="producer",
            aws_secret_access_key="producer",
        )


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    running = Started(tmp_path_factory.mktemp("config"))
    running.up.start("Ctrl-C to stop.")
    yield running
    running.up.stop()
    assert running.up.process is not None and running.up.process.returncode == 0, running.up.log.read_text()
    assert not running.state_file.exists(), "a stopped stack withdraws its state"
    assert not (running.state_dir / "sam-env.json").exists()


def banner(started: Started) -> list[str]:
    lines = started.up.log.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("roomcast local stack ready"))
    return lines[first : lines.index("Ctrl-C to stop.")]


def test_the_banner_prints_the_region_and_addresses_clients_can_use(started: Started) -> None:
    lines = banner(started)

    assert any(re.fullmatch(rf"\s+region\s+{REGION}", line) for line in lines), lines
    assert not any("0.0.0.0" in line for line in lines), "bound to every interface, reached on loopback"
    assert f"http://127.0.0.1:{started.aws_port}" in "\n".join(lines)


def test_up_writes_exactly_the_state_file_roomcast_local_state_names(started: Started) -> None:
    state = started.state

    assert state.region == REGION
    assert state.aws_endpoint_url == f"http://127.0.0.1:{started.aws_port}"
    assert f":{REGION}:" in state.outputs["CommandQueueArn"]
    assert not (started.state_dir / "local-stack.json").exists()
    assert not (started.state_file.parent / "local-stack.json").exists()
    assert (started.state_dir / "sam-env.json").exists(), "--state-dir keeps the rest"


def test_the_cli_finds_the_stack_through_the_named_state_file(started: Started) -> None:
    done = subprocess.run(
        [ROOMCAST, "token", "alice"], capture_output=True, text=True, timeout=60, env=started.environment, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 2, "a JWT signed with the stack's secret"


def test_a_producer_in_another_region_reaches_the_printed_queue_and_table(started: Started) -> None:
    sqs, dynamodb = started.client("sqs", "us-east-1"), started.client("dynamodb", "us-east-1")
    command = CreateChatRoom(room_id="elsewhere", user_id="alice")
    sqs.send_message(QueueUrl=started.state.outputs["CommandQueueUrl"], **fifo_message(command))

    key = {"PK": {"S": "Room:elsewhere"}, "SK": {"S": "meta"}}
    deadline = time.monotonic() + 60
    while "Item" not in (found := dynamodb.get_item(TableName=started.state.refs["ChatTable"], Key=key)):
        assert time.monotonic() < deadline, "the command never landed in the stack's table"
        time.sleep(0.1)
    assert found["Item"]["PK"] == key["PK"]


def declared(function: str) -> dict[str, Any]:
    """template.yaml's variables for one function, Globals first, as written (intrinsics unresolved)."""
    loaded = template.load()
    variables = dict(loaded.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    variables.update(loaded["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}))
    return variables


def test_sam_env_points_every_function_of_the_template_at_the_stack_from_a_container(started: Started) -> None:
    sam_env: dict[str, dict[str, str]] = json.loads((started.state_dir / "sam-env.json").read_text())
    state = started.state

    assert set(sam_env) == set(template.resources(template.load(), "AWS::Serverless::Function"))
    for function, variables in sam_env.items():
        written = declared(function)
        assert set(written) <= set(variables), f"{function} misses {set(written) - set(variables)}"
        for name, value in written.items():
            if isinstance(value, str):
                assert variables[name] == value, (function, name)
            elif value == {"Ref": "ChatTable"}:
                assert variables[name] == state.refs["ChatTable"]
            elif value == {"Ref": "JwtSecret"}:
                assert variables[name] == state.refs["JwtSecret"]
        for name, value in variables.items():
            if "://" in value:
                assert urlsplit(value).hostname == "host.docker.internal", (function, name, value)
        assert urlsplit(variables["AWS_ENDPOINT_URL"]).port == started.aws_port
        assert (variables["AWS_REGION"], variables["AWS_DEFAULT_REGION"]) == (REGION, REGION)
        assert variables["AWS_ACCESS_KEY_ID"] and variables["AWS_SECRET_ACCESS_KEY"]
        if "WEBSOCKET_CALLBACK_URL" in written:
            assert urlsplit(variables["WEBSOCKET_CALLBACK_URL"]).port == started.ws_port


def test_a_stack_that_cannot_start_says_why_in_one_line_and_leaves_the_running_ones_files(tmp_path: Path) -> None:
    state_file = tmp_path / "local-stack.json"
    state_file.write_text('{"written by": "the stack already running"}')
    (tmp_path / "sam-env.json").write_text("{}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {**stack_environment(tmp_path, port), "ROOMCAST_LOCAL_STATE": str(state_file)}
        done = subprocess.run(
            [sys.executable, "-m", "roomcast_local", "up", "--aws-port", str(port), "--ws-port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=120,
            env=environment,
            check=False,
        )

    assert done.returncode == 1
    assert done.stderr.startswith("roomcast local stack: cannot start: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert state_file.read_text() == '{"written by": "the stack already running"}'
    assert (tmp_path / "sam-env.json").exists()


def test_the_banner_prints_the_console_and_it_reads_the_stack_through_the_named_state_file(started: Started) -> None:
    printed = [line.split()[-1] for line in banner(started) if re.match(r"\s+console\s", line)]
    assert printed == [f"http://127.0.0.1:{started.ws_port}/console/"]
    with urllib.request.urlopen(printed[0], timeout=30) as page:
        assert "<title>Roomcast console</title>" in page.read().decode()
    with urllib.request.urlopen(f"{printed[0]}api/dlq", timeout=60) as dlq:
        assert json.loads(dlq.read()) == {"messages": []}
