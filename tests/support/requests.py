"""Counting the requests a piece of code makes, through botocore's event hooks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def counted(client: Any) -> Iterator[Counter[str]]:
    """Counts every API call the client makes (retries excluded), by operation name; the calls may come
    from several threads at once (a room's subscription shards are read in parallel)."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:
        with lock:
            calls[model.name] += 1

    client.meta.events.register("before-call", count)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call", count)
