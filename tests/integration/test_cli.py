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
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from roomcast import auth
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.models import (
    AddComment,
    CommentsFrame,
    CommentView,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    MemberJoined,
    MemberLeft,
    RoomDeletedFrame,
    encode_frame,
)
from roomcast.usecases import commands
from roomcast.usecases import history as queries
from roomcast.usecases.ports import Store
from roomcast_local import cli, template
from roomcast_local import invoke as local_invoke
from roomcast_local.state import LocalState
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

pytestmark = pytest.mark.integration

ROOT = template.ROOT
ROOMCAST = ROOT / ".venv" / "bin" / "roomcast"
NOT_RUNNING = "roomcast: the local stack is not running: start it with `make run`"


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
        self.status = cli.main(argv)

    def finish(self, timeout: float = 10) -> int | None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "watch did not end"
        return self.status


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.fixture
def local(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Local]:
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
    gateway = WebSocketGateway(
        routes={key: stack.route(function) for key, function in api.routes.items()},
        authorizer=stack.route(api.authorizer) if api.authorizer else None,
        config=GatewayConfig(
            port=0,
            stage=api.stage,
            route_selection_expression=api.route_selection_expression,
            identity_source=api.identity_source,
        ),
    )
    gateway.start_in_thread()
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


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


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


# ---- publishing -------------------------------------------------------------------------------

PUBLISHED = [
    (["create-room", "art", "--user", "alice"], CreateChatRoom, {"room_id": "art", "user_id": "alice"}),
    (["delete-room", "art", "--user", "alice"], DeleteChatRoom, {"room_id": "art", "user_id": "alice"}),
    (["join", "art", "--user", "bob"], JoinChatRoom, {"room_id": "art", "user_id": "bob"}),
    (["leave", "art", "--user", "bob"], LeaveChatRoom, {"room_id": "art", "user_id": "bob"}),
    (
        ["comment", "art", "hello\n\tworld", "--user", "bob", "--command-id", "producer:42"],
        AddComment,
        {"room_id": "art", "user_id": "bob", "text": "hello\n\tworld"},
    ),
]


@pytest.mark.parametrize(("argv", "model", "fields"), PUBLISHED, ids=[argv[0] for argv, _, _ in PUBLISHED])
def test_each_publishing_verb_sends_its_command_and_prints_the_command_id(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], model: Any, fields: dict[str, str]
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, err) == (0, "")
    command_id = out.strip()
    assert out == f"{command_id}\n"
    if "--command-id" in argv:
        assert command_id == "producer:42"
    else:
        assert str(uuid.UUID(command_id, version=4)) == command_id
    expected = model(**fields, command_id=command_id).model_dump_json(by_alias=True, exclude_none=True)
    assert local.queued() == [expected]


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["join", "a#b", "--user", "bob"], "roomId: String should match pattern '^[A-Za-z0-9_.-]{1,64}$'"),
        (["create-room", "art", "--user", ""], "userId: String should match pattern '^[A-Za-z0-9_.-]{1,64}$'"),
        (["comment", "art", " \n ", "--user", "bob"], "text: Value error, text must not be blank"),
        (["comment", "art", "x" * 2001, "--user", "bob"], "text: String should have at most 2000 characters"),
        (["leave", "art", "--user", "bob", "--command-id", "a b"], "commandId: String should match pattern"),
        (["leave", "art", "--user", "bob", "--command-id", ""], "commandId: String should match pattern"),
    ],
)
def test_an_invalid_command_is_one_line_and_nothing_is_sent(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, out) == (1, "")
    assert err.startswith(f"roomcast: invalid command: {reason}")
    assert err.count("\n") == 1
    assert local.queued() == []


# ---- token ------------------------------------------------------------------------------------


def test_token_is_signed_with_the_stacks_secret(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "token", "bob", "--ttl", "120")

    assert (status, err) == (0, "")
    token = out.strip()
    assert auth.verify_token(token, local.secret) == "bob"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def test_a_token_for_an_impossible_user_is_refused(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "token", "a#b")

    assert (status, out) == (1, "")
    assert err.startswith("roomcast: cannot issue a token for 'a#b': user id must match")


