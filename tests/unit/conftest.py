"""The rule tests' world: the production use cases on the in-memory table, a recording poster and a fixed clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import AddComment, Command, CreateChatRoom, JoinChatRoom
from roomcast.domain.errors import TransientError
from roomcast.domain.events import CommentAdded, Outcome
from roomcast.edges.websocket import handle_message
from roomcast.usecases import commands
from roomcast.usecases.ports import Store
from roomcast.usecases.stream import DeliveryReport, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from support.memory import MemoryTable, memory_store
from support.recording import RecordingPoster, StepClock

FRAME_LIMIT = 32 * 1024
CONNECTION_TTL_SECONDS = 7_500
START_MS = 1_764_097_541_000  # 2025-11-25T19:05:41Z


@pytest.fixture
def table() -> MemoryTable:
    return MemoryTable()


@pytest.fixture
def store(table: MemoryTable) -> Store:
    return memory_store(table)


@pytest.fixture
def poster() -> RecordingPoster:
    return RecordingPoster()


@pytest.fixture
def clock() -> StepClock:
    return StepClock(START_MS)


@pytest.fixture
def apply(store: Store, clock: StepClock) -> Callable[[Command], Outcome]:
    """Apply one command a millisecond after the last, so positions follow the order of the test."""

    def run(command: Command) -> Outcome:
        clock.step()
        return commands.apply(command, store, clock)

    return run


@pytest.fixture
def routes(store: Store, poster: RecordingPoster) -> Routes:
    return Routes(store, poster, CONNECTION_TTL_SECONDS, FRAME_LIMIT)


@pytest.fixture
def connect(routes: Routes) -> Callable[..., Caller]:
    """Open a connection as $connect does. Fan-out compares expiry with the wall clock, so a live
    connection is connected now and an expired one (``expired=True``) at the epoch."""
    requests = iter(range(1, 1_000_000))

    def open_connection(connection_id: str, user_id: str, expired: bool = False) -> Caller:
        connected_at = 0 if expired else time.time_ns() // 1_000_000
        caller = Caller(connection_id, user_id, connected_at, request_id=f"apigw-{next(requests)}")
        routes.connect(caller)
        return caller

    return open_connection


@pytest.fixture
def live(store: Store, poster: RecordingPoster) -> LiveProcessor:
    return LiveProcessor(store, poster, FRAME_LIMIT, max_workers=4, out_of_time=lambda: False)


@pytest.fixture
def art(apply: Callable[[Command], Outcome], table: MemoryTable) -> Room:
    """Given room art created by alice and joined by bob (the stream drained: nothing delivered yet)."""
    apply(CreateChatRoom(room_id="art", user_id="alice"))
    apply(JoinChatRoom(room_id="art", user_id="bob"))
    table.drain()
    return table.rooms["art"]


@pytest.fixture
def write(apply: Callable[[Command], Outcome]) -> Callable[..., list[CommentView]]:
    """Write n comments, alternately by alice and bob, one millisecond apart."""

    def run(n: int, room_id: str = "art", text: str = "c{index}") -> list[CommentView]:
        written = []
        for index in range(n):
            user_id = ("alice", "bob")[index % 2]
            event = apply(AddComment(room_id=room_id, user_id=user_id, text=text.format(index=index))).event
            assert isinstance(event, CommentAdded)
            written.append(event.comment)
        return written

    return run


@pytest.fixture
def send(routes: Routes, poster: RecordingPoster) -> Callable[..., list[dict[str, Any]]]:
    """Send one message on a connection as ``$default``/``subscribe``/... do; returns the frames it got back."""

    def run(caller: Caller, body: dict[str, Any] | str) -> list[dict[str, Any]]:
        before = len(poster.frames(caller.connection_id))
        handle_message(routes, caller, body if isinstance(body, str) else json.dumps(body))
        return poster.frames(caller.connection_id)[before:]

    return run


@dataclass
class BatchResult:
    report: DeliveryReport
    failed: list[str] = field(default_factory=list)


@pytest.fixture
def process_stream(table: MemoryTable, live: LiveProcessor) -> Callable[[], BatchResult]:
    """One stream batch of everything written since the last: delivery over the whole batch, then each
    record handled, a raising record failed, as ``edges/stream_batch`` and Powertools' BatchProcessor do."""

    def run() -> BatchResult:
        changes = table.drain()
        result = BatchResult(live.deliver(changes))
        for change in changes:
            try:
                live.handle(change, result.report.failed_sequences)
            except TransientError:
                result.failed.append(change.sequence)
        return result

    return run
