"""The shard rule of a room's subscriptions (issue 10 point 3): stable, in range, shard 0 the old key."""

from __future__ import annotations

import subprocess
import sys
import zlib

import pytest

from roomcast.adapters.dynamodb import items, keys
from roomcast.domain.chat import Subscription
from roomcast.wire.slices import FanoutSlice, slice_bodies

FEED = "art#01KB000000000000000000000A"


def test_shard_0_is_the_key_written_before_the_spread_and_the_others_add_their_number() -> None:
    assert keys.subscribers_pk(FEED) == keys.subscribers_pk(FEED, 0) == f"Subs:{FEED}"
    assert keys.subscribers_pk(FEED, 5) == f"Subs:{FEED}#5"
    for shard in range(keys.SUBSCRIBER_SHARDS):
        assert keys.subscribers_feed_and_shard(keys.subscribers_pk(FEED, shard)) == (FEED, shard)


@pytest.mark.parametrize("shard", [-1, keys.SUBSCRIBER_SHARDS])
def test_a_shard_out_of_range_is_refused(shard: int) -> None:
    with pytest.raises(ValueError, match=r"is not in 0\.\."):
        keys.subscribers_pk(FEED, shard)


def test_the_shard_is_crc32_of_the_connection_id_the_same_in_another_process() -> None:
    ids = [f"L0SM9cOFvHcCI{n}=" for n in range(200)]
    here = [keys.subscriber_shard(i) for i in ids]
    # Another interpreter, with another hash salt, places every connection in the same shard.
    code = (
        "import sys; from roomcast.adapters.dynamodb import keys; "
        "print([keys.subscriber_shard(i) for i in sys.argv[1:]])"
    )
    there = subprocess.run([sys.executable, "-c", code, *ids], capture_output=True, text=True, check=True).stdout

    assert there.strip() == str(here)
    assert here == [zlib.crc32(i.encode()) % keys.SUBSCRIBER_SHARDS for i in ids]
    assert set(here) == set(range(keys.SUBSCRIBER_SHARDS))


def test_a_new_subscription_names_its_shard_on_both_sides() -> None:
    connection = next(f"c{n}" for n in range(100) if keys.subscriber_shard(f"c{n}") == 3)
    subscription = Subscription(
        connection_id=connection, user_id="bob", room_id="art", incarnation=FEED[4:], expires_at=1
    )

    room_side, connection_side = items.subscription_items(subscription, keys.subscriber_shard(connection))

    assert room_side["PK"] == f"Subs:{FEED}#3" and room_side["SK"] == f"Conn:{connection}"
    assert connection_side["Shard"] == 3 and "Shard" not in room_side
    assert items.subscription(room_side).shard == 3
    assert items.both_sides(connection, connection_side)[1] == items.subscriber_key(FEED, connection, 3)


def test_a_subscription_written_before_the_spread_is_removed_from_shard_0() -> None:
    """No ``Shard`` on the connection side: the room side is in shard 0, whatever the hash says."""
    connection = next(f"c{n}" for n in range(100) if keys.subscriber_shard(f"c{n}") != 0)
    old = {"PK": f"Conn:{connection}", "SK": f"Sub:{FEED}", "UserID": "bob", "Incarnation": FEED[4:], "ExpiresAt": 1}

    assert items.both_sides(connection, old)[1] == {"PK": f"Subs:{FEED}", "SK": f"Conn:{connection}"}
    legacy_room_side = {"PK": f"Subs:{FEED}", "SK": f"Conn:{connection}", "UserID": "bob", "ExpiresAt": 1}
    assert items.subscription(legacy_room_side).shard == 0


def test_a_slice_carries_each_subscriptions_shard_to_the_fanout_function() -> None:
    """Its 410s remove the room side where it is, a subscription from before the spread included."""
    subscriptions = [
        Subscription(connection_id=f"c{n}", user_id="bob", room_id="art", incarnation="i1", expires_at=1, shard=n)
        for n in range(keys.SUBSCRIBER_SHARDS)
    ]

    [(body, _)] = slice_bodies("art", "i1", [b'{"type":"x"}'], subscriptions, slice_size=100, max_bytes=65536)

    assert FanoutSlice.model_validate_json(body).subscriptions() == subscriptions