# ---- history ----------------------------------------------------------------------------------


@pytest.fixture
def five(local: Local, monkeypatch: pytest.MonkeyPatch) -> list[CommentView]:
    """Room art with five comments; pages of two, so every query pages along its cursor."""
    monkeypatch.setattr(cli, "PAGE_SIZE", 2)
    return art(local, ("alice", "one"), ("bob", "two"), ("alice", "three"), ("bob", "four\nand more"), ("bob", "five"))


def selections(c: list[CommentView]) -> dict[str, tuple[list[str], list[CommentView]]]:
    """Flags -> (what the query returns, in its order)."""
    p = [comment.position for comment in c]
    return {
        "default": ([], c),
        "all": (["--all"], c),
        "latest": (["--latest", "2"], [c[4], c[3]]),
        "latest-more-than-there-are": (["--latest", "10"], c[::-1]),
        "after": (["--after", p[1]], c[2:]),
        "between": (["--between", p[1], p[3]], c[1:4]),
    }


SELECTIONS = ["default", "all", "latest", "latest-more-than-there-are", "after", "between"]


@pytest.mark.parametrize("selection", SELECTIONS)
def test_history_prints_the_selected_comments_oldest_first(
    five: list[CommentView], capsys: pytest.CaptureFixture[str], selection: str
) -> None:
    flags, returned = selections(five)[selection]

    status, out, err = run(capsys, "history", "art", *flags)

    assert (status, err) == (0, "")
    chronological = sorted(returned, key=lambda comment: comment.position)
    expected = [human(comment) for comment in chronological]
    assert out == "".join(f"{line}\n" for line in expected).replace("four\nand more", "four\n    and more")


@pytest.mark.parametrize("selection", SELECTIONS)
def test_history_json_is_one_comment_view_per_line_in_the_querys_order(
    five: list[CommentView], capsys: pytest.CaptureFixture[str], selection: str
) -> None:
    flags, returned = selections(five)[selection]

    status, out, err = run(capsys, "history", "art", *flags, "--json")

    assert (status, err) == (0, "")
    assert [CommentView.model_validate_json(line) for line in out.splitlines()] == returned
    assert set(json.loads(out.splitlines()[0])) == {"commentId", "userId", "text", "createdAt", "position"}


