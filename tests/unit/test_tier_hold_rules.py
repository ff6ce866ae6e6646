"""A room's hold on the second tier (domain/tier_hold.py, usecases/second_tier.py): once a room's frames went
to the fan-out queue, its later batches go there too, in the same buckets, until those slices are surely
posted, so a room dropping to the threshold never has a batch posted ahead of the one before (issue 10 point 5).
"""

from __future__ import annotations

import time

from test_slice_groups import FRAMES, NOW, Queue, subscribers

from roomcast.domain.tier_hold import HOLD_MARGIN_SECONDS, TierHold, buckets_while_held, hold_seconds, renewed
from roomcast.settings import StreamSettings
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import SecondTier, hand_off_or_post
from roomcast_local import template
from support.memory_tier import MemoryTierHolds
from support.recording import RecordingPoster

FEED = "art#i1"
HOLD = hold_seconds(30, 3)


def tier(queue: Queue, holds: MemoryTierHolds, threshold: int = 10, slice_size: int = 4) -> SecondTier:
    return SecondTier(queue, threshold, slice_size, 256 * 1024, holds, HOLD)


def room(size: int) -> list[str]:
    return [f"c{n:03d}" for n in range(size)]


def groups(queue: Queue, batch: str) -> dict[str, str]:
    """Each connection's message group for that batch's slices."""
    return {t.connection_id: group for piece, group in queue.sent if piece.batch == batch for t in piece.targets}


def test_the_hold_covers_every_receive_of_a_slice_and_a_margin() -> None:
    assert hold_seconds(30, 3) == 90 + HOLD_MARGIN_SECONDS


def test_a_hold_is_written_when_none_covers_the_bound_and_lasts_twice_it() -> None:
    assert renewed(None, NOW, 100, 2) == TierHold(int(NOW) + 200, 2)
    assert renewed(TierHold(int(NOW) + 150, 2), NOW, 100, 2) is None
    assert renewed(TierHold(int(NOW) + 99, 2), NOW, 100, 2) == TierHold(int(NOW) + 200, 2)
    assert renewed(TierHold(int(NOW) + 150, 2), NOW, 100, 4) == TierHold(int(NOW) + 200, 4)


def test_while_held_the_bucket_count_never_shrinks_and_after_it_is_the_rooms_own() -> None:
    assert buckets_while_held(TierHold(int(NOW) + 1, 8), 2, NOW) == 8
    assert buckets_while_held(TierHold(int(NOW) + 1, 8), 16, NOW) == 16
    assert buckets_while_held(TierHold(int(NOW), 8), 2, NOW) == 2
    assert buckets_while_held(None, 2, NOW) == 2


def test_a_room_dropping_to_the_threshold_stays_on_the_tier_while_held() -> None:
    # Given a room of 11 above a threshold of 10, handed to the tier
    queue, holds = Queue(), MemoryTierHolds()
    second = tier(queue, holds)
    assert second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "stream:1-1") is not None
    [(_, written)] = holds.writes

    # When its next batch finds it at the threshold (one left)
    handed = second.hand_off(FEED, FRAMES, subscribers(room(10)), NOW + 1, "stream:2-2")

    # Then that batch goes through the tier too, behind the first one in each connection's group
    assert handed is not None and handed.delivered == 10
    before, after = groups(queue, "stream:1-1"), groups(queue, "stream:2-2")
    assert after == {c: g for c, g in before.items() if c in after}
    assert written.until == int(NOW) + 2 * HOLD and len(holds.writes) == 1, "written once while it covers the bound"


def test_after_the_hold_a_room_at_the_threshold_takes_the_single_hop_again() -> None:
    queue, holds = Queue(), MemoryTierHolds()
    second = tier(queue, holds)
    second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW, "stream:1-1")
    until = holds.holds[FEED].until

    assert second.hand_off(FEED, FRAMES, subscribers(room(10)), until, "stream:2-2") is None
    assert second.hand_off(FEED, FRAMES, subscribers(room(10)), until - 1, "stream:3-3") is not None


def test_a_small_room_never_on_the_tier_reads_its_hold_and_takes_the_single_hop() -> None:
    queue, holds = Queue(), MemoryTierHolds()

    assert tier(queue, holds).hand_off(FEED, FRAMES, subscribers(room(3)), NOW) is None
    assert (holds.reads, holds.writes, queue.sent) == (1, [], [])


def test_a_shrinking_room_keeps_its_bucket_count_so_nobody_changes_group() -> None:
    # Given a room of 40 in slices of 4 (16 buckets), then 13 left (12 would need 4 buckets)
    queue, holds = Queue(), MemoryTierHolds()
    second = tier(queue, holds)
    second.hand_off(FEED, FRAMES, subscribers(room(40)), NOW, "stream:1-1")
    before = groups(queue, "stream:1-1")

    second.hand_off(FEED, FRAMES, subscribers(room(13)), NOW + 1, "stream:2-2")

    after = groups(queue, "stream:2-2")
    assert after == {c: before[c] for c in room(13)}
    assert holds.holds[FEED].buckets == 16


def test_a_single_hop_rest_holds_the_room_and_its_next_batch_follows_in_the_same_groups(store: Store) -> None:
    # Given a room of 10 at the threshold posted in the single hop, its deadline already passed: one connection
    # is posted to, the rest is handed to the queue
    queue, holds = Queue(), MemoryTierHolds()
    second = tier(queue, holds)
    now = time.time()  # hand_off_or_post reads the clock
    subs = [s.model_copy(update={"expires_at": int(now) + 600}) for s in subscribers(room(10))]
    result = hand_off_or_post(second, FEED, FRAMES, subs, RecordingPoster(), store.connections, 1, 0.0, queue, "s:1")
    assert result.delivered == 10 and queue.sent
    rest = {t.connection_id: group for piece, group in queue.sent for t in piece.targets}

    # When the next batch finds the room as small
    assert second.hand_off(FEED, FRAMES, subs, now + 1, "s:2") is not None

    # Then it goes behind the rest in the same groups (cut by the room's size, not the rest's)
    assert {c: g for c, g in groups(queue, "s:2").items() if c in rest} == rest


def test_without_holds_the_tier_is_chosen_by_the_live_count_alone() -> None:
    queue = Queue()
    second = SecondTier(queue, 10, 4, 256 * 1024)

    assert second.hand_off(FEED, FRAMES, subscribers(room(11)), NOW) is not None
    assert second.hand_off(FEED, FRAMES, subscribers(room(10)), NOW + 1) is None


def test_the_hold_bound_matches_the_fanout_queues_visibility_and_receives() -> None:
    queue = template.load()["Resources"]["FanoutQueue"]["Properties"]
    settings = StreamSettings.model_validate({"TABLE_NAME": "t", "WEBSOCKET_CALLBACK_URL": "https://example.com/prod"})

    assert settings.fanout_visibility_seconds == queue["VisibilityTimeout"]
    assert settings.fanout_max_receives == queue["RedrivePolicy"]["maxReceiveCount"]
    for function in ("StreamFunction", "FanoutFunction"):
        environment = template.load()["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert environment["FANOUT_VISIBILITY_SECONDS"] == str(queue["VisibilityTimeout"]), function
        assert environment["FANOUT_MAX_RECEIVES"] == str(queue["RedrivePolicy"]["maxReceiveCount"]), function
