"""The functions' recent log lines, kept in memory so the console can show them by commandId."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Log = Callable[[str, str], None]

# About an hour of a busy local stack's command lines; each is under 1 KB.
DEFAULT_CAPACITY = 5_000


@dataclass(frozen=True)
class LogLine:
    at: float  # epoch seconds when the stack received it
    source: str  # the function's logical id, or a part of the stack
    line: str  # as the function wrote it (Powertools: one JSON object)


class LogRing:
    """The last ``capacity`` lines, oldest dropped first; written by the workers' pump threads."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, source: str, line: str) -> None:
        with self._lock:
            self._lines.append(LogLine(time.time(), source, line))

    def tee(self, log: Log) -> Log:
        """A log callable that keeps each line here, then hands it on to ``log``."""

        def both(source: str, line: str) -> None:
            self.add(source, line)
            log(source, line)

        return both

    def matching(self, needles: Iterable[str], limit: int = 200) -> list[LogLine]:
        """The latest ``limit`` lines that contain any of ``needles``, oldest first."""
        wanted = [needle for needle in needles if needle]
        if not wanted:
            return []
        with self._lock:
            lines = list(self._lines)
        found = [line for line in lines if any(needle in line.line for needle in wanted)]
        return found[-limit:]
