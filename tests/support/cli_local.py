"""The `roomcast` CLI against the running local stack, as the README's walkthrough uses it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from roomcast.adapters.dynamodb import dynamodb_store
from support.local_stack import RunningStack

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
