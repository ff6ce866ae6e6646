"""The README's walkthrough, with the `roomcast` CLI against the running local stack."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from roomcast_local import events
from support.cli_local import Watch, applied, roomcast
from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e


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
