"""The tier hold when DynamoDB fails (issue 10 point 5, review of cross10): a hold that cannot be read or
written fails the room's records before anything is sent, so a retry cuts the room as the first attempt
would have (no connection changes group, nothing is sent twice, nothing overtakes a queued slice).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import pytest
from test_slice_groups import FRAMES, NOW, subscribers

from roomcast.domain.errors import TransientError
from roomcast.domain.tier_hold import hold_seconds
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import SecondTier, hand_off_or_post
from roomcast.wire.slices import FanoutSlice
from support.memory_tier import MemoryTierHolds
from support.recording import RecordingPoster

FEED = "art#i1"
HOLD = hold_seconds(30, 3)


class DedupQueue:
    """The SliceQueue port as the FIFO queue keeps it: one message per deduplication id (the body's digest)."""

    def __init__(self) -> None:
        self.sent: list[tuple[FanoutSlice, str]] = []
        self.ids: set[str] = set()

    def send(self, bodies: Sequence[str], groups: Sequence[str]) -> set[int]:
        for body, group in zip(bodies, groups, strict=True):
            digest = hashlib.sha256(body.encode()).hexdigest()
            if digest not in self.ids:
                self.ids.add(digest)
                self.sent.append((FanoutSlice.model_validate_json(body), group))
        return set()


def room(size: int) -> list[str]:
    return [f"c{n:03d}" for n in range(size)]


def groups(queue: DedupQueue, batch: str) -> dict[str, str]:
    return {t.connection_id: g for piece, g in queue.sent if piece.batch == batch for t in piece.targets}


def tiered(queue: DedupQueue, holds: MemoryTierHolds) -> SecondTier:
    return SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD)


def test_a_throttled_hold_read_sends_nothing_and_the_retry_keeps_each_connections_group() -> None:
    # Given a room of 40 in 16 buckets, its hold stored
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = tiered(queue, holds)
    second.hand_off(FEED, FRAMES, subscribers(room(40)), NOW, "stream:1-1")
    before = groups(queue, "stream:1-1")

    # When the next batch's read is throttled, the room dropped to 13
    holds.unreadable = True
    with pytest.raises(TransientError):
        second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 1, "stream:2-2")
    assert groups(queue, "stream:2-2") == {} and holds.holds[FEED].buckets == 16

    # Then its retry cuts the room into the held buckets: nobody changes group
    holds.unreadable = False
    second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 2, "stream:2-2")
    after = groups(queue, "stream:2-2")
    assert after == {c: before[c] for c in room(13)}
    assert holds.holds[FEED].buckets == 16


def test_a_retried_stream_batch_whose_first_read_and_write_failed_is_sent_once() -> None:
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = tiered(queue, holds)
    second.hand_off(FEED, FRAMES, subscribers(room(40)), NOW, "stream:1-1")
    holds.unreadable = holds.unwritable = True
    with pytest.raises(TransientError):
        second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 1, "stream:2-2")
    holds.unreadable = holds.unwritable = False

    second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 2, "stream:2-2")

    copies = [t.connection_id for piece, _ in queue.sent if piece.batch == "stream:2-2" for t in piece.targets]
    assert sorted(copies) == room(13)


def test_a_failed_hold_write_sends_nothing_so_no_later_batch_overtakes_it() -> None:
    # Given a room of 11 whose hold cannot be written
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = tiered(queue, holds)
    holds.unwritable = True

    # Then its batch fails (its records are retried), nothing queued that nothing holds the room behind
    with pytest.raises(TransientError):
        second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "stream:1-1")
    assert queue.sent == []

    # And once the retry is queued and held, the next batch at the threshold follows it through the tier
    holds.unwritable = False
    assert second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW + 1, "stream:1-1") is not None
    assert second.hand_off(FEED, FRAMES, subscribers(room(10)), NOW + 2, "stream:2-2") is not None


def test_a_single_hop_rest_whose_hold_cannot_be_written_is_counted_failed_and_not_sent(store: Store) -> None:
    # Given a room at the threshold posted in the single hop past its deadline, its hold unwritable
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = tiered(queue, holds)
    now = time.time()  # hand_off_or_post reads the clock
    subs = [s.model_copy(update={"expires_at": int(now) + 600}) for s in subscribers(room(10))]
    holds.unwritable = True

    result = hand_off_or_post(second, FEED, FRAMES, subs, RecordingPoster(), store.connections, 1, 0.0, queue, "s:1")

    # Then the rest is not queued (nothing would hold the room behind it) but counted, the hold read once
    assert queue.sent == [] and result.failed and result.delivered + len(result.failed) == 10
    assert holds.reads == 1
