"""Ctrl-C stops every process of the stack, and the tables survive into the next `up` on the same state dir."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from roomcast.models import FRAME_ADAPTER, AddComment, CommentsFrame, CreateChatRoom, JoinChatRoom, SubscribedFrame
from roomcast.usecases.history import pages
from support.local_stack import ROOT, RunningStack, free_port, stack_environment, start_up

pytestmark = pytest.mark.e2e

# Generous: workers' cold starts on a loaded two-core machine. Never a measure of speed (see bench/).
DEADLINE = 60


def wait_until(predicate: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what} not met within {DEADLINE} s"
        time.sleep(0.1)
    return value


def comments(stack: RunningStack, room: str) -> list[tuple[str, str]]:
    """(text, position) of every comment of the room, in order."""
    return [(c.text, c.position) for page in pages(stack.store(), room, "all", limit=100) for c in page.comments]


def is_member(stack: RunningStack, room: str, user: str) -> bool:
    return stack.store().rooms.get_room_and_membership(room, user)[1] is not None


def frames_until(client: ClientConnection, done: Callable[[list[Any]], bool]) -> list[Any]:
    frames: list[Any] = []
    deadline = time.monotonic() + DEADLINE
    while not done(frames):
        frames.append(FRAME_ADAPTER.validate_json(client.recv(timeout=max(0.1, deadline - time.monotonic()))))
    return frames


def texts(frames: list[Any]) -> list[str]:
    return [c.text for f in frames if isinstance(f, CommentsFrame) for c in f.comments]


def stop(stack: RunningStack) -> None:
    stack.up.stop()  # SIGINT, as Ctrl-C
    assert stack.up.process is not None and stack.up.process.returncode == 0, stack.up.log.read_text()


def test_rooms_survive_a_restart_and_nothing_restored_is_delivered_again(tmp_path: Path) -> None:
    # Given a room with a member and three comments, and a stack stopped with Ctrl-C
    first = start_up(tmp_path)
    try:
        first.send(CreateChatRoom(room_id="art", user_id="alice"))
        first.send(JoinChatRoom(room_id="art", user_id="bob"))
        wait_until(lambda: is_member(first, "art", "bob"), "bob joined")
        for n in range(3):
            first.send(AddComment(room_id="art", user_id="bob", text=f"before {n}"))
        before = wait_until(lambda: len(found := comments(first, "art")) == 3 and found, "three comments")
    finally:
        stop(first)

    # When it is started again on the same state dir
    second = start_up(tmp_path)
    try:
        # Then membership and history are there, once
        assert "restored" in second.up.log.read_text()
        assert is_member(second, "art", "alice") and is_member(second, "art", "bob")
        assert comments(second, "art") == before
        # and a new subscriber gets the restored comments only as the replay it asks for,
        with second.watch("bob", "art", since=before[0][1]) as watcher:
            replay = frames_until(watcher, lambda f: any(isinstance(x, SubscribedFrame) for x in f))
            # (the replay window before since brings back "before 0" too, which a client already has)
            assert texts(replay) == ["before 0", "before 1", "before 2"]
            # while its live feed carries only what is written after the restart.
            second.send(AddComment(room_id="art", user_id="alice", text="after"))
            assert texts(frames_until(watcher, lambda f: bool(texts(f)))) == ["after"]
        # Nothing restored is on the table's stream: it can never be fanned out or applied again.
        stream_records = _stream_texts(second)
        assert stream_records == ["after"], stream_records
    finally:
        stop(second)


def _stream_texts(stack: RunningStack) -> list[str]:
    streams = stack.client("dynamodbstreams")
    arn = stack.client("dynamodb").describe_table(TableName=stack.state.outputs["ChatTableName"])["Table"][
        "LatestStreamArn"
    ]
    found: list[str] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        images = [r["dynamodb"].get("NewImage", {}) for r in records]
        found += [image["Comment"]["S"] for image in images if "Comment" in image]
    return found


def test_fresh_starts_empty_and_discards_what_was_saved(tmp_path: Path) -> None:
    first = start_up(tmp_path)
    try:
        first.send(CreateChatRoom(room_id="art", user_id="alice"))
        wait_until(lambda: is_member(first, "art", "alice"), "room created")
    finally:
        stop(first)

    fresh = start_up(tmp_path, "--fresh")
    try:
        assert not is_member(fresh, "art", "alice")
        assert fresh.client("dynamodb").scan(TableName=fresh.state.outputs["ChatTableName"])["Count"] == 0
    finally:
        stop(fresh)
    # What --fresh discarded stays discarded: the next start has the fresh run's (empty) tables.
    again = start_up(tmp_path)
    try:
        assert not is_member(again, "art", "alice")
        (tmp_path / ".tables.json.tmp").mkdir()  # where the save writes first: it fails
    finally:
        stop(again)
    assert "tables not saved" in again.up.log.read_text()


def test_saved_tables_it_cannot_read_are_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "tables.json").write_text("{not json")
    arguments = ["up", "--aws-port", str(free_port()), "--ws-port", str(free_port()), "--state-dir", str(tmp_path)]
    environment = stack_environment(tmp_path, 0)
    command = [sys.executable, "-m", "roomcast_local", *arguments]

    done = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"roomcast local stack: cannot start: cannot read the saved tables in {tmp_path / 'tables.json'}: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    ]
    assert (tmp_path / "tables.json").read_text() == "{not json"  # left for the developer to look at


def test_ctrl_c_ends_every_process_of_a_busy_stack(tmp_path: Path) -> None:
    stack = start_up(tmp_path)
    try:
        # Given a stack with a connected subscriber, applying a backlog of commands
        stack.send(CreateChatRoom(room_id="art", user_id="alice"))
        wait_until(lambda: is_member(stack, "art", "alice"), "room created")
        with stack.watch("alice", "art") as watcher:
            frames_until(watcher, lambda f: any(isinstance(x, SubscribedFrame) for x in f))
            for n in range(50):
                stack.send(AddComment(room_id="art", user_id="alice", text=f"c{n}"))
            frames_until(watcher, lambda f: bool(texts(f)))  # the first ones fanned out: workers busy
            children = {pid: started for pid in stack.up.children() if (started := _started(pid))}
            assert children, "the stack runs its functions in worker processes"

            # When it gets Ctrl-C
            assert stack.up.process is not None
            stack.up.process.send_signal(signal.SIGINT)

            # Then it exits cleanly, and so does every process it started
            assert stack.up.process.wait(timeout=DEADLINE) == 0, stack.up.log.read_text()
    finally:
        stack.up.kill()  # nothing left to kill when it passes
    wait_until(lambda: not [pid for pid, started in children.items() if _running(pid, started)], "every worker gone")


def _stat(pid: int) -> list[str] | None:
    try:
        # The fields after the command name, which may hold spaces: state is [0], start time [19].
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _started(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[19] if stat else None


def _running(pid: int, started: str) -> bool:
    """Still the same process, and not a zombie (it has exited; init reaps it)."""
    stat = _stat(pid)
    return stat is not None and stat[19] == started and stat[0] != "Z"


SECOND_CTRL_C = """
import os, signal
from roomcast_local.__main__ import _stop_on_signal
stop = _stop_on_signal(lambda: print("workers killed", flush=True))
os.kill(os.getpid(), signal.SIGINT)
stop.wait()
print("stopping", flush=True)
os.kill(os.getpid(), signal.SIGINT)
signal.pause()  # a stop still under way: the second Ctrl-C must end it
"""


def test_a_second_ctrl_c_kills_the_workers_and_exits_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SECOND_CTRL_C], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE
    )

    assert done.returncode == 128 + signal.SIGINT
    assert done.stdout.splitlines() == ["stopping", "workers killed", "killed"]
