"""The local stack as a user runs it: `python -m roomcast_local up` in a process of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.auth import issue_token
from roomcast.domain.ordering import fifo_message
from roomcast.models import Command
from roomcast.usecases.ports import Store
from roomcast_local.processes import child_processes, free_port
from roomcast_local.state import LocalState, load_state

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll until ``predicate`` returns something truthy (async delivery); that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.05)


@dataclass
class StackProcess:
    """One `python -m roomcast_local VERB ...` process and what it printed."""

    args: list[str]
    log: Path
    environment: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    def start(self, ready: str, timeout: float = 60) -> None:
        began = time.monotonic()
        # A restarted stack appends to the same log: only what this process prints says it is ready.
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # the stack's own module, with this interpreter
                [sys.executable, "-m", "roomcast_local", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while ready not in self.output(offset):
            if self.process.poll() is not None:
                raise RuntimeError(f"stack exited early:\n{self.log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"stack not ready in {timeout} s:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)
        self.started_in = time.monotonic() - began

    def output(self, offset: int = 0) -> str:
        return self.log.read_bytes()[offset:].decode(errors="replace")

    def stop(self) -> None:
        """Ctrl-C, as a user stops it; it must exit cleanly."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                # a loaded 2-core machine can take a while to join pollers and stop workers
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.kill()
                raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def children(self) -> list[int]:
        """The process ids of its children (workers)."""
        assert self.process is not None
        return child_processes(self.process.pid)


@dataclass
class RunningStack:
    up: StackProcess
    state_file: Path
    aws_endpoint_url: str

    @property
    def state(self) -> LocalState:
        state = load_state(self.state_file)
        assert state is not None, "the stack publishes its state once ready"
        return state

    def client(self, service: str) -> Any:
        """A boto3 client on this stack's AWS endpoint (a restarted stack has another port)."""
        return boto3.client(service, endpoint_url=self.aws_endpoint_url)

    def store(self) -> Store:
        client = boto3.resource("dynamodb", endpoint_url=self.aws_endpoint_url).meta.client
        return dynamodb_store(self.state.outputs["ChatTableName"], client)

    def send(self, command: Command) -> None:
        self.client("sqs").send_message(QueueUrl=self.state.outputs["CommandQueueUrl"], **fifo_message(command))

    @contextmanager
    def watch(self, user: str, room: str, since: str | None = None) -> Iterator[ClientConnection]:
        """A WebSocket client of ``user``, subscribed to ``room``."""
        secret_arn = self.state.outputs["JwtSecretArn"]
        secret = self.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        with _connect(f"{self.state.ws_url}?token={issue_token(user, secret)}") as client:
            client.send(json.dumps({"action": "subscribe", "roomId": room, **({"since": since} if since else {})}))
            yield client


def _connect(url: str) -> ClientConnection:
    deadline = time.monotonic() + 60
    while True:
        try:
            return connect(url, open_timeout=60)
        except InvalidStatus as refused:
            # The local worker's timeout counts its cold start, which a loaded machine can stretch
            # past the authorizer's 10 s: the gateway answers 500 then, and the next try is warm.
            if refused.response.status_code != 500 or time.monotonic() > deadline:
                raise


def stack_environment(tmp: Path, aws_port: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL") and k != "AWS_PROFILE"}
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "ROOMCAST_LOCAL_STATE": str(tmp / "local-stack.json"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def start_up(tmp: Path, *extra: str, aws_endpoint: str | None = None) -> RunningStack:
    aws_port = free_port()
    arguments = ["up", "--ws-port", str(free_port()), "--state-dir", str(tmp), "--visibility-timeout", "2"]
    arguments += ["--aws-endpoint", aws_endpoint] if aws_endpoint else ["--aws-port", str(aws_port)]
    up = StackProcess([*arguments, *extra], tmp / "up.log", stack_environment(tmp, aws_port))
    up.start("Ctrl-C to stop.")
    return RunningStack(up, tmp / "local-stack.json", aws_endpoint or f"http://127.0.0.1:{aws_port}")
