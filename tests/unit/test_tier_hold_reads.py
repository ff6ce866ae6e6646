"""The StreamFunction's read of a room's hold on the second tier (issue 10 points 2 and 5, review of cross10):
issued beside the room's subscription Queries, so a small room waits for no extra request before its single
hop, read once per room per batch, and a failure of it fails the room's records before anything is posted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from test_membership_cut_rules import FRAME_LIMIT, comment, subscribe_all, texts
from test_tier_hold_failures import DedupQueue

from roomcast.domain.chat import Room
from roomcast.domain.commands import Command, LeaveChatRoom
from roomcast.domain.events import Outcome
from roomcast.domain.tier_hold import TierHold, hold_seconds
from roomcast.usecases.ports import Store
from roomcast.usecases.second_tier import SecondTier, read_alongside
from roomcast.usecases.stream import LiveProcessor
from support.memory import MemoryTable
from support.memory_tier import MemoryTierHolds
from support.recording import RecordingPoster

Send = Callable[..., list[dict[str, Any]]]
HOLD = hold_seconds(30, 3)


class ObservedHolds(MemoryTierHolds):
    """Tells when a read has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()

    def read(self, feed: str) -> TierHold | None:
        self.reading.set()
        return super().read(feed)


@pytest.fixture
def subscribed(art: Room, connect: Any, send: Send, poster: RecordingPoster) -> None:
    """Alice and bob each subscribed to art from one connection, nothing posted yet."""
    subscribe_all(art, connect, send, poster)


def processor(store: Store, poster: RecordingPoster, holds: MemoryTierHolds) -> LiveProcessor:
    tier = SecondTier(DedupQueue(), 10, 4, 256 * 1024, holds, HOLD)
    return LiveProcessor(store, poster, FRAME_LIMIT, max_workers=4, out_of_time=lambda: False, second_tier=tier)


def test_the_hold_is_read_while_the_subscriptions_are() -> None:
    holds = ObservedHolds()
    tier = SecondTier(DedupQueue(), 10, 4, 256 * 1024, holds, HOLD)

    # The subscriptions' read waits for the hold's to begin: read one after the other, it would wait in vain
    seen, hold = read_alongside(tier, "art#i1", lambda: holds.reading.wait(timeout=60))

    assert seen is True and hold is None and holds.reads == 1


def test_a_small_rooms_batch_reads_its_hold_once_and_takes_the_single_hop(
    subscribed: None, apply: Callable[[Command], Outcome], poster: RecordingPoster, store: Store, table: MemoryTable
) -> None:
    holds = MemoryTierHolds()
    comment(apply, "alice", "hello")

    report = processor(store, poster, holds).deliver(table.drain())

    assert report.failed_sequences == set() and holds.reads == 1
    assert texts(poster.frames("c-bob")) == ["hello"]


def test_a_hold_that_cannot_be_read_fails_the_room_before_any_post_exits_included(
    subscribed: None, apply: Callable[[Command], Outcome], poster: RecordingPoster, store: Store, table: MemoryTable
) -> None:
    # Given a batch with a comment and bob's leave (an exit, posted before the room's frames)
    comment(apply, "alice", "before bob left")
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    changes = table.drain()
    holds = MemoryTierHolds()
    holds.unreadable = True

    # When the room's hold cannot be read
    report = processor(store, poster, holds).deliver(changes)

    # Then the room's records are retried and nothing was posted, so the retry duplicates nothing
    assert report.failed_sequences == {c.sequence for c in changes} and poster.posts == []
    holds.unreadable = False
    assert processor(store, poster, holds).deliver(changes).failed_sequences == set()
    assert texts(poster.frames("c-bob")) == ["before bob left", "memberLeft"]
    assert texts(poster.frames("c-alice")) == ["before bob left", "memberLeft"]
