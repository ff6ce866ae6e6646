"""One author's comments increase in position across instances with skewed clocks, on each backend."""

from __future__ import annotations

import pytest

from roomcast.domain.chat import CommentView
from roomcast.domain.errors import NotAMember
from roomcast.domain.ids import iso_ms, new_ulid, ulid_ms
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from roomcast.usecases import commands
from roomcast.usecases.history import history
from support.recording import StepClock
from support.stack import Stack

pytestmark = pytest.mark.integration
START_MS = 1_764_097_541_000


def comment(stack: Stack, clock: StepClock, text: str) -> CommentView:
    outcome = commands.apply(AddComment(room_id="art", user_id="bob", text=text), stack.store, clock)
    return outcome.event.comment  # type: ignore[union-attr]


@pytest.fixture
def room(stack: Stack) -> Stack:
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store, StepClock(START_MS))
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store, StepClock(START_MS))
    return stack


def test_a_slower_instance_positions_the_authors_next_comment_after_the_last(room: Stack) -> None:
    fast, slow = StepClock(START_MS + 10_000), StepClock(START_MS + 5_000)

    first = comment(room, fast, "first")
    second = comment(room, slow, "second")

    assert ulid_ms(second.position) == ulid_ms(first.position) + 1
    assert [c.text for c in history(room.store, "art").comments] == ["first", "second"]
    _, membership = room.store.rooms.get_room_and_membership("art", "bob")
    assert membership is not None and membership.last_position == second.position


def test_the_table_refuses_a_comment_positioned_before_the_authors_last(room: Stack) -> None:
    comment(room, StepClock(START_MS + 1_000), "last")
    found = room.store.rooms.get_room("art")
    assert found is not None
    earlier = new_ulid(START_MS)
    stale = CommentView(comment_id=earlier, user_id="bob", text="late", created_at=iso_ms(START_MS), position=earlier)

    with pytest.raises(NotAMember):
        room.store.comments.put_comment(found, stale)

    assert [c.text for c in history(room.store, "art").comments] == ["last"]
