"""`roomcast` publishing to the running local stack through its console's API (roomcast_cli/via_console.py),
and, with the console out of reach, the way it always published. Each call runs in a fresh interpreter
that also reports what it imported (support/cli_imports.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from roomcast_local.processes import free_port
from support.cli_imports import probe
from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e


@dataclasses.dataclass
class Call:
    status: int
    out: str
    err: str
    imported: list[str]


def call(state_file: Path, *argv: str) -> Call:
    done: subprocess.CompletedProcess[str] = probe({**os.environ, "ROOMCAST_LOCAL_STATE": str(state_file)}, *argv)
    *lines, report = done.stderr.splitlines(keepends=True)
    return Call(done.returncode, done.stdout, "".join(lines), json.loads(report))


@pytest.fixture
def no_console(stack: RunningStack, tmp_path: Path) -> Path:
    """The running stack's state, but its console (the gateway's callback_url) on a port where nothing listens."""
    state_file = tmp_path / "no-console.json"
    dead = f"http://127.0.0.1:{free_port()}"
    dataclasses.replace(stack.state, callback_url=dead).save(state_file)
    return state_file


def test_a_publish_lands_through_the_console_and_imports_neither_pydantic_nor_botocore(
    stack: RunningStack, room: str
) -> None:
    created = call(stack.state_file, "create-room", room, "--user", "alice", "--command-id", f"{room}-c", "--wait")
    said = call(stack.state_file, "comment", room, "hello", "--user", "alice")
    recorded = call(stack.state_file, "status", said.out.strip(), "--wait", "60")

    assert dataclasses.astuple(created) == (0, f"{room}-c applied chatRoomCreated\n", "", [])
    assert (said.status, said.err, said.imported) == (0, "", [])
    assert (recorded.status, recorded.out) == (0, f"{said.out.strip()} applied commentAdded\n")


def test_a_refused_command_reads_as_before_and_sends_nothing(stack: RunningStack, room: str, no_console: Path) -> None:
    assert call(stack.state_file, "create-room", room, "--user", "alice", "--wait").status == 0
    blank = ("comment", room, " \n ", "--user", "alice", "--command-id", f"{room}-blank")

    refused = call(stack.state_file, *blank)
    before = call(no_console, *blank)
    # In the refused command's FIFO group: had it been sent, it would have been dead-lettered before this.
    after = call(stack.state_file, "comment", room, "fine", "--user", "alice", "--wait")
    never = call(stack.state_file, "status", f"{room}-blank")

    line = "roomcast: invalid command: text: Value error, text must not be blank (it has nothing visible)\n"
    assert (refused.status, refused.out, refused.err) == (before.status, before.out, before.err) == (1, "", line)
    assert (refused.imported, "pydantic" in before.imported) == ([], True)
    assert after.status == 0 and after.out.endswith(" applied commentAdded\n")
    assert never.status == 1 and f"no outcome recorded for '{room}-blank'" in never.err


def test_with_the_console_out_of_reach_the_usual_way_still_publishes(
    stack: RunningStack, room: str, no_console: Path
) -> None:
    created = call(no_console, "create-room", room, "--user", "alice", "--wait")
    said = call(no_console, "comment", room, "hi", "--user", "alice", "--wait")

    assert (created.status, created.err) == (0, "") and created.out.endswith(" applied chatRoomCreated\n")
    assert (said.status, said.err) == (0, "") and said.out.endswith(" applied commentAdded\n")
    assert {"botocore", "pydantic"} <= set(said.imported)
