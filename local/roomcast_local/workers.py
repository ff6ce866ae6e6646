"""Function workers: each function of the template runs in processes of its own, with its own environment."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import IO, Any

from roomcast_local.template import FunctionSpec

# How long a new worker may take to import its handler. Lambda bounds its init phase apart from the
# function's Timeout; a cold start on a loaded laptop gets more room than Lambda's 10 s.
INIT_TIMEOUT_SECONDS = 60.0


class FunctionError(Exception):
    """The handler raised (Lambda's 'Unhandled' function error), or the worker died or timed out."""


class Worker:
    def __init__(
        self,
        spec: FunctionSpec,
        base_environment: dict[str, str],
        log: Callable[[str, str], None],
        init_timeout: float = INIT_TIMEOUT_SECONDS,
    ) -> None:
        self.spec = spec
        self.init_timeout = init_timeout
        self._ready = False
        environment = {
            **os.environ,
            **base_environment,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roomcast_local.worker",
                spec.logical_id,
                str(spec.code_dir),
                spec.module,
                spec.function,
                str(spec.timeout),
                str(spec.memory),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            text=True,
            bufsize=1,
            # A group of its own: the terminal's Ctrl-C reaches only the stack, which then stops its
            # workers itself, rather than every worker dying mid-invocation and the pools starting
            # new ones (cold starts) for the invocations still queued while the stack stops.
            process_group=0,
        )
        self._ids = itertools.count()
        threading.Thread(target=self._pump, args=(self.process.stderr, log), daemon=True).start()

    def _pump(self, stream: IO[str] | None, log: Callable[[str, str], None]) -> None:
        if stream is None:
            return
        for line in stream:
            log(self.spec.logical_id, line.rstrip("\n"))

    def invoke(self, event: dict[str, Any]) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        if not self._ready:
            self._await_init()
        request_id = next(self._ids)
        try:
            self.process.stdin.write(json.dumps({"id": request_id, "event": event}) + "\n")
            self.process.stdin.flush()
        except OSError as error:  # a dead worker: crashed, or ended by a stopping pool
            raise FunctionError(f"{self.spec.logical_id}: worker exited") from error
        answer_line = _read_line(self.process.stdout, self.spec.timeout)
        if answer_line is None:
            self.stop()
            raise FunctionError(f"{self.spec.logical_id}: timed out after {self.spec.timeout} s or exited")
        answer = json.loads(answer_line)
        if "error" in answer:
            raise FunctionError(f"{self.spec.logical_id}: {answer['error']['type']}: {answer['error']['message']}")
        return answer["result"]

    def _await_init(self) -> None:
        """Until the handler is loaded: the invocation's Timeout starts after the cold start, as in Lambda."""
        assert self.process.stdout is not None
        line = _read_line(self.process.stdout, self.init_timeout)
        if line is None or not json.loads(line).get("ready"):
            self.stop()
            raise FunctionError(f"{self.spec.logical_id}: init failed or took over {self.init_timeout:g} s")
        self._ready = True

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        """For an idle worker: ended now (SIGTERM), as it holds nothing to finish. An orderly exit on
        EOF would run the interpreter's teardown, most of a second on a loaded machine."""
        if self.alive:
            self.process.terminate()

    def stop(self, deadline: float | None = None) -> None:
        """Kill it at ``deadline`` (time.monotonic()) if it has not exited by then; at once without one."""
        if deadline is not None:
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        if self.alive:
            self.process.kill()
        self.process.wait(timeout=5)


def _read_line(stream: IO[str], timeout: float) -> str | None:
    """One line, or None if none comes within ``timeout`` (the function's Lambda timeout)."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive() or not result or not result[0]:
        return None
    return result[0]


class WorkerPool:
    """Up to ``size`` warm workers for one function; an invocation takes an idle one or starts one."""

    def __init__(
        self, spec: FunctionSpec, base_environment: dict[str, str], log: Callable[[str, str], None], size: int = 4
    ) -> None:
        self.spec, self.base_environment, self.log = spec, base_environment, log
        self.init_timeout = INIT_TIMEOUT_SECONDS
        self._idle: list[Worker] = []
        self._all: list[Worker] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._closed = False

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._slots:
            with self._lock:
                if self._closed:
                    raise FunctionError(f"{self.spec.logical_id}: the stack is stopping")
                worker = self._idle.pop() if self._idle else None
                if worker is None or not worker.alive:
                    # Started under the lock, so close() sees every worker there will ever be.
                    worker = Worker(self.spec, self.base_environment, self.log, self.init_timeout)
                    self._all.append(worker)
            try:
                return worker.invoke(event)
            finally:
                self._release(worker)

    def _release(self, worker: Worker) -> None:
        with self._lock:
            if self._closed:
                worker.end()
            elif worker.alive:
                self._idle.append(worker)

    def warm(self) -> None:
        """Start one worker ahead of the first event, as provisioned concurrency would."""
        worker = Worker(self.spec, self.base_environment, self.log, self.init_timeout)
        with self._lock:
            self._all.append(worker)
            self._idle.append(worker)

    def close(self) -> list[Worker]:
        """Start no invocation from now on and tell idle workers to exit; returns every worker, to stop."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            workers = list(self._all)
        for worker in idle:
            worker.end()  # busy ones are ended as their invocation returns (_release)
        return workers

    def stop(self, grace_seconds: float = 1.0) -> None:
        """Close, then stop every worker within the grace (the stack stops all pools against one deadline)."""
        deadline = time.monotonic() + grace_seconds
        for worker in self.close():
            worker.stop(deadline)

    def kill(self) -> None:
        """Every worker killed now. Takes no lock: a signal handler calls it, maybe while close() holds it."""
        self._closed = True
        for worker in list(self._all):
            if worker.alive:
                worker.process.kill()
