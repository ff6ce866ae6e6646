"""The TierHolds port in memory (usecases/second_tier.py): each room's hold, and what was read and written."""

from __future__ import annotations

from roomcast.domain.errors import TransientError
from roomcast.domain.tier_hold import TierHold


class MemoryTierHolds:
    """``unreadable`` / ``unwritable``: reads or writes fail as a throttled table's would (TransientError)."""

    def __init__(self) -> None:
        self.holds: dict[str, TierHold] = {}
        self.reads = 0
        self.writes: list[tuple[str, TierHold]] = []
        self.unreadable = False
        self.unwritable = False

    def read(self, feed: str) -> TierHold | None:
        self.reads += 1
        if self.unreadable:
            raise TransientError("DynamoDB: ProvisionedThroughputExceededException")
        return self.holds.get(feed)

    def write(self, feed: str, hold: TierHold) -> None:
        if self.unwritable:
            raise TransientError("DynamoDB: ProvisionedThroughputExceededException")
        self.writes.append((feed, hold))
        self.holds[feed] = hold

    def extend(self, feed: str, until: int) -> None:
        if self.unwritable:
            raise TransientError("DynamoDB: ProvisionedThroughputExceededException")
        stored = self.holds.get(feed)
        fresh = TierHold(until, 1) if stored is None else TierHold(max(until, stored.until), stored.buckets)
        self.writes.append((feed, fresh))
        self.holds[feed] = fresh
