"""Every command's success and every rejection, applied to the table on each backend."""

from __future__ import annotations

import pytest

from roomcast.domain import ids
from roomcast.domain.errors import NotAMember, NotRoomCreator, RoomAlreadyExists, RoomNotFound
from roomcast.models import (
    AddComment,
    ChatRoomCreated,
    ChatRoomDeleted,
    CommentAdded,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    MemberJoined,
    MemberLeft,
    Unchanged,
)
from roomcast.usecases import commands
from roomcast.usecases.history import history
from support.stack import Stack

pytestmark = pytest.mark.integration


def given_room(stack: Stack, room: str = "art", creator: str = "alice", *members: str) -> None:
    commands.apply(CreateChatRoom(room_id=room, user_id=creator), stack.store)
    for member in members:
        commands.apply(JoinChatRoom(room_id=room, user_id=member), stack.store)


def members(stack: Stack, room: str = "art") -> set[str]:
    current = stack.store.rooms.get_room(room)
    assert current is not None
    page, _ = stack.store.rooms.list_members(room, current.incarnation)
    return {m.user_id for m in page}


def test_create_makes_the_creator_a_member(stack: Stack) -> None:
    outcome = commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)

    assert isinstance(outcome.event, ChatRoomCreated)
    room = stack.store.rooms.get_room("art")
    assert room is not None and room.created_by == "alice"
    assert members(stack) == {"alice"}
    _, membership = stack.store.rooms.get_room_and_membership("art", "alice")
    assert membership is not None and membership.incarnation == room.incarnation


def test_create_fails_if_the_room_exists(stack: Stack) -> None:
    given_room(stack)

    with pytest.raises(RoomAlreadyExists):
        commands.apply(CreateChatRoom(room_id="art", user_id="bob"), stack.store)

    room = stack.store.rooms.get_room("art")
    assert room is not None and room.created_by == "alice"
    assert members(stack) == {"alice"}


def test_join_adds_a_member(stack: Stack) -> None:
    given_room(stack)

    outcome = commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)

    assert outcome.event == MemberJoined(room_id="art", user_id="bob")
    assert members(stack) == {"alice", "bob"}


def test_join_needs_an_existing_room(stack: Stack) -> None:
    with pytest.raises(RoomNotFound):
        commands.apply(JoinChatRoom(room_id="nowhere", user_id="bob"), stack.store)
    assert stack.items() == []


def test_joining_twice_changes_nothing(stack: Stack) -> None:
    given_room(stack, "art", "alice", "bob")
    before = stack.items()

    outcome = commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)

    assert isinstance(outcome.event, Unchanged) and outcome.event.reason == "AlreadyMember"
    assert stack.items() == before


def test_leave_removes_both_membership_items(stack: Stack) -> None:
    given_room(stack, "art", "alice", "bob")

    outcome = commands.apply(LeaveChatRoom(room_id="art", user_id="bob"), stack.store)

    assert outcome.event == MemberLeft(room_id="art", user_id="bob")
    assert members(stack) == {"alice"}
    assert stack.store.rooms.get_room_and_membership("art", "bob")[1] is None


@pytest.mark.parametrize("room", ["art", "nowhere"])
def test_leaving_a_room_one_is_not_in_changes_nothing(stack: Stack, room: str) -> None:
    given_room(stack)
    before = stack.items()

    outcome = commands.apply(LeaveChatRoom(room_id=room, user_id="carol"), stack.store)

    assert isinstance(outcome.event, Unchanged) and outcome.event.reason == "NotAMember"
    assert stack.items() == before


def test_comment_by_a_member(stack: Stack) -> None:
    given_room(stack, "art", "alice", "bob")

    outcome = commands.apply(AddComment(room_id="art", user_id="bob", text="hello"), stack.store)

    assert isinstance(outcome.event, CommentAdded)
    page = history(stack.store, "art")
    assert [(c.user_id, c.text) for c in page.comments] == [("bob", "hello")]
    assert page.comments[0] == outcome.event.comment


def test_comment_needs_membership(stack: Stack) -> None:
    given_room(stack)

    with pytest.raises(NotAMember):
        commands.apply(AddComment(room_id="art", user_id="mallory", text="hi"), stack.store)
    assert history(stack.store, "art").comments == []


def test_comment_needs_an_existing_room(stack: Stack) -> None:
    with pytest.raises(RoomNotFound):
        commands.apply(AddComment(room_id="nowhere", user_id="bob", text="hi"), stack.store)


def test_comment_after_leaving_is_refused(stack: Stack) -> None:
    given_room(stack, "art", "alice", "bob")
    commands.apply(LeaveChatRoom(room_id="art", user_id="bob"), stack.store)

    with pytest.raises(NotAMember):
        commands.apply(AddComment(room_id="art", user_id="bob", text="still here?"), stack.store)


def test_delete_by_the_creator(stack: Stack) -> None:
    given_room(stack)

    outcome = commands.apply(DeleteChatRoom(room_id="art", user_id="alice"), stack.store)

    assert isinstance(outcome.event, ChatRoomDeleted)
    assert stack.store.rooms.get_room("art") is None
    with pytest.raises(RoomNotFound):
        history(stack.store, "art")


def test_delete_only_by_the_creator(stack: Stack) -> None:
    given_room(stack, "art", "alice", "bob")

    with pytest.raises(NotRoomCreator):
        commands.apply(DeleteChatRoom(room_id="art", user_id="bob"), stack.store)
    assert stack.store.rooms.get_room("art") is not None


def test_delete_of_a_missing_room(stack: Stack) -> None:
    with pytest.raises(RoomNotFound):
        commands.apply(DeleteChatRoom(room_id="nowhere", user_id="alice"), stack.store)


def test_a_room_created_again_shows_nothing_of_the_old_one(stack: Stack) -> None:
    # Given a room with a member and a comment, deleted before any cleanup ran
    given_room(stack, "art", "alice", "bob")
    commands.apply(AddComment(room_id="art", user_id="bob", text="old"), stack.store)
    commands.apply(DeleteChatRoom(room_id="art", user_id="alice"), stack.store)

    # When a room with the same id is created again
    commands.apply(CreateChatRoom(room_id="art", user_id="carol"), stack.store)

    # Then its history is empty and the old member's lingering join item does not count
    assert history(stack.store, "art").comments == []
    assert members(stack) == {"carol"}
    with pytest.raises(NotAMember):
        commands.apply(AddComment(room_id="art", user_id="bob", text="back"), stack.store)
    # ...until bob joins the new room
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)
    commands.apply(AddComment(room_id="art", user_id="bob", text="new"), stack.store)
    assert [c.text for c in history(stack.store, "art").comments] == ["new"]


def test_two_comments_by_one_user_in_the_same_millisecond_both_survive(
    stack: Stack,
) -> None:
    given_room(stack, "art", "alice", "bob")

    def clock() -> int:
        return 1_764_000_000_000

    first = commands.apply(AddComment(room_id="art", user_id="bob", text="one"), stack.store, clock)
    second = commands.apply(AddComment(room_id="art", user_id="bob", text="two"), stack.store, clock)

    assert isinstance(first.event, CommentAdded) and isinstance(second.event, CommentAdded)
    assert first.event.comment.created_at == second.event.comment.created_at
    assert ids.ulid_ms(first.event.comment.position) == 1_764_000_000_000
    assert sorted(c.text for c in history(stack.store, "art").comments) == ["one", "two"]