def test_history_positions_start_each_line(five: list[CommentView], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "history", "art", "--latest", "1", "--positions")

    assert (status, out) == (0, f"{human(five[4], positions=True)}\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "nope"], "roomcast: RoomNotFound: room 'nope' does not exist\n"),
        (["history", "art", "--after", "yesterday"], "roomcast: InvalidRequest: position 'yesterday' is not a "),
    ],
)
def test_history_refusals_are_one_line(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    art(local)

    status, out, err = run(capsys, *argv)

    assert (status, out) == (1, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_history_modes_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "history", "art", "--all", "--latest", "3")

    assert (status, out) == (2, "")
    assert "not allowed with argument" in err


# ---- watch ------------------------------------------------------------------------------------

HELLO = CommentView(
    comment_id="01M8A1JWEN8B0FFN00GCZA2JEM",
    user_id="alice",
    text="hello",
    created_at="2026-11-25T19:05:41.589Z",
    position="01M8A1JWEN8B0FFN00GCZA2JEM",
)


def test_watch_prints_comments_once_and_presence_until_the_room_is_deleted(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    art(local)
    watch = local.watch("art", "--user", "bob")
    connection = local.subscribed_connection()

    comments = encode_frame(CommentsFrame(room_id="art", comments=[HELLO]))
    local.post(connection, comments)
    local.post(connection, comments)  # delivered twice: at-least-once
    local.post(connection, encode_frame(MemberJoined(room_id="art", user_id="carol")))
    local.post(connection, encode_frame(MemberLeft(room_id="art", user_id="alice")))
    local.post(connection, encode_frame(RoomDeletedFrame(room_id="art")))

    assert watch.finish() == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "[19:05:41] alice: hello",
        "* carol joined art",
        "* alice left art",
        "* room art was deleted",
    ]
    assert err.splitlines() == ["watching art as bob (replayed 0)"]


def test_watch_json_prints_every_frame_as_received(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    art(local)
    watch = local.watch("art", "--user", "bob", "--json")
    connection = local.subscribed_connection()

    frames = [
        encode_frame(CommentsFrame(room_id="art", comments=[HELLO])),
        encode_frame(CommentsFrame(room_id="art", comments=[HELLO])),  # not deduplicated: as received
        b'{"type":"memberJoined","roomId":"art","userId":"carol"}',
        b'{"type": "roomDeleted",  "roomId": "art"}',  # spacing kept: the text itself, not a re-encoding
    ]
    for frame in frames:
        local.post(connection, frame)

    assert watch.finish() == 0
    out, err = capsys.readouterr()
    [subscribed, *rest] = out.splitlines()
    assert json.loads(subscribed)["type"] == "subscribed"
    assert rest == [frame.decode() for frame in frames]
    assert err == "watching art as bob (replayed 0)\n"  # for the person at the terminal; stdout stays frames only


def test_watch_since_replays_what_was_missed(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    comments = art(local, ("alice", "one"), ("bob", "two"), ("alice", "three"))
    watch = local.watch("art", "--user", "bob", "--since", comments[0].position, "--positions")
    connection = local.subscribed_connection()

    local.post(connection, encode_frame(RoomDeletedFrame(room_id="art")))

    assert watch.finish() == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        *(f"{c.position} [{c.created_at[11:19]}] {c.user_id}: {c.text}" for c in comments[1:]),
        "* room art was deleted",
    ]
    assert err.splitlines() == ["watching art as bob (replayed 2)"]


def test_watch_keeps_a_quiet_connection_alive_without_showing_it(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    art(local, ("alice", "one"))
    watch = local.watch("art", "--user", "bob", "--json", "--keepalive", "0.05")
    connection = local.subscribed_connection(answers=3)  # the subscribe, then two keep-alives answered

    local.post(connection, encode_frame(RoomDeletedFrame(room_id="art")))

    assert watch.finish() == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["subscribed", "roomDeleted"]


def test_watch_ends_when_the_watcher_leaves_the_room(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    art(local)
    watch = local.watch("art", "--user", "bob")
    connection = local.subscribed_connection()

    local.post(connection, encode_frame(MemberLeft(room_id="art", user_id="bob")))

    assert watch.finish() == 0
    out, err = capsys.readouterr()
    assert out == "* bob left art\n"
    assert err.splitlines()[-1] == "bob is no longer a member of art"


def test_watch_by_a_non_member_prints_the_error_and_fails(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    art(local)

    watch = local.watch("art", "--user", "mallory")

    assert watch.finish() == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error NotAMember: 'mallory' is not a member of room 'art'\n"


def test_watch_reports_the_server_closing_the_connection(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    art(local)
    watch = local.watch("art", "--user", "bob")
    connection = local.subscribed_connection()
    local.post(connection, encode_frame(CommentsFrame(room_id="art", comments=[HELLO])))

    assert local.gateway is not None
    boto3.client("apigatewaymanagementapi", endpoint_url=local.gateway.callback_url).delete_connection(
        ConnectionId=connection
    )

    assert watch.finish() == 0  # DeleteConnection closes normally (1000)
    assert capsys.readouterr().err.splitlines()[-1] == "roomcast: the server closed the connection (1000)"


def test_watch_going_away_fails_and_says_where_to_resume(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    art(local)
    watch = local.watch("art", "--user", "bob")
    connection = local.subscribed_connection()
    local.post(connection, encode_frame(CommentsFrame(room_id="art", comments=[HELLO])))

    assert local.gateway is not None
    local.gateway.stop_thread()  # what API Gateway does at its 2-hour limit: 1001 Going away

    assert watch.finish() == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"roomcast: the server closed the connection (1001 Going away); resume with --since {HELLO.position}"
    )


def test_watch_with_a_token_the_stack_does_not_accept(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    other = local.client("secretsmanager").create_secret(Name=f"other-{uuid.uuid4().hex}", SecretString="y" * 40)
    local.with_state(outputs={**local.state.outputs, "JwtSecretArn": other["ARN"]})

    status, out, err = run(capsys, "watch", "art", "--user", "bob")

    assert (status, out) == (1, "")
    assert err == "roomcast: connection refused (403): the token was not accepted\n"


def test_watch_when_nothing_listens_on_the_websocket_url(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"ws://127.0.0.1:{free_port()}/v1"
    local.with_state(outputs={**local.state.outputs, "WebSocketUrl": dead})

    status, out, err = run(capsys, "watch", "art", "--user", "bob")

    assert (status, out) == (1, "")
    assert err == f"{NOT_RUNNING} (nothing answers at {dead})\n"


def test_watch_refuses_a_bad_position_before_connecting(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "watch", "art", "--user", "bob", "--since", "yesterday")

    assert (status, out) == (1, "")
    assert err.startswith("roomcast: invalid request: since: String should match pattern")
    assert local.gateway is not None and local.completed("AuthorizerFunction") == 0


# ---- invoke -----------------------------------------------------------------------------------


def test_invoke_runs_a_function_on_a_sample_event(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "CommandFunction", "-e", "events/command-1-create-chat-room.json")

    assert status == 0
    assert out == '{"batchItemFailures": []}\n'  # the response alone: the function's output went to stderr
    assert '"CommandApplied"' in err  # its metrics, printed by Powertools
    assert local.store.rooms.get_room("art") is not None


def test_invoke_puts_a_fresh_token_in_the_authorizer_sample(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "invoke", "AuthorizerFunction", "--event", "events/authorizer-connect.json", "--user", "carol"
    )

    assert status == 0
    response = json.loads(out)
    assert response["principalId"] == "carol"
    assert [s["Effect"] for s in response["policyDocument"]["Statement"]] == ["Allow"]


def test_invoke_an_unknown_function(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "NopeFunction", "-e", "events/command-1-create-chat-room.json")

    assert (status, out) == (1, "")
    assert err == f"roomcast: unknown function 'NopeFunction'; template.yaml has {', '.join(template.functions())}\n"


def test_invoke_a_missing_event_file(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "CommandFunction", "-e", "events/nope.json")

    assert (status, out) == (1, "")
    assert err == "roomcast: cannot read the event events/nope.json: No such file or directory\n"


# ---- which stack ------------------------------------------------------------------------------


def test_no_state_file_means_the_local_stack_is_not_running(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROOMCAST_LOCAL_STATE", str(tmp_path / "missing.json"))

    for argv in (["join", "art", "--user", "bob"], ["history", "art"], ["watch", "art", "--user", "bob"]):
        assert run(capsys, *argv) == (1, "", f"{NOT_RUNNING}\n")


def test_a_state_whose_endpoint_refuses_says_so_with_the_url(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    local.with_state(aws_endpoint_url=dead)

    for argv in (["join", "art", "--user", "bob"], ["history", "art"], ["token", "bob"]):
        status, out, err = run(capsys, *argv)
        assert (status, out) == (1, "")
        assert err.startswith(f"{NOT_RUNNING} (nothing answers at {dead}")
        assert err.count("\n") == 1


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_deployed_stack_is_found_through_cloudformation(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # moto's CloudFormation stands in for AWS: boto3 finds it through AWS_ENDPOINT_URL, the CLI overrides nothing.
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    name = f"deployed-{uuid.uuid4().hex[:8]}"
    body = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-commands"}}},
        "Outputs": {"CommandQueueUrl": {"Value": {"Ref": "Queue"}}},
    }
    local.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))
    stack = ["--stack", name, "--region", "eu-west-1"]
    verb = ["join", "art", "--user", "bob"]

    status, out, err = run(capsys, *(stack + verb if where == "before" else verb + stack))

    assert (status, err) == (0, "")
    [queue] = [
        o["OutputValue"] for o in local.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    ]
    assert [json.loads(body)["commandId"] for body in local.queued(queue)] == [out.strip()]


def test_invoke_on_a_deployed_stack_resolves_the_template_against_its_resources(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    name = f"deployed-{uuid.uuid4().hex[:8]}"
    # The template's own tables and queues, deployed by (moto's) CloudFormation under names of its choosing.
    needed = ("ChatTable", "CommandDeadLetterQueue", "CommandQueue")
    body = {"Resources": {logical: template.load()["Resources"][logical] for logical in needed}}
    cloudformation = local.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }

    status, out, _ = run(
        capsys, "invoke", "CommandFunction", "-e", "events/command-1-create-chat-room.json", "--stack", name
    )

    assert (status, out) == (0, '{"batchItemFailures": []}\n')
    store = dynamodb_store(physical["ChatTable"], boto3.resource("dynamodb", endpoint_url=local.endpoint).meta.client)
    assert store.rooms.get_room("art") is not None


def test_deployed_stack_errors_are_one_line(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    assert run(capsys, "history", "art", "--stack", "missing", "--region", "eu-west-1") == (
        1,
        "",
        "roomcast: ValidationError: Stack with id missing does not exist\n",
    )
    assert run(capsys, "history", "art", "--stack", "s", "--profile", "nope") == (
        1,
        "",
        "roomcast: ProfileNotFound: The config profile (nope) could not be found\n",
    )
    status, _, err = run(capsys, "history", "art", "--region", "eu-west-1")
    assert (status, err) == (2, "roomcast: --region and --profile go with --stack (the local stack has its own)\n")


# ---- the installed command --------------------------------------------------------------------


def roomcast(*argv: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOMCAST), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **environment},
        timeout=60,
        check=False,
    )


def test_the_installed_command_shows_its_help() -> None:
    done = roomcast("--help")

    assert done.returncode == 0
    assert done.stdout.startswith("usage: roomcast")
    for verb in ("create-room", "delete-room", "join", "leave", "comment", "watch", "history", "token", "invoke"):
        assert verb in done.stdout


def test_the_installed_command_without_a_local_stack_is_one_line(tmp_path: Path) -> None:
    done = roomcast("history", "art", ROOMCAST_LOCAL_STATE=str(tmp_path / "missing.json"))

    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"{NOT_RUNNING}\n")


def test_the_installed_command_keeps_the_functions_logs_off_stdout(local: Local) -> None:
    done = roomcast("invoke", "CommandFunction", "-e", "events/command-1-create-chat-room.json")

    assert (done.returncode, done.stdout) == (0, '{"batchItemFailures": []}\n')
    logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert "command applied" in [log.get("message") for log in logs]  # Powertools' Logger, on stderr
    assert local.store.rooms.get_room("art") is not None


def test_the_installed_command_ends_a_watch_cleanly_on_ctrl_c(local: Local) -> None:
    art(local)
    watching = subprocess.Popen(
        [str(ROOMCAST), "watch", "art", "--user", "bob"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watching.stderr is not None
        # Interrupted once it is following the room (not while Python is still starting).
        assert select.select([watching.stderr], [], [], 30)[0], "watch never said it was watching"
        first = watching.stderr.readline()
        watching.send_signal(signal.SIGINT)
        out, err = watching.communicate(timeout=30)
    finally:
        if watching.poll() is None:
            watching.kill()
            watching.communicate()

    assert first == "watching art as bob (replayed 0)\n"
    assert (watching.returncode, out, err) == (0, "", "")  # no traceback
