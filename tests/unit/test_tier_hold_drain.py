"""A room leaves the tier once its queued slices are all done, not only once its hold has lapsed (issue 10
point 5, review of cross10): the hold counts the slices sent under it and the FanoutFunction those done, so a
small but busy room takes the single hop again, and a room that shrank gets its own bucket count back.
"""

from __future__ import annotations

import pytest
from test_slice_groups import FRAMES, NOW, subscribers
from test_tier_hold_failures import DedupQueue, room

from roomcast.domain.errors import TransientError
from roomcast.domain.tier_hold import TierHold, held, hold_seconds
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import HoldRenewal, SecondTier, deliver_slice
from support.memory_tier import MemoryTierHolds
from support.recording import RecordingPoster

FEED = "art#i1"
HOLD = hold_seconds(30, 3)


def posted(queue: DedupQueue, batch: str, store: Store, renewal: HoldRenewal, poster: RecordingPoster) -> None:
    """The FanoutFunction posts every slice of that batch."""
    for piece, _ in queue.sent:
        if piece.batch == batch:
            deliver_slice(piece, poster, store.connections, 1, now=NOW, renewal=renewal)


def test_a_held_room_takes_the_single_hop_once_its_slices_are_all_done(store: Store) -> None:
    # Given a room of 11 handed to the tier, then down to 1 and held
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD)
    renewal, poster = HoldRenewal(holds, HOLD), RecordingPoster()
    second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "stream:1")
    assert second.hand_off(FEED, FRAMES, subscribers(room(1)), NOW + 1, "stream:2") is not None
    posted(queue, "stream:1", store, renewal, poster)

    # While batch 2's slice is queued the room stays on the tier; once it is done, it takes the single hop
    assert second.hand_off(FEED, FRAMES, subscribers(room(1)), NOW + 2, "stream:3") is not None
    posted(queue, "stream:2", store, renewal, poster)
    posted(queue, "stream:3", store, renewal, poster)
    assert second.hand_off(FEED, FRAMES, subscribers(room(1)), NOW + 3, "stream:4") is None


def test_a_room_that_shrank_gets_its_own_bucket_count_back_once_drained(store: Store) -> None:
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD)
    renewal, poster = HoldRenewal(holds, HOLD), RecordingPoster()
    second.hand_off(FEED, FRAMES, subscribers(room(40)), NOW, "stream:0")  # 16 buckets; 13 need 8
    second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 60, "stream:1")  # held: in the 16
    held_slices = len([p for p, _ in queue.sent if p.batch == "stream:1"])

    posted(queue, "stream:0", store, renewal, poster)
    posted(queue, "stream:1", store, renewal, poster)
    second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 120, "stream:2")

    own_slices = len([p for p, _ in queue.sent if p.batch == "stream:2"])
    assert own_slices < held_slices and holds.holds[FEED].buckets == 8


def test_a_slice_retried_or_handed_on_is_not_done(store: Store) -> None:
    queue, holds = DedupQueue(), MemoryTierHolds()
    second = SecondTier(queue, 10, 4, 256 * 1024, holds, HOLD)
    second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "stream:1")
    poster = RecordingPoster()
    poster.failing = set(room(11))
    piece = queue.sent[0][0]

    with pytest.raises(TransientError):
        deliver_slice(piece, poster, store.connections, 1, now=NOW, renewal=HoldRenewal(holds, HOLD))
    deliver_slice(
        piece,
        RecordingPoster(),
        store.connections,
        1,
        now=NOW,
        deadline=0.0,
        rest=queue,
        renewal=HoldRenewal(holds, HOLD),
    )  # its rest handed on: done once the rest is

    assert holds.holds[FEED].done == 0 and held(holds.holds[FEED], NOW)


def test_a_hold_that_counts_nothing_is_held_until_it_ends() -> None:
    assert held(TierHold(int(NOW) + 10, 1), NOW) and not held(TierHold(int(NOW) + 10, 1, sent=2, done=2), NOW)
