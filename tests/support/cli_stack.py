"""The `roomcast` command line against a local stack: moto's server, the template's resources, the
WebSocket gateway in front of the real functions, and the state file `make run` publishes.

AWS_ENDPOINT_URL is only set while the stack is provisioned: every call the CLI makes must find the
stack through the state file, as it does on a developer's machine.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.models import (
    AddComment,
    CommentView,
    CreateChatRoom,
    JoinChatRoom,
)
from roomcast.usecases import commands
from roomcast.usecases import history as queries
from roomcast.usecases.ports import Store
from roomcast_cli.main import main as roomcast_main
from roomcast_local import invoke as local_invoke
from roomcast_local import template
from roomcast_local.state import LocalState
from roomcast_local.ws_gateway import WebSocketGateway
from support.cli_usage import NOT_RUNNING, run
from support.gateway import template_gateway

__all__ = ["NOT_RUNNING", "ROOMCAST", "ROOT", "Local", "Watch", "art", "human", "run"]

ROOT = template.ROOT
ROOMCAST = ROOT / ".venv" / "bin" / "roomcast"


class Local:
    """The local stack a test's CLI talks to, and what the test needs to look behind it."""

    def __init__(self, endpoint: str, provisioned: template.Provisioned, state_file: Path) -> None:
        self.endpoint, self.provisioned, self.state_file = endpoint, provisioned, state_file
        self.gateway: WebSocketGateway | None = None
        self._completed: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self.watches: list[Watch] = []

    def client(self, service_name: str) -> Any:
        return boto3.client(service_name, endpoint_url=self.endpoint)

    @property
    def store(self) -> Store:
        table = self.provisioned.refs["ChatTable"]
        return dynamodb_store(table, boto3.resource("dynamodb", endpoint_url=self.endpoint).meta.client)

    @property
    def state(self) -> LocalState:
        return LocalState(**json.loads(self.state_file.read_text()))

    @property
    def secret(self) -> str:
        value = self.client("secretsmanager").get_secret_value(SecretId=self.provisioned.refs["JwtSecret"])
        return str(value["SecretString"])

    # ---- the functions behind the gateway ----------------------------------------------------

    def spec(self, function: str) -> template.FunctionSpec:
        spec = template.function_spec(function, self.provisioned)
        return dataclasses.replace(spec, environment={**spec.environment, "AWS_ENDPOINT_URL": self.endpoint})

    def route(self, function: str) -> Callable[[dict[str, Any]], Any]:
        def run(event: dict[str, Any]) -> Any:
            try:
                return local_invoke.invoke(self.spec(function), event)
            finally:
                with self._lock:
                    self._completed[function] += 1

        return run

    def completed(self, function: str) -> int:
        with self._lock:
            return self._completed[function]

    # ---- the command queue -------------------------------------------------------------------

    def queued(self, queue_url: str | None = None) -> list[str]:
        response = self.client("sqs").receive_message(
            QueueUrl=queue_url or self.provisioned.refs["CommandQueue"], MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [message["Body"] for message in response.get("Messages", [])]

    # ---- watching ----------------------------------------------------------------------------

    def watch(self, *argv: str) -> Watch:
        watch = Watch(["watch", *argv])
        self.watches.append(watch)
        return watch

    def subscribed_connection(self, answers: int = 1) -> str:
        """The one open connection, once its subscribe (and ``answers - 1`` more requests) were answered."""
        assert self.gateway is not None
        wait_until(lambda: self.completed("MessageFunction") >= answers)
        [connection] = self.gateway.connection_ids()
        return connection

    def post(self, connection: str, frame: bytes) -> None:
        assert self.gateway is not None
        management = boto3.client("apigatewaymanagementapi", endpoint_url=self.gateway.callback_url)
        management.post_to_connection(ConnectionId=connection, Data=frame)

    def with_state(self, **changes: Any) -> None:
        """Publish a changed state file (another secret, a dead endpoint...) in place of the real one."""
        dataclasses.replace(self.state, **changes).save(self.state_file)


class Watch:
    """`roomcast watch` on a thread of its own (capsys captures every thread's prints)."""

    def __init__(self, argv: list[str]) -> None:
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, args=(argv,), daemon=True)
        self.thread.start()

    def _run(self, argv: list[str]) -> None:
        self.status = roomcast_main(argv)

    def finish(self, timeout: float = 10) -> int | None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "watch did not end"
        return self.status


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def local_stack(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Local]:
    """The ``local`` fixture's body (tests/integration/cli/conftest.py): the stack, then its teardown."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    local_invoke.reset_caches()
    provisioned = template.provision(
        f"c{uuid.uuid4().hex[:8]}", boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager")
    )
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    stack = Local(moto_server, provisioned, tmp_path / "state.json")
    api = template.websocket_api()
    # Imported now, not on the first connection: Powertools' Logger keeps the stdout it finds at import,
    # and a test's capture is closed when the test ends.
    for function in {*api.routes.values(), *filter(None, [api.authorizer])}:
        spec = stack.spec(function)
        with local_invoke.environment(spec.environment), contextlib.redirect_stdout(sys.__stdout__ or sys.stdout):
            local_invoke.load_handler(spec)
    gateway = template_gateway(stack.route)
    stack.gateway = gateway
    provisioned.environment["WEBSOCKET_CALLBACK_URL"] = gateway.callback_url
    LocalState.of(
        provisioned, moto_server, ws_url=f"{gateway.ws_url}/{api.stage}", callback_url=gateway.callback_url
    ).save(stack.state_file)
    monkeypatch.setenv("ROOMCAST_LOCAL_STATE", str(stack.state_file))
    yield stack
    gateway.stop_thread()  # closes every connection: any watch still running ends
    for watch in stack.watches:
        watch.thread.join(5)


def art(local: Local, *comments: tuple[str, str]) -> list[CommentView]:
    """Room art, created by alice, joined by bob, with these (user, text) comments; its history."""
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), local.store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), local.store)
    for user, text in comments:
        commands.apply(AddComment(room_id="art", user_id=user, text=text), local.store)
    return queries.history(local.store, "art").comments


def human(comment: CommentView, positions: bool = False) -> str:
    """What history prints for a comment, built from createdAt's ISO text (UTC) independently of the CLI."""
    line = f"[{comment.created_at[:10]} {comment.created_at[11:19]}] {comment.user_id}: {comment.text}"
    return f"{comment.position} {line}" if positions else line
