from __future__ import annotations

import pytest

from roomcast.adapters.dynamodb import keys
from roomcast.domain import ids
from roomcast.domain.chat import room_feed, split_feed


def test_ulids_sort_by_time_then_stay_unique_within_a_millisecond() -> None:
    same_ms = [ids.new_ulid(1_764_000_000_000) for _ in range(1000)]
    later = ids.new_ulid(1_764_000_000_001)

    assert len(set(same_ms)) == 1000
    assert all(len(u) == 26 for u in same_ms)
    assert max(same_ms) < later


@pytest.mark.parametrize("ms", [0, 1, 1_764_000_000_123, 2**48 - 1])
def test_a_ulid_carries_its_millisecond(ms: int) -> None:
    assert ids.ulid_ms(ids.new_ulid(ms)) == ms


def test_feed_names_one_incarnation_of_a_room() -> None:
    feed = room_feed("art", "01KB000000000000000000000A")

    assert feed == "art#01KB000000000000000000000A"
    assert split_feed(feed) == ("art", "01KB000000000000000000000A")


def test_keys_follow_the_data_model() -> None:
    assert keys.room_pk("art") == "Room:art"
    assert keys.user_pk("bob") == "User:bob"
    assert keys.join_sk("art") == "Join:art"
    assert keys.member_sk("01KB", "bob") == "Member:01KB#bob"
    assert keys.comment_sk("01KB") == "Comment:01KB"
    assert keys.strip(keys.USER_PREFIX, "User:bob") == "bob"
    with pytest.raises(ValueError, match="does not start"):
        keys.strip(keys.ROOM_PREFIX, "User:bob")
