"""Ctrl-C on the local stack: seconds from SIGINT until every process of it is gone, with 20,000 comments in
its table beside empty tables; and what restoring them adds to the start.

The stack is started as `make run` starts it (`python -m roomcast_local up`, free loopback ports, a temporary
state dir) on a state dir that already holds the saved tables, so it restores them at start and saves them
again on the way down: the stop measured includes that save. The saved tables are written by Roomcast's own
code on in-process moto (the service creates the room and its members, the repository writes the comments,
transactions batched by BulkWriter), then saved by snapshot.Tables: the items a developer's stack would keep.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.local import BulkWriter, chat_on_moto
from bench.results import Figure
from roomcast.adapters import aws_clients
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.domain import ids
from roomcast.models import CommentView, CreateChatRoom, JoinChatRoom
from roomcast.usecases import commands
from roomcast_local import snapshot, template
from roomcast_local.processes import child_processes, free_port

ROOT = Path(__file__).resolve().parents[1]
ROOM = "archive"
MEMBERS = 20
_RESTORED = re.compile(r"restored (\d+) items from .* in ([0-9.]+) s")


@dataclass(frozen=True)
class Sizes:
    comments: int
    repeats: int

    @property
    def tenth(self) -> int:
        """The restore's baseline: a table a tenth the size, to read how the restore grows with it."""
        return self.comments // 10


FULL = Sizes(comments=20_000, repeats=3)
SMOKE = Sizes(comments=200, repeats=1)


@dataclass(frozen=True)
class Run:
    ready_seconds: float  # start of the process until it prints its endpoints
    restored_seconds: float  # what the stack reports the restore took (0 with nothing to restore)
    stop_seconds: float  # SIGINT until the process and every child of it are gone
    saved_items: int  # items in the file the stop wrote


def run(smoke: bool) -> list[Figure]:
    sizes = SMOKE if smoke else FULL
    with tempfile.TemporaryDirectory(prefix="roomcast-bench-stop-") as directory:
        empty_dir, tenth_dir, full_dir = Path(directory, "empty"), Path(directory, "tenth"), Path(directory, "full")
        empty_dir.mkdir()
        seeded = _save_tables(full_dir, sizes.comments)
        _save_tables(tenth_dir, sizes.tenth)
        # Interleaved, so that a machine busier in one part of the run does not favour one case.
        empty: list[Run] = []
        tenth: list[Run] = []
        full: list[Run] = []
        for _ in range(sizes.repeats):
            empty.append(_start_and_stop(empty_dir))
            tenth.append(_start_and_stop(tenth_dir))
            full.append(_start_and_stop(full_dir))
    if any(r.saved_items != seeded for r in full):
        raise RuntimeError(f"the stop saved {[r.saved_items for r in full]} items, not the {seeded} restored")
    workload = f"{sizes.comments:,} comments in one room of {MEMBERS} members ({seeded:,} items), idle stack"
    repeats = f"median of {sizes.repeats} starts and stops, interleaved with the baseline's"
    return [
        Figure(
            "stop/sigint-to-all-gone",
            workload,
            _median(full, "stop_seconds"),
            "s",
            _median(empty, "stop_seconds"),
            "the same with empty tables",
            f"SIGINT until the stack's process and all its workers have exited, the save of the tables included; "
            f"{repeats}",
        ),
        Figure(
            "stop/restore-at-start",
            workload,
            _median(full, "restored_seconds"),
            "s",
            _median(tenth, "restored_seconds"),
            f"the same with {sizes.tenth:,} comments",
            f"as the stack reports it (reading tables.json, putting every item into moto's tables); {repeats}",
        ),
        Figure(
            "stop/ready",
            workload,
            _median(full, "ready_seconds"),
            "s",
            _median(empty, "ready_seconds"),
            "the same with empty tables",
            f"process start until the stack prints its endpoints; {repeats}",
        ),
    ]


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def _save_tables(state_dir: Path, comments: int) -> int:
    """The tables a stack holding ``comments`` comments saves, written into ``state_dir``; returns the items."""
    with chat_on_moto("bench-stop") as chat:
        seed = BulkWriter(aws_clients.dynamodb())
        store = dynamodb_store(chat.table_name, seed)
        members = [f"m{n:02d}" for n in range(MEMBERS)]
        commands.apply(CreateChatRoom(room_id=ROOM, user_id=members[0]), store)
        seed.flush()
        for member in members[1:]:
            commands.apply(JoinChatRoom(room_id=ROOM, user_id=member), store)
        seed.flush()
        room = store.rooms.get_room(ROOM)
        assert room is not None
        # The repository's own write (what addComment does once its checks pass), without the service's
        # reads: 20,000 of those on moto would take minutes, and add nothing to what is saved.
        for n in range(comments):
            position = ids.new_ulid()
            created_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            author = members[n % MEMBERS]
            comment = CommentView(
                comment_id=position, user_id=author, text=f"comment {n:05d}", created_at=created_at, position=position
            )
            store.comments.put_comment(room, comment)
        seed.flush()
        names = {logical: chat.provisioned.refs[logical] for logical in template.resources(template.load(), _TABLE)}
        return snapshot.Tables(names, chat.provisioned.refs["AWS::Region"]).save(state_dir / snapshot.FILE_NAME)


_TABLE = "AWS::DynamoDB::Table"


def _start_and_stop(state_dir: Path) -> Run:
    log = state_dir / "up.log"
    log.unlink(missing_ok=True)
    arguments = ["up", "--aws-port", str(free_port()), "--ws-port", str(free_port()), "--state-dir", str(state_dir)]
    # As `make run` runs it: the functions get the template's Powertools settings, not this process's.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    environment.update({"ROOMCAST_LOCAL_STATE": str(state_dir / "local-stack.json"), "PYTHONUNBUFFERED": "1"})
    began = time.monotonic()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roomcast_local", *arguments], stdout=out, stderr=subprocess.STDOUT, env=environment
        )
    try:
        ready = _wait_ready(process, log, began)
        children = child_processes(process.pid)
        stopped = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in children):
            time.sleep(0.005)
        stop_seconds = time.monotonic() - stopped
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    if process.returncode != 0:
        raise RuntimeError(f"the stack exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
    restored = _RESTORED.search(log.read_text(errors="replace"))
    saved = json.loads((state_dir / snapshot.FILE_NAME).read_text()) if restored else {"tables": {}}
    return Run(
        ready_seconds=ready,
        restored_seconds=float(restored.group(2)) if restored else 0.0,
        stop_seconds=stop_seconds,
        saved_items=sum(len(items) for items in saved["tables"].values()),
    )


def _wait_ready(process: subprocess.Popen[bytes], log: Path, began: float) -> float:
    deadline = began + 120
    while "Ctrl-C to stop." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the local stack did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.02)
    return time.monotonic() - began


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return False
