"""Wakes the local stack's stream pollers when the embedded moto appends a stream record.

An idle stream shard was polled every 50 ms: two requests (DescribeStream, GetRecords) through
botocore and moto's server, forty a second per stream, whether anything was written or not, and a
comment still waited up to 50 ms for the next poll. With the embedded endpoint the stack can know
when a record is written: moto 5.2.5 appends every record through ``StreamShard.add``, which this
wraps to count and notify. A poller waits for the count to move past what it saw before its last
poll (so a record written during that poll wakes it at once), or for the stack's fallback interval.
An outside endpoint (``--aws-endpoint``) sends no signal: its pollers keep polling on the interval.

``apply()`` is idempotent; ``revert()`` undoes it; ``wake()`` releases every waiter (the stack's stop).
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.models.table import StreamShard

_changed = threading.Condition()
_count = 0
_saved: dict[str, Any] = {}


def apply() -> None:
    if _saved:
        return
    original = StreamShard.add

    def add(self: StreamShard, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        wake()

    _saved["add"] = original
    StreamShard.add = add  # type: ignore[method-assign]


def revert() -> None:
    if _saved:
        StreamShard.add = _saved.pop("add")  # type: ignore[method-assign]


def seen() -> int:
    """What a poller notes before it polls, to wait past afterwards."""
    with _changed:
        return _count


def wake() -> None:
    global _count
    with _changed:
        _count += 1
        _changed.notify_all()


def wait_past(count: int, timeout: float) -> bool:
    """Until a record is written after ``count`` was seen (True), or ``timeout`` seconds (False)."""
    with _changed:
        return _changed.wait_for(lambda: _count != count, timeout)
