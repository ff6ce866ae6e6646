"""The kept copy of a room's subscription shards: served only under the token and within the age it was
read with, and bounded in size; the heads a deletion touches."""

from __future__ import annotations

from roomcast.adapters.dynamodb import items, keys
from roomcast.adapters.dynamodb.subscriber_heads import KeptShards, heads_for, tokens_of
from roomcast.domain.chat import Subscription

FEED = "live#inc1"


def subscriptions(count: int, shard: int = 0) -> list[Subscription]:
    return [
        Subscription(
            connection_id=f"c{n}", user_id="ann", room_id="live", incarnation="inc1", expires_at=9, shard=shard
        )
        for n in range(count)
    ]


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_shard_is_served_under_its_token_and_until_it_is_max_age_old() -> None:
    clock = Clock()
    kept = KeptShards(max_age=10, clock=clock)
    kept.put(FEED, 3, "t1", subscriptions(2), read_at=clock.now)

    assert kept.get(FEED, 3, "t1") == subscriptions(2)
    assert kept.get(FEED, 3, "t2") is None  # the head changed
    assert kept.get(FEED, 3, None) is None  # the head is gone
    assert kept.get(FEED, 4, "t1") is None
    clock.now += 9.9
    assert kept.get(FEED, 3, "t1") == subscriptions(2)
    clock.now += 0.1
    assert kept.get(FEED, 3, "t1") is None


def test_no_head_is_a_token_too() -> None:
    kept = KeptShards(clock=Clock())
    kept.put(FEED, 0, None, [], read_at=100.0)

    assert kept.get(FEED, 0, None) == []
    assert kept.get(FEED, 0, "t1") is None  # a subscribe put the first head


def test_the_oldest_shards_are_forgotten_beyond_the_limit_and_a_shard_read_again_replaces_itself() -> None:
    kept = KeptShards(limit=5, clock=Clock())
    kept.put(FEED, 0, "a", subscriptions(2), read_at=100.0)
    kept.put(FEED, 1, "b", subscriptions(2), read_at=100.0)
    kept.put(FEED, 1, "c", subscriptions(3), read_at=100.0)  # replaces b's copy: 5 kept
    assert len(kept) == 5 and kept.get(FEED, 0, "a") is not None

    kept.put(FEED, 2, "d", subscriptions(1), read_at=100.0)

    assert len(kept) == 4
    assert kept.get(FEED, 0, "a") is None
    assert kept.get(FEED, 1, "c") is not None and kept.get(FEED, 2, "d") is not None


def test_one_copy_bigger_than_the_limit_is_still_kept() -> None:
    kept = KeptShards(limit=3, clock=Clock())
    kept.put(FEED, 0, "a", subscriptions(10), read_at=100.0)

    assert kept.get(FEED, 0, "a") == subscriptions(10)


def test_a_deletion_puts_one_new_head_per_room_shard_it_touched() -> None:
    doomed = [
        items.subscriber_key(FEED, "c1", 2),
        items.subscription_key("c1", FEED),
        items.subscriber_key(FEED, "c2", 2),
        items.subscriber_key(FEED, "c3", 0),
        {"PK": keys.connection_pk("c1"), "SK": keys.META},
    ]

    heads = heads_for(doomed, now=1_000)

    assert sorted(h["PK"] for h in heads) == sorted([keys.subscribers_pk(FEED, 0), keys.subscribers_pk(FEED, 2)])
    assert all(h["SK"] == keys.SUBSCRIBERS_HEAD and h["ExpiresAt"] == 1_000 + 86_400 for h in heads)
    assert len({h["Token"] for h in heads}) == 2
    by_shard = tokens_of(heads)
    assert set(by_shard) == {0, 2} and set(by_shard.values()) == {h["Token"] for h in heads}


def test_empty_shards_count_as_one_so_quiet_rooms_are_forgotten_too() -> None:
    kept = KeptShards(limit=3, clock=Clock())
    for room in range(5):
        kept.put(f"quiet{room}#inc", 0, None, [], read_at=100.0)

    assert len(kept) == 3
    assert kept.get("quiet0#inc", 0, None) is None and kept.get("quiet4#inc", 0, None) == []
