"""Test doubles beside the in-memory table: a poster that records what it delivers, and a clock that moves
only when told to."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from roomcast.domain.chat import Room, room_feed
from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError


class RecordingPoster:
    """The Poster port: records every frame delivered; chosen connections answer as API Gateway would.

    ``gone`` answer 410 (ConnectionGone), ``refused`` PostRefused, ``failing`` still fail after retries
    (TransientError). ``attempts`` counts every post, failed ones included, as ``ConnectionsApi`` does.
    """

    def __init__(self, observe: Callable[[str, bytes], None] | None = None) -> None:
        self.attempts = 0
        self.observe = observe  # called before each post: a test looks at the table as the post sees it
        self.gone: set[str] = set()
        self.refused: set[str] = set()
        self.failing: set[str] = set()
        self.posts: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> None:
        if self.observe is not None:
            self.observe(connection_id, data)
        with self._lock:
            self.attempts += 1
            if connection_id in self.gone:
                raise ConnectionGone(f"connection {connection_id} is gone")
            if connection_id in self.refused:
                raise PostRefused(f"post to {connection_id} refused: ForbiddenException")
            if connection_id in self.failing:
                raise TransientError(f"post to {connection_id} still failing")
            self.posts.append((connection_id, data))

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        """The frames a connection received, decoded, in the order posted."""
        with self._lock:
            return [json.loads(data) for cid, data in self.posts if cid == connection_id]

    def positions(self, connection_id: str) -> list[str]:
        """The positions of the comments a connection received, in the order received."""
        return positions(self.frames(connection_id))

    def receivers(self) -> set[str]:
        with self._lock:
            return {cid for cid, _ in self.posts}

    def clear(self) -> None:
        with self._lock:
            self.posts.clear()


class StepClock:
    """A fixed clock in milliseconds that moves only when told to."""

    def __init__(self, start_ms: int) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def step(self, ms: int = 1) -> int:
        self.now_ms += ms
        return self.now_ms


def positions(frames: Sequence[dict[str, Any]]) -> list[str]:
    """The positions of the comments in frames, in their order."""
    return [c["position"] for f in frames if f["type"] in ("comments", "history") for c in f["comments"]]


def feed_of(room: Room) -> str:
    """The feed (one incarnation of a room) the live path and the comment index name it by."""
    return room_feed(room.room_id, room.incarnation)
