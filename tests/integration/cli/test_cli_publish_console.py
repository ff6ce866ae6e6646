"""The publishing verbs to a local stack whose console answers (roomcast_cli/via_console.py): every verb,
refusal and --wait reads exactly as it does without the console, and anything but the console's API
answering sends the command the way it always went.

Each case runs twice in one test, through the console and with the state file's console on a port where
nothing listens (today's way: the model, then lean_sqs), and the two must agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roomcast_local.processes import free_port
from support.cli_stack import NOT_RUNNING, Local, run
from support.console_gateway import RecordingConsole, console_gateway

pytestmark = pytest.mark.integration

PRODUCER = "AIDAIT2UOQQY3AUEKVGXU"  # what `make run` publishes; outcome records are keyed by it

PUBLISHED = [
    ["create-room", "art", "--user", "alice"],
    ["delete-room", "art", "--user", "alice"],
    ["join", "art", "--user", "bob"],
    ["leave", "art", "--user", "bob"],
    ["comment", "art", "hello\n\tworld \u00e9\U0001f600", "--user", "bob"],
    ["delete-comment", "art", "01M8A1JWEN8B0FFN00GCZA2JEM", "--user", "carol"],
    ["moderator", "add", "art", "carol", "--user", "alice"],
    ["ban", "art", "bob", "--user", "carol", "--for", "60", "--reason", "spam"],
    ["mute", "art", "bob", "--user", "carol"],
    ["policy", "art", "--user", "alice", "--slow-mode", "0"],
]

REFUSED = [
    ["join", "a#b", "--user", "bob"],
    ["create-room", "art", "--user", ""],
    ["comment", "art", " \n ", "--user", "bob"],
    ["comment", "art", "", "--user", "bob"],
    ["comment", "art", "x" * 2001, "--user", "bob"],
    ["comment", "art", "a\u202eb", "--user", "bob"],
    ["leave", "art", "--user", "bob", "--command-id", "a b"],
    ["leave", "art", "--user", "bob", "--command-id", ""],
    ["ban", "art", "b#c", "--user", "carol"],
    ["ban", "art", "bob", "--user", "carol", "--reason", ""],
    ["policy", "art", "--user", "alice"],
    ["delete-comment", "art", "42", "--user", "bob"],
]


@pytest.fixture
def console(local: Local) -> Iterator[RecordingConsole]:
    """The stack's console, named by its state file, as `make run` serves it."""
    with console_gateway(local.state_file) as (url, recording):
        local.with_state(callback_url=url, producer=PRODUCER)
        yield recording


def without_console(local: Local) -> None:
    local.with_state(callback_url=f"http://127.0.0.1:{free_port()}")


def drained(local: Local) -> list[dict[str, Any]]:
    """The bodies on the command queue, taken off it (a FIFO group stays locked while one is in flight)."""
    sqs, queue_url = local.client("sqs"), local.provisioned.refs["CommandQueue"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


def test_each_verb_publishes_through_the_console_what_it_published_before(
    local: Local, console: RecordingConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    callback_url = local.state.callback_url
    for n, argv in enumerate(PUBLISHED):  # one stack for all: each case costs a second, a stack ten
        local.with_state(callback_url=callback_url)
        through_console = run(capsys, *argv, "--command-id", f"via-console-{n}")
        sent_through_console = drained(local)
        without_console(local)
        before = run(capsys, *argv, "--command-id", f"as-before-{n}")
        sent_before = drained(local)

        assert through_console == (0, f"via-console-{n}\n", ""), argv
        assert before == (0, f"as-before-{n}\n", ""), argv
        assert console.bodies[n]["commandId"] == f"via-console-{n}"
        assert [{**body, "commandId": f"as-before-{n}"} for body in sent_through_console] == sent_before, argv
    assert len(console.bodies) == len(PUBLISHED)


def test_a_publish_without_a_command_id_prints_the_new_one_the_queue_has(
    local: Local, console: RecordingConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "join", "art", "--user", "bob")

    assert (status, err) == (0, "")
    assert [body["commandId"] for body in drained(local)] == [out.strip()] == [console.bodies[0]["commandId"]]


def test_a_refused_command_reads_as_before_and_nothing_is_sent(
    local: Local, console: RecordingConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    callback_url = local.state.callback_url
    for argv in REFUSED:
        local.with_state(callback_url=callback_url)
        asked = len(console.bodies)
        through_console = run(capsys, *argv)
        without_console(local)
        before = run(capsys, *argv)

        assert through_console == before, argv
        status, out, err = before
        assert (status, out, err.count("\n")) == (1, "", 1) and err.startswith("roomcast: invalid command: "), argv
        assert drained(local) == [], argv
        # Empty values go the way that names them as the model does (the console drops its form's blanks).
        assert len(console.bodies) - asked == (0 if "" in argv else 1), argv


def test_wait_reads_the_outcome_through_the_console_as_before(
    local: Local, console: RecordingConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing applies commands here: both ways wait, then say so alike.
    through_console = run(capsys, "join", "art", "--user", "bob", "--command-id", "w", "--wait", "--timeout", "0.3")
    drained(local)
    without_console(local)
    before = run(capsys, "join", "art", "--user", "bob", "--command-id", "w", "--wait", "--timeout", "0.3")

    assert through_console == before == (5, "", "w pending: no outcome recorded after 0.3 s\n")
    assert len(console.bodies) == 1


def test_a_console_that_cannot_send_leaves_the_command_to_the_usual_way(
    local: Local, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A console that cannot read its stack answers 502: the CLI sends the command itself.
    with console_gateway(tmp_path / "no-stack.json") as (url, recording):
        local.with_state(callback_url=url)
        status, out, err = run(capsys, "join", "art", "--user", "bob", "--command-id", "c-1")

    assert (status, out, err) == (0, "c-1\n", "")
    assert [body["commandId"] for body in recording.bodies] == ["c-1"]
    assert [body["commandId"] for body in drained(local)] == ["c-1"]


def test_a_stack_whose_aws_endpoint_is_gone_reads_as_before(
    local: Local, console: RecordingConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    local.with_state(aws_endpoint_url=dead)

    status, out, err = run(capsys, "join", "art", "--user", "bob")

    assert (status, out) == (1, "")
    assert err.startswith(f"{NOT_RUNNING} (nothing answers at {dead}")
    assert err.count("\n") == 1 and len(console.bodies) == 1
