"""The moderation verbs (docs/moderation.md, docs/local.md) before any stack is reached: usage errors and
invalid commands are one line; a valid command goes to the local stack (here: none is running)."""

from __future__ import annotations

import pytest

from support.cli_usage import NOT_RUNNING, run


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ban", "art", "bob"], "roomcast: Missing option '--user'."),
        (["ban", "art", "bob", "--user", "carol", "--for", "0"], "Invalid value for '--for': must be at least 1: '0'"),
        (["mute", "art", "--user", "carol"], "roomcast: Missing argument 'TARGET'."),
        (["moderator", "promote", "art", "bob", "--user", "alice"], "Invalid value for 'add|remove'"),
        (["policy", "art", "--user", "alice", "--slow-mode", "121"], "121 is not in the range 0<=x<=120."),
        (["policy", "art", "--user", "alice", "--review", "on"], "Invalid value for '--review'"),
        (["delete-comment", "art", "--user", "bob"], "roomcast: Missing argument 'COMMENT_ID'."),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, out) == (2, "")
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ban", "art", "b#c", "--user", "carol"], "roomcast: invalid command: targetUserId: String should match"),
        (["policy", "art", "--user", "alice"], "roomcast: invalid command: body: Value error, setRoomPolicy needs"),
        (["delete-comment", "art", "42", "--user", "bob"], "roomcast: invalid command: commentId: String should match"),
    ],
)
def test_an_invalid_command_is_refused_before_any_io(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, out) == (1, "")
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["delete-comment", "art", "01KAXE5EHSCCAFMKCB8YXZENRD", "--user", "carol"],
        ["moderator", "add", "art", "carol", "--user", "alice"],
        ["moderator", "remove", "art", "carol", "--user", "alice"],
        ["ban", "art", "bob", "--user", "carol", "--for", "60", "--reason", "spam"],
        ["unban", "art", "bob", "--user", "carol"],
        ["mute", "art", "bob", "--user", "carol", "--for", "60"],
        ["unmute", "art", "bob", "--user", "carol"],
        ["policy", "art", "--user", "alice", "--slow-mode", "10", "--review", "failClosed"],
    ],
)
def test_a_valid_command_goes_to_the_stack(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object, argv: list[str]
) -> None:
    monkeypatch.setenv("ROOMCAST_LOCAL_STATE", f"{tmp_path}/missing.json")

    status, out, err = run(capsys, *argv)

    assert (status, out) == (1, "")
    assert err.startswith(NOT_RUNNING)
