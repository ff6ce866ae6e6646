"""A room's hold on the second fan-out tier: once its frames went to the fan-out queue, the room stays on
the tier until those slices are surely posted (docs/capacity.md, "A room dropping to the threshold").

Without it the tier was chosen per batch from the live count alone: a batch above the threshold went to
the FIFO queue, the next one at or below it was posted at once by the StreamFunction, ahead of the first
one's slices still queued, so those connections got the later frames first. The hold also keeps the
room's bucket count from shrinking while tiered, so nobody's message group changes under a queued slice.
"""

from __future__ import annotations

from dataclasses import dataclass

# Past the last retry's visibility timeout: the FanoutFunction's timeout (10 s, template.yaml) for a slice
# received at the very end, SQS's hop to Lambda, and the clocks of two hosts.
HOLD_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class TierHold:
    until: int  # epoch seconds: the room's frames go through the tier until then, whatever its size
    buckets: int  # the bucket count (message groups) its slices were cut into: never fewer while held


def hold_seconds(visibility_timeout: int, max_receives: int) -> int:
    """How long a slice may stay unposted after it is sent: every receive of it (the fan-out queue's
    ``maxReceiveCount``) may end by its visibility timeout running out, then the margin."""
    return max_receives * visibility_timeout + HOLD_MARGIN_SECONDS


def held(hold: TierHold | None, now: float) -> bool:
    """The room's frames still go through the tier, whatever its live count."""
    return hold is not None and now < hold.until


def buckets_while_held(hold: TierHold | None, needed: int, now: float) -> int:
    """The bucket count to cut by: as many as the live count needs, never fewer than the held count, so a
    room shrinking while tiered moves nobody to another group. Counts are powers of two (nested buckets)."""
    return max(needed, hold.buckets) if hold is not None and held(hold, now) else needed


def renewed(hold: TierHold | None, now: float, seconds: int, buckets: int) -> TierHold | None:
    """The hold to write when a room's frames go to the tier now; None when the stored one already covers
    ``seconds`` from now with these buckets. A new hold lasts twice ``seconds``, so a room on the tier
    writes it about once every ``seconds``, not every batch."""
    if hold is not None and hold.until >= now + seconds and hold.buckets >= buckets:
        return None
    return TierHold(until=int(now) + 2 * seconds, buckets=buckets)
