"""The frame-rate budget per connection (docs/capacity.md): which rooms are paced, and for how long.

Every @connections post is one request of the account's API Gateway budget, so a room of C live
subscribers given one frame per window of w seconds costs C / w posts per second. A room keeps inside its
share B_room of the budget with w >= C / B_room. Rooms of at most ``threshold`` subscribers (policy 1:
B_room / 4) are posted every stream batch, with no added latency; bigger ones get a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# SQS DelaySeconds, which ends each window: whole seconds, at most 15 minutes.
MAX_WINDOW_SECONDS = 900
# A window's comments as a flush hands them to the second tier: a slice message (SQS's 256 KiB) repeats
# the frames, JSON-escaped, for its targets. 192 KiB of escaped comments leave 64 KiB for the frames' and
# the slice's envelopes and a full slice of 500 targets (about 100 bytes each), so a full window is still
# sliced, not posted in one hop from one invocation (docs/capacity.md).
WINDOW_MAX_BYTES = 192 * 1024


@dataclass(frozen=True)
class FrameBudget:
    """B_room: the posts per second one room may ask of the account; rooms above ``threshold`` are paced."""

    room_posts_per_second: int = 8_000
    threshold: int | None = None  # None: B_room / 4 (policy 1)

    def __post_init__(self) -> None:
        if self.room_posts_per_second < 1:
            raise ValueError(f"a room's post budget must be at least 1 post/s, not {self.room_posts_per_second}")
        if self.threshold is not None and self.threshold < 0:
            raise ValueError(f"the pacing threshold must be at least 0 subscribers, not {self.threshold}")

    @property
    def pacing_threshold(self) -> int:
        return self.room_posts_per_second // 4 if self.threshold is None else self.threshold

    def window_seconds(self, live_subscribers: int) -> int | None:
        """The room's window in whole seconds (C / B_room rounded up, at least 1, at most 900), or None when
        the room is small enough to be posted every batch."""
        if live_subscribers <= self.pacing_threshold:
            return None
        return min(MAX_WINDOW_SECONDS, max(1, math.ceil(live_subscribers / self.room_posts_per_second)))


def window_start(now: float, seconds: int) -> int:
    """The window holding ``now``: windows of a room are a grid of ``seconds``-long slots of epoch time, so
    every shard's StreamFunction appends to the same one without reading anything first."""
    return int(now // seconds) * seconds


def flush_delay(start: int, seconds: int, now: float) -> int:
    """DelaySeconds for the flush of the window [start, start + seconds): its end, at least 1 s from now."""
    return min(MAX_WINDOW_SECONDS, max(1, math.ceil(start + seconds - now)))
