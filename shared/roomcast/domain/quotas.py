"""Limits per client: how much one connection or one user may ask of what every room shares.

Each limit has its refusal here (an error frame's ``code``); docs/websocket.md lists them as quotas.
"""

from __future__ import annotations

from dataclasses import dataclass

from roomcast.domain.errors import RoomcastError


class Throttled(RoomcastError):
    """The connection sent messages faster than its rate allows; ``closing`` at its last strike."""

    code = "Throttled"

    def __init__(self, message: str, closing: bool = False) -> None:
        super().__init__(message)
        self.closing = closing


class QuotaExceeded(RoomcastError):
    """A per-client quota is used up (subscriptions per connection); the request changed nothing."""

    code = "QuotaExceeded"


@dataclass(frozen=True)
class MessageRate:
    """A token bucket: ``per_second`` messages on average, ``burst`` at once; then each refusal is a strike,
    and ``strikes`` refusals without the bucket filling up again close the connection."""

    per_second: float = 5.0
    burst: int = 10
    strikes: int = 20

    @property
    def interval_ms(self) -> int:
        """One message's worth of the bucket, in milliseconds (GCRA's emission interval)."""
        return max(1, round(1000 / self.per_second))

    @property
    def tolerance_ms(self) -> int:
        """How far ahead of now the bucket's theoretical arrival time may run: the burst less one message."""
        return (self.burst - 1) * self.interval_ms
