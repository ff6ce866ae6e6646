"""Function workers: the function's Timeout bounds an invocation, not the cold start before it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roomcast_local.template import FunctionSpec
from roomcast_local.workers import FunctionError, WorkerPool

# Imports that take twice the function's 1 s Timeout, then a handler that answers at once or sleeps.
APP = """
import time

time.sleep(float(__import__("os").environ.get("INIT_SECONDS", "0")))


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"echo": event.get("value")}
"""


@pytest.fixture
def pool(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WorkerPool]:
    (tmp_path / "app.py").write_text(APP)
    init_seconds = getattr(request, "param", "2")
    spec = FunctionSpec("SlowFunction", tmp_path, "app", "handler", {"INIT_SECONDS": init_seconds}, 1, 128)
    workers = WorkerPool(spec, {}, lambda _source, _line: None, size=1)
    yield workers
    workers.stop()


def test_a_cold_start_longer_than_the_timeout_is_not_a_timeout(pool: WorkerPool) -> None:
    assert pool.invoke({"value": 1}) == {"echo": 1}
    assert pool.invoke({"value": 2}) == {"echo": 2}, "the same warm worker answers again"


@pytest.mark.parametrize("pool", ["0"], indirect=True)
def test_an_invocation_longer_than_the_timeout_fails_and_the_next_gets_a_new_worker(pool: WorkerPool) -> None:
    with pytest.raises(FunctionError, match="timed out after 1 s"):
        pool.invoke({"sleep": 3})

    assert pool.invoke({"value": 3}) == {"echo": 3}


def test_a_cold_start_past_the_init_limit_fails_the_invocation(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    spec = FunctionSpec("StuckFunction", tmp_path, "app", "handler", {"INIT_SECONDS": "5"}, 1, 128)
    workers = WorkerPool(spec, {}, lambda _source, _line: None, size=1)
    workers.init_timeout = 1.5
    try:
        with pytest.raises(FunctionError, match=r"init failed or took over 1\.5 s"):
            workers.invoke({})
    finally:
        workers.stop()


def test_a_handler_that_cannot_load_fails_the_invocation(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("raise ImportError('no such dependency')\n")
    spec = FunctionSpec("BrokenFunction", tmp_path, "app", "handler", {}, 1, 128)
    workers = WorkerPool(spec, {}, lambda _source, _line: None, size=1)
    try:
        with pytest.raises(FunctionError, match="init failed"):
            workers.invoke({})
    finally:
        workers.stop()
