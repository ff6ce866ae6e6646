"""docs/commands.md, "Rules per command": each row's effect, event, rejections and ``unchanged`` cases,
through ``commands.apply`` on the in-memory table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roomcast.domain.chat import CommentView, Room, room_feed
from roomcast.domain.commands import (
    AddComment,
    Command,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
)
from roomcast.domain.errors import NotAMember, NotRoomCreator, RoomAlreadyExists, RoomNotFound
from roomcast.domain.events import (
    ChatRoomCreated,
    ChatRoomDeleted,
    CommentAdded,
    MemberJoined,
    MemberLeft,
    Outcome,
    Unchanged,
)
from roomcast.domain.ids import iso_ms
from roomcast.usecases import commands
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.memory import MemoryTable
from support.recording import StepClock

Apply = Callable[[Command], Outcome]


LATE = "01KB0000000000000000000000"


def members(store: Store, room_id: str) -> list[str]:
    room = store.rooms.get_room(room_id)
    assert room is not None
    return [m.user_id for m in store.rooms.list_members(room_id, room.incarnation)[0]]


def comment(apply: Apply, user_id: str, text: str = "hello", room_id: str = "art") -> CommentView:
    event = apply(AddComment(room_id=room_id, user_id=user_id, text=text)).event
    assert isinstance(event, CommentAdded)
    return event.comment


def recreate(apply: Apply, room_id: str = "art", user_id: str = "alice") -> str:
    """Delete the room and create it again with the same id; returns the new incarnation."""
    apply(DeleteChatRoom(room_id=room_id, user_id=user_id))
    event = apply(CreateChatRoom(room_id=room_id, user_id=user_id)).event
    assert isinstance(event, ChatRoomCreated)
    return event.incarnation


# ---- createChatRoom ---------------------------------------------------------------------


def test_create_makes_the_room_with_a_new_incarnation_and_the_creator_a_member(apply: Apply, store: Store) -> None:
    outcome = apply(CreateChatRoom(room_id="art", user_id="alice"))

    room = store.rooms.get_room("art")
    assert room is not None and room.created_by == "alice"
    assert outcome.event == ChatRoomCreated(room_id="art", user_id="alice", incarnation=room.incarnation)
    assert members(store, "art") == ["alice"]


def test_create_of_an_existing_room_is_refused_and_changes_nothing(art: Room, apply: Apply, table: MemoryTable) -> None:
    with pytest.raises(RoomAlreadyExists):
        apply(CreateChatRoom(room_id="art", user_id="carol"))

    room = table.rooms["art"]
    assert (room.created_by, room.incarnation) == ("alice", art.incarnation)
    assert table.drain() == []


def test_a_room_created_again_starts_empty(art: Room, apply: Apply, store: Store) -> None:
    comment(apply, "bob")

    incarnation = recreate(apply)

    assert incarnation != art.incarnation
    assert members(store, "art") == ["alice"]
    assert history(store, "art").comments == []


# ---- deleteChatRoom ---------------------------------------------------------------------


def test_delete_by_the_creator_removes_the_room(art: Room, apply: Apply, store: Store) -> None:
    outcome = apply(DeleteChatRoom(room_id="art", user_id="alice"))

    assert outcome.event == ChatRoomDeleted(room_id="art", user_id="alice", incarnation=art.incarnation)
    assert store.rooms.get_room("art") is None


def test_delete_of_a_missing_room_is_refused(apply: Apply) -> None:
    with pytest.raises(RoomNotFound):
        apply(DeleteChatRoom(room_id="art", user_id="alice"))


def test_delete_by_anyone_but_the_creator_is_refused(art: Room, apply: Apply, store: Store) -> None:
    with pytest.raises(NotRoomCreator):
        apply(DeleteChatRoom(room_id="art", user_id="bob"))

    assert store.rooms.get_room("art") is not None


# ---- joinChatRoom -----------------------------------------------------------------------


def test_join_adds_the_user_to_the_current_incarnation(art: Room, apply: Apply, store: Store) -> None:
    outcome = apply(JoinChatRoom(room_id="art", user_id="carol"))

    assert outcome.event == MemberJoined(room_id="art", user_id="carol")
    room, membership = store.rooms.get_room_and_membership("art", "carol")
    assert room is not None and membership is not None and membership.incarnation == art.incarnation
    assert "carol" in members(store, "art")


def test_join_of_a_missing_room_is_refused(apply: Apply) -> None:
    with pytest.raises(RoomNotFound):
        apply(JoinChatRoom(room_id="art", user_id="carol"))


@pytest.mark.parametrize("user_id", ["alice", "bob"])
def test_joining_again_changes_nothing(art: Room, apply: Apply, table: MemoryTable, user_id: str) -> None:
    outcome = apply(JoinChatRoom(room_id="art", user_id=user_id))

    assert outcome.event == Unchanged(room_id="art", user_id=user_id, reason="AlreadyMember")
    assert table.drain() == []


def test_a_join_of_a_deleted_room_of_the_same_id_does_not_count(art: Room, apply: Apply, store: Store) -> None:
    incarnation = recreate(apply)

    outcome = apply(JoinChatRoom(room_id="art", user_id="bob"))

    assert outcome.event == MemberJoined(room_id="art", user_id="bob")
    _, membership = store.rooms.get_room_and_membership("art", "bob")
    assert membership is not None and membership.incarnation == incarnation


# ---- leaveChatRoom ----------------------------------------------------------------------


def test_leave_removes_the_membership(art: Room, apply: Apply, store: Store) -> None:
    outcome = apply(LeaveChatRoom(room_id="art", user_id="bob"))

    assert outcome.event == MemberLeft(room_id="art", user_id="bob")
    assert store.rooms.get_room_and_membership("art", "bob")[1] is None
    assert members(store, "art") == ["alice"]


def test_the_creator_may_leave_too(art: Room, apply: Apply, store: Store) -> None:
    assert apply(LeaveChatRoom(room_id="art", user_id="alice")).event == MemberLeft(room_id="art", user_id="alice")
    assert members(store, "art") == ["bob"]


@pytest.mark.parametrize(("room_id", "user_id"), [("art", "carol"), ("music", "bob")], ids=["non-member", "no-room"])
def test_leaving_what_one_is_not_in_changes_nothing(
    art: Room, apply: Apply, table: MemoryTable, room_id: str, user_id: str
) -> None:
    outcome = apply(LeaveChatRoom(room_id=room_id, user_id=user_id))

    assert outcome.event == Unchanged(room_id=room_id, user_id=user_id, reason="NotAMember")
    assert table.drain() == []


def test_leaving_twice_changes_nothing_the_second_time(art: Room, apply: Apply) -> None:
    apply(LeaveChatRoom(room_id="art", user_id="bob"))

    outcome = apply(LeaveChatRoom(room_id="art", user_id="bob"))

    assert outcome.event == Unchanged(room_id="art", user_id="bob", reason="NotAMember")


def test_leaving_a_room_created_again_after_one_joined_it_changes_nothing(
    art: Room, apply: Apply, table: MemoryTable
) -> None:
    recreate(apply)
    table.drain()

    outcome = apply(LeaveChatRoom(room_id="art", user_id="bob"))

    assert outcome.event == Unchanged(room_id="art", user_id="bob", reason="NotAMember")
    assert table.drain() == []


# ---- addComment -------------------------------------------------------------------------


def test_add_comment_writes_a_new_id_and_position(art: Room, apply: Apply, store: Store, clock: StepClock) -> None:
    outcome = apply(AddComment(room_id="art", user_id="bob", text="hello\nthere"))

    assert isinstance(outcome.event, CommentAdded) and outcome.event.room_id == "art"
    written = outcome.event.comment
    assert (written.user_id, written.text, written.created_at) == ("bob", "hello\nthere", iso_ms(clock()))
    assert written.position == written.comment_id
    assert history(store, "art").comments == [written]


def test_the_creator_may_comment_without_joining(art: Room, apply: Apply) -> None:
    assert comment(apply, "alice").user_id == "alice"


def test_comments_in_one_millisecond_get_unique_ordered_positions(art: Room, store: Store, clock: StepClock) -> None:
    written = [
        commands.apply(AddComment(room_id="art", user_id="bob", text=f"c{n}"), store, clock).event for n in range(20)
    ]

    positions = [e.comment.position for e in written if isinstance(e, CommentAdded)]
    assert len(set(positions)) == 20
    assert [c.position for c in history(store, "art", limit=100).comments] == sorted(positions)


def test_comment_on_a_missing_room_is_refused(apply: Apply) -> None:
    with pytest.raises(RoomNotFound):
        apply(AddComment(room_id="art", user_id="bob", text="hello"))


def test_comment_by_one_who_never_joined_is_refused(art: Room, apply: Apply, table: MemoryTable) -> None:
    with pytest.raises(NotAMember):
        apply(AddComment(room_id="art", user_id="carol", text="hello"))

    assert table.comments == {} and table.drain() == []


def test_comment_by_one_who_left_is_refused(art: Room, apply: Apply) -> None:
    apply(LeaveChatRoom(room_id="art", user_id="bob"))

    with pytest.raises(NotAMember):
        apply(AddComment(room_id="art", user_id="bob", text="hello"))


def test_comment_by_one_who_joined_a_deleted_room_of_the_same_id_is_refused(art: Room, apply: Apply) -> None:
    recreate(apply)

    with pytest.raises(NotAMember):
        apply(AddComment(room_id="art", user_id="bob", text="hello"))


def test_comments_go_to_the_current_incarnation_only(art: Room, apply: Apply, table: MemoryTable) -> None:
    old = comment(apply, "bob", "old")
    incarnation = recreate(apply)

    new = comment(apply, "alice", "new")

    assert table.comments[("bob", old.comment_id)][0] == room_feed("art", art.incarnation)
    assert table.comments[("alice", new.comment_id)][0] == room_feed("art", incarnation)


# ---- the write re-checks what the use case read (a delete or leave racing the command) -----


def late_comment(user_id: str = "bob") -> CommentView:
    return CommentView(comment_id=LATE, user_id=user_id, text="late", created_at="t", position=LATE)


def test_a_comment_racing_a_delete_is_written_to_the_deleted_incarnation_unseen(
    art: Room, apply: Apply, store: Store, table: MemoryTable
) -> None:
    # No room ConditionCheck: bob's join item of this incarnation still stands, so the write succeeds,
    # into the deleted incarnation's feed, which nobody can read (the cleanup sweeps it: test_cleanup_rules).
    room = art  # as the command read it, before what follows
    apply(DeleteChatRoom(room_id="art", user_id="alice"))

    store.comments.put_comment(room, late_comment())

    assert table.comments[("bob", LATE)][0] == room_feed("art", art.incarnation)
    with pytest.raises(RoomNotFound):
        history(store, "art")


def test_a_comment_racing_a_delete_and_a_new_room_of_the_same_id_is_refused_as_room_not_found(
    art: Room, apply: Apply, store: Store
) -> None:
    room = art  # as the command read it, before what follows
    recreate(apply)
    apply(JoinChatRoom(room_id="art", user_id="bob"))  # bob's join item is now the new room's

    with pytest.raises(RoomNotFound):
        store.comments.put_comment(room, late_comment())


def test_a_comment_racing_a_delete_whose_cleanup_took_the_join_is_refused_as_room_not_found(
    art: Room, apply: Apply, store: Store, table: MemoryTable
) -> None:
    room = art  # as the command read it, before what follows
    apply(DeleteChatRoom(room_id="art", user_id="alice"))
    store.cleanup.delete_memberships(store.rooms.list_members("art", room.incarnation)[0])

    with pytest.raises(RoomNotFound):
        store.comments.put_comment(room, late_comment())
    assert ("bob", LATE) not in table.comments


def test_a_comment_racing_a_leave_is_still_refused_as_not_a_member(art: Room, apply: Apply, store: Store) -> None:
    room = art  # as the command read it, before what follows
    apply(LeaveChatRoom(room_id="art", user_id="bob"))

    with pytest.raises(NotAMember):
        store.comments.put_comment(room, late_comment())


def test_a_join_racing_a_delete_is_refused_by_its_write(art: Room, apply: Apply, store: Store) -> None:
    room = store.rooms.get_room("art")
    assert room is not None
    recreate(apply)

    with pytest.raises(RoomNotFound):
        store.rooms.add_member(room, "carol", joined_at="t")
