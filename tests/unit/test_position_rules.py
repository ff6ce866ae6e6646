"""One author's comments are positioned in the order they were applied, whatever each instance's clock says.

Two command function instances are two clocks: here the second runs five seconds slow, as a Lambda
instance's clock may. The position is drawn after the author's last one (kept on their join), and the
write refuses one that is not.
"""

from __future__ import annotations

import pytest

from roomcast.domain.chat import CommentView
from roomcast.domain.errors import NotAMember
from roomcast.domain.ids import iso_ms, new_ulid, ulid_ms
from roomcast.domain.ordering import position_time
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from roomcast.usecases import commands
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.recording import StepClock

START_MS = 1_764_097_541_000


@pytest.fixture
def room(store: Store) -> Store:
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), store, StepClock(START_MS))
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), store, StepClock(START_MS))
    return store


def comment(store: Store, clock: StepClock, text: str) -> CommentView:
    outcome = commands.apply(AddComment(room_id="art", user_id="bob", text=text), store, clock)
    return outcome.event.comment  # type: ignore[union-attr]


def test_a_slower_clock_still_positions_the_next_comment_after_the_last(room: Store) -> None:
    fast, slow = StepClock(START_MS + 10_000), StepClock(START_MS + 5_000)

    first = comment(room, fast, "first")
    second = comment(room, slow, "second")
    third = comment(room, slow, "third")

    assert first.position < second.position < third.position
    assert ulid_ms(second.position) == ulid_ms(first.position) + 1
    assert [c.text for c in history(room, "art").comments] == ["first", "second", "third"]
    # The time a comment was made is still the instance's own
    assert second.created_at == iso_ms(START_MS + 5_000)


def test_comments_in_the_same_millisecond_still_increase(room: Store) -> None:
    clock = StepClock(START_MS + 1_000)

    positions = [comment(room, clock, f"c{n}").position for n in range(5)]

    assert positions == sorted(positions) and len(set(positions)) == 5


def test_the_write_refuses_a_position_not_after_the_authors_last(room: Store) -> None:
    last = comment(room, StepClock(START_MS + 1_000), "last")
    found, _ = room.rooms.get_room_and_membership("art", "bob")
    assert found is not None
    earlier = new_ulid(START_MS)
    stale = CommentView(comment_id=earlier, user_id="bob", text="late", created_at=iso_ms(START_MS), position=earlier)

    with pytest.raises(NotAMember):
        room.comments.put_comment(found, stale)

    assert [c.position for c in history(room, "art").comments] == [last.position]


def test_position_time_is_now_unless_the_last_is_not_behind() -> None:
    last = new_ulid(START_MS)

    assert position_time(START_MS + 5, None) == START_MS + 5
    assert position_time(START_MS + 5, last) == START_MS + 5
    assert position_time(START_MS - 5, last) == START_MS + 1
    assert position_time(START_MS, last) == START_MS + 1
