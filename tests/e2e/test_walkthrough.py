"""The README's walkthrough, with the `roomcast` CLI against the running local stack."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast_local import events
from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e

ROOMCAST = str(Path(sys.executable).with_name("roomcast"))


def roomcast(stack: RunningStack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOMCAST, *args], capture_output=True, text=True, timeout=timeout, env=_environment(stack), check=False
    )


def _environment(stack: RunningStack) -> dict[str, str]:
    return {**os.environ, "ROOMCAST_LOCAL_STATE": str(stack.state_file)}


class Watch:
    """`roomcast watch ... --json` in the background; its lines arrive on a queue."""

    def __init__(self, stack: RunningStack, *args: str) -> None:
        self.process = subprocess.Popen(
            [ROOMCAST, "watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(stack),
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\n")))

    def next_frame(self, kind: str, timeout: float = 20) -> tuple[float, dict[str, object]]:
        deadline = time.monotonic() + timeout
        while True:
            arrived, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            frame = json.loads(line)
            if frame["type"] == kind:
                return arrived, frame

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def applied(stack: RunningStack, room: str, *members: str) -> None:
    """Wait until the queued commands made ``members`` members of ``room`` (the CLI only publishes)."""
    store = dynamodb_store(stack.state.outputs["ChatTableName"])
    deadline = time.monotonic() + 20
    while not all(store.rooms.get_room_and_membership(room, m)[1] is not None for m in members):
        assert time.monotonic() < deadline, f"{members} not members of {room} in time"
        time.sleep(0.1)


def test_create_join_watch_comment_history_delete(stack: RunningStack) -> None:
    room = f"walk-{uuid.uuid4().hex[:6]}"
    for args in (("create-room", room, "--user", "alice"), ("join", room, "--user", "bob")):
        result = roomcast(stack, *args)
        assert result.returncode == 0, result.stderr
        uuid.UUID(result.stdout.strip())  # prints the commandId
    applied(stack, room, "alice", "bob")
    watch = Watch(stack, room, "--user", "bob", "--json")
    try:
        watch.next_frame("subscribed")
        sent = time.monotonic()
        said = roomcast(stack, "comment", room, "hello bob", "--user", "alice", "--wait")
        assert said.returncode == 0 and said.stdout.strip().endswith(" applied commentAdded"), said.stdout
        arrived, frame = watch.next_frame("comments")
        assert [c["text"] for c in frame["comments"]] == ["hello bob"]  # type: ignore[union-attr]
        print(f"\nroomcast comment -> roomcast watch line: {(arrived - sent) * 1000:.0f} ms")

        listing = roomcast(stack, "history", room, "--latest", "5")
        assert "hello bob" in listing.stdout

        assert roomcast(stack, "delete-room", room, "--user", "alice").returncode == 0
        watch.next_frame("roomDeleted")
        assert watch.process.wait(timeout=10) == 0
    finally:
        watch.stop()


def test_invoke_runs_every_sample_against_its_function(stack: RunningStack) -> None:
    for path in events.samples():
        function = events.function_for(path)
        result = roomcast(stack, "invoke", function, "-e", str(path))
        assert result.returncode == 0, f"{path.name}: {result.stderr[-2000:]}"
        json.loads(result.stdout)  # the function's response, and only that, on stdout
