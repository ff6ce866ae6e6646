"""The FanoutFunction renews a room's hold when a slice is not done on receipt (issue 10 point 5, review of
cross10): in a FIFO message group a slice is received only once its predecessor is posted or dead-lettered,
so a hold timed from the send alone lapses while a slice behind a retried one is still queued.
"""

from __future__ import annotations

import pytest
from test_slice_groups import FRAMES, NOW, subscribers
from test_tier_hold_failures import DedupQueue, room

from roomcast.domain.errors import TransientError
from roomcast.domain.tier_hold import hold_seconds
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import HoldRenewal, SecondTier, deliver_slice
from roomcast.wire.slices import FanoutSlice
from support.memory_tier import MemoryTierHolds
from support.recording import RecordingPoster

FEED = "art#i1"
HOLD = hold_seconds(30, 3)  # 120 s: the template's FanoutQueue


def slice_of(queue: DedupQueue, batch: str) -> FanoutSlice:
    return next(piece for piece, _ in queue.sent if piece.batch == batch)


def test_the_hold_outlasts_a_slice_queued_behind_a_retried_one_in_its_group(store: Store) -> None:
    # Given a room of 11 held from w, and two batches sent just before the hold would be renewed (not renewed)
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD)
    renewal = HoldRenewal(holds, HOLD)
    second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "stream:1")
    t = NOW + HOLD - 1
    second.hand_off(FEED, FRAMES, subscribers(room(11)), t - 1, "stream:2")
    second.hand_off(FEED, FRAMES, subscribers(room(11)), t, "stream:3")
    assert len(holds.writes) == 1

    # When batch 2's slice reaches nobody on each of its 3 receives (t-1, t+29, t+59: dead-lettered at t+89)
    poster = RecordingPoster()
    poster.failing = set(room(11))
    piece = slice_of(queue, "stream:2")
    for received in (t - 1, t + 29, t + 59):
        with pytest.raises(TransientError):
            deliver_slice(piece, poster, store.connections, 1, now=received, renewal=renewal)

    # Then batch 3's slice, received only from t+89 and posted by t+129, is still covered at t+122
    assert second.hand_off(FEED, FRAMES, subscribers(room(10)), t + 122, "stream:4") is not None
    assert holds.holds[FEED].until >= t + 59 + HOLD and holds.holds[FEED].buckets == 4


def test_a_slice_posted_on_receipt_renews_nothing(store: Store) -> None:
    queue, holds = DedupQueue(), MemoryTierHolds()
    SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD).hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "s:1")

    deliver_slice(
        slice_of(queue, "s:1"), RecordingPoster(), store.connections, 1, now=NOW, renewal=HoldRenewal(holds, HOLD)
    )

    assert len(holds.writes) == 1


def test_a_renewal_that_fails_is_counted_and_the_slice_still_retried(store: Store) -> None:
    queue, holds = DedupQueue(), MemoryTierHolds()
    SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD).hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "s:1")
    poster = RecordingPoster()
    poster.failing = set(room(11))
    holds.unwritable = True

    with pytest.raises(TransientError, match="reached nobody"):
        deliver_slice(
            slice_of(queue, "s:1"), poster, store.connections, 1, now=NOW + 60, renewal=HoldRenewal(holds, HOLD)
        )
    assert holds.holds[FEED].until == int(NOW) + 2 * HOLD


def test_a_renewal_never_shortens_the_hold_and_without_one_starts_with_one_bucket() -> None:
    holds = MemoryTierHolds()
    holds.extend(FEED, 500)
    holds.extend(FEED, 400)

    assert (holds.holds[FEED].until, holds.holds[FEED].buckets) == (500, 1)
