"""`roomcast watch` against a local stack, and the installed `roomcast` script in a process of its own."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from roomcast.models import (
    CommentsFrame,
    CommentView,
    MemberJoined,
    MemberLeft,
    RoomDeletedFrame,
    encode_frame,
)
from roomcast_local.processes import free_port
from support.cli_stack import NOT_RUNNING, ROOMCAST, ROOT, Local, Watch, art, run

pytestmark = pytest.mark.integration


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
    # The two after since, and (the replay window before since, docs/websocket.md) the one at since
    assert out.splitlines() == [
        *(f"{c.position} [{c.created_at[11:19]}] {c.user_id}: {c.text}" for c in comments),
        "* room art was deleted",
    ]
    assert err.splitlines() == ["watching art as bob (replayed 3)"]


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


def watching_after_hello(local: Local) -> tuple[Watch, str]:
    """bob watching art, having seen HELLO; the watch and its connection id."""
    art(local)
    watch = local.watch("art", "--user", "bob")
    connection = local.subscribed_connection()
    local.post(connection, encode_frame(CommentsFrame(room_id="art", comments=[HELLO])))
    return watch, connection


def test_watch_reports_the_server_closing_the_connection(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    watch, connection = watching_after_hello(local)

    assert local.gateway is not None
    boto3.client("apigatewaymanagementapi", endpoint_url=local.gateway.callback_url).delete_connection(
        ConnectionId=connection
    )

    assert watch.finish() == 0  # DeleteConnection closes normally (1000)
    assert capsys.readouterr().err.splitlines()[-1] == "roomcast: the server closed the connection (1000)"


def test_watch_going_away_fails_and_says_where_to_resume(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    watch, _ = watching_after_hello(local)

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


# Linux's tgkill(2), which Python does not wrap: a signal to one thread of another process.
TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())


def to_the_process(pid: int) -> None:
    os.kill(pid, signal.SIGINT)


def to_another_thread(pid: int) -> None:
    """What the kernel may do with a Ctrl-C: hand it to any thread that does not block it, here the
    WebSocket's reader, so the main thread's wait is not interrupted and only sees it when it wakes."""
    others = [int(task) for task in os.listdir(f"/proc/{pid}/task") if int(task) != pid]
    assert others, "the watch runs no thread beside the main one"
    libc = ctypes.CDLL(None, use_errno=True)
    for tid in others:
        assert libc.syscall(TGKILL, pid, tid, signal.SIGINT) == 0, os.strerror(ctypes.get_errno())


@pytest.mark.parametrize(
    "interrupt",
    [
        to_the_process,
        pytest.param(
            to_another_thread,
            marks=pytest.mark.skipif(
                sys.platform != "linux" or TGKILL is None, reason="tgkill: Linux on x86_64 or aarch64"
            ),
        ),
    ],
)
def test_the_installed_command_ends_a_watch_cleanly_on_ctrl_c(local: Local, interrupt: Callable[[int], None]) -> None:
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
        interrupt(watching.pid)
        # Well under the 300 s keep-alive, the longest the watch may otherwise sleep in one wait.
        out, err = watching.communicate(timeout=30)
    finally:
        if watching.poll() is None:
            watching.kill()
            watching.communicate()

    assert first == "watching art as bob (replayed 0)\n"
    assert (watching.returncode, out, err) == (0, "", "")  # no traceback
