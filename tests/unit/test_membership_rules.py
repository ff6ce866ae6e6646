"""The one membership rule (domain/chat.py ``is_member``), and what a comment written does to a membership."""

from __future__ import annotations

from roomcast.domain.chat import Membership, Room, is_member
from roomcast.domain.moderation import Pace

ROOM = Room(room_id="art", created_by="alice", created_at="2026-01-01T00:00:00.000Z", incarnation="i2")


def join(incarnation: str) -> Membership:
    return Membership(room_id="art", user_id="bob", incarnation=incarnation, joined_at="2026-01-01T00:00:00.000Z")


def test_a_member_is_a_join_of_the_rooms_current_incarnation() -> None:
    assert is_member(join("i2"), ROOM)
    assert not is_member(join("i1"), ROOM)  # a join of a deleted room of the same id
    assert not is_member(None, ROOM)


def test_a_comment_written_moves_its_author_on_and_in_slow_mode_restarts_the_interval() -> None:
    moved = join("i2").after_comment("p1")
    assert (moved.last_position, moved.last_comment_ms) == ("p1", None)

    paced = moved.after_comment("p2", Pace(now_ms=5_000, cutoff_ms=4_000))
    assert (paced.last_position, paced.last_comment_ms) == ("p2", 5_000)
