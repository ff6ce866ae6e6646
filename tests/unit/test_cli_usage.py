"""The `roomcast` command line before any stack is reached: usage errors, help, where it looks for things."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli_usage import NOT_RUNNING, run

OTHER_SHAPE = "not a state this version writes"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["join", "art"], "roomcast: Missing option '--user'."),
        (["history"], "roomcast: Missing argument 'ROOM'."),
        (["history", "art", "--nope"], "roomcast: No such option '--nope'."),
        (["shout", "art"], "roomcast: No such command 'shout'."),
        (["history", "art", "--latest", "0"], "roomcast: Invalid value for '--latest': must be at least 1: '0'"),
        (["token", "bob", "--ttl", "soon"], "roomcast: Invalid value for '--ttl': not a whole number: 'soon'"),
        (
            ["token", "bob", "--ttl", "315360000"],
            "roomcast: Invalid value for '--ttl': at most 900 seconds, not 315360000",
        ),
        (
            ["watch", "art", "--user", "bob", "--keepalive", "-1"],
            "roomcast: Invalid value for '--keepalive': must not be negative: '-1'",
        ),
        (["history", "art", "--after", "P", "--all"], "roomcast: argument --after: not allowed with argument --all"),
        (["history", "art", "--between", "P"], "roomcast: Option '--between' requires 2 arguments."),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, out) == (2, "")
    assert err == f"{message}\n"


@pytest.mark.parametrize("argv", [["--region", "eu-west-1", "history", "art"], ["--profile", "p", "token", "bob"]])
def test_region_and_profile_before_the_verb_still_need_a_stack(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert run(capsys, *argv) == (
        2,
        "",
        "roomcast: --region and --profile go with --stack (the local stack has its own)\n",
    )


def test_no_verb_shows_the_help_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys)

    assert (status, out) == (2, "")
    assert err.startswith("usage: roomcast [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize("verb", ["create-room", "join", "comment", "watch", "history", "token", "invoke"])
def test_each_verb_has_help_with_the_stack_options(capsys: pytest.CaptureFixture[str], verb: str) -> None:
    status, out, err = run(capsys, verb, "--help")

    assert (status, err) == (0, "")
    assert out.startswith(f"usage: roomcast {verb} [OPTIONS]")
    for option in ("--stack NAME", "--region R", "--profile P"):
        assert option in out


@pytest.mark.parametrize(
    ("text", "why"),
    [("{not json", "Expecting property name enclosed in double quotes"), ('{"region": "eu-west-1"}', OTHER_SHAPE)],
    ids=["not JSON", "another shape"],
)
def test_an_unreadable_state_file_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, why: str
) -> None:
    state = tmp_path / "state.json"
    state.write_text(text)
    monkeypatch.setenv("ROOMCAST_LOCAL_STATE", str(state))

    status, out, err = run(capsys, "join", "art", "--user", "bob")

    assert (status, out) == (1, "")
    assert err.startswith(f"{NOT_RUNNING} (its state file {state} is unreadable: {why}")
    assert err.count("\n") == 1


@pytest.mark.parametrize("how", ["from a folder inside it", "from ROOMCAST_ROOT"])
def test_the_state_file_is_in_the_checkout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".roomcast").mkdir(parents=True)
    (checkout / "events").mkdir()
    (checkout / "template.yaml").write_text("")
    state = checkout / ".roomcast" / "local-stack.json"
    state.write_text("[]")  # read, and named in the error: that shows which file was read
    monkeypatch.delenv("ROOMCAST_LOCAL_STATE", raising=False)
    if how == "from ROOMCAST_ROOT":
        monkeypatch.setenv("ROOMCAST_ROOT", str(checkout))
    else:
        monkeypatch.delenv("ROOMCAST_ROOT", raising=False)
        monkeypatch.chdir(checkout / "events")

    status, _, err = run(capsys, "history", "art")

    assert (status, err) == (1, f"{NOT_RUNNING} (its state file {state} is unreadable: {OTHER_SHAPE})\n")


def test_invoke_without_a_checkout_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROOMCAST_ROOT", str(tmp_path))  # no template.yaml there

    status, out, err = run(capsys, "invoke", "CommandFunction", "-e", "events/command-1-create-chat-room.json")

    assert (status, out) == (1, "")
    assert err == (
        "roomcast: roomcast invoke needs a Roomcast checkout (template.yaml, functions/): "
        "run it inside one or set ROOMCAST_ROOT to its folder\n"
    )
