"""Limits per client, enforced before a request reaches the routes: message rate, connections per user,
subscriptions per connection. Refusals are domain errors; the edges turn them into frames or statuses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aws_lambda_powertools import Logger

from roomcast.domain.ids import Clock, system_clock
from roomcast.domain.quotas import MessageRate, QuotaExceeded, Throttled

logger = Logger(child=True)


class Limiter(Protocol):
    """Where the counts live (adapters/dynamodb/quotas.py): shared by every container of a function."""

    def take(self, connection_id: str, now_ms: int, rate: MessageRate) -> int:
        """0 when the connection's bucket admits one more message; else its strikes so far, this one included."""

    def claim_slot(self, user_id: str, connection_id: str, slots: int, expires_at: int, now_s: int) -> bool:
        """One of the user's ``slots`` slots for this connection until ``expires_at``; False if all are taken."""

    def release_slot(self, user_id: str, connection_id: str) -> None: ...

    def subscribed_rooms(self, connection_id: str) -> set[str]:
        """The rooms this connection holds subscriptions to (strongly consistent)."""


@dataclass(frozen=True)
class Quotas:
    rate: MessageRate = field(default_factory=MessageRate)
    connections_per_user: int = 10
    subscriptions_per_connection: int = 20


class Guard:
    def __init__(
        self, limiter: Limiter, quotas: Quotas, hangup: Callable[[str], None], clock: Clock = system_clock
    ) -> None:
        self.limiter, self.quotas, self.hangup, self.clock = limiter, quotas, hangup, clock

    def admit_message(self, connection_id: str) -> None:
        """Throttled past the connection's rate; at the last strike, ``closing`` (then call ``close``)."""
        strikes = self.limiter.take(connection_id, self.clock(), self.quotas.rate)
        if not strikes:
            return
        rate = self.quotas.rate
        left = max(0, rate.strikes - strikes)
        raise Throttled(
            f"more than {rate.per_second:g} messages/s (bursts of {rate.burst}); "
            + (f"{left} more refusals close the connection" if left else "closing the connection"),
            closing=not left,
        )

    def close(self, connection_id: str) -> None:
        """After the last refusal's frame: the client learns why before the connection closes."""
        logger.warning("closing an abusive connection", extra={"connectionId": connection_id})
        self.hangup(connection_id)

    def admit_connection(self, user_id: str, connection_id: str, expires_at: int) -> bool:
        admitted = self.limiter.claim_slot(
            user_id, connection_id, self.quotas.connections_per_user, expires_at, self.clock() // 1000
        )
        if not admitted:
            quota = self.quotas.connections_per_user
            logger.info("connection refused: quota", extra={"userId": user_id, "quota": quota})
        return admitted

    def release(self, user_id: str, connection_id: str) -> None:
        self.limiter.release_slot(user_id, connection_id)

    def admit_subscription(self, connection_id: str, room_id: str) -> None:
        """A subscription to a room already held is a rewrite, not one more."""
        held = self.limiter.subscribed_rooms(connection_id) - {room_id}
        if len(held) >= self.quotas.subscriptions_per_connection:
            raise QuotaExceeded(
                f"at most {self.quotas.subscriptions_per_connection} rooms per connection; unsubscribe from one first"
            )
