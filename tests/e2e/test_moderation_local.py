"""Moderation end to end on the local stack (issue 12's "Done when"): commands through the queue, frames over
real WebSockets, outcomes read back from the table."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from roomcast.models import (
    AddComment,
    AddModerator,
    BannedFrame,
    BanUser,
    CommentDeletedFrame,
    CommentsFrame,
    DeleteComment,
    ErrorFrame,
    JoinChatRoom,
    MemberLeft,
    SetRoomPolicy,
)
from support.chat_users import frames_until, in_room, outcome, send, subscribed, texts
from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e


def test_a_moderator_deletes_a_comment_and_a_watcher_sees_it_removed(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    alice, bob, carol = in_room(stack, room, sockets, "alice", "bob", "carol")
    assert outcome(stack, send(alice, AddModerator(room_id=room, user_id="alice", target_user_id="carol")))[
        "Status"
    ] == ("applied")
    watcher = alice.watch(room)
    subscribed(watcher)
    bob.send(AddComment(room_id=room, user_id="bob", text="a troll's comment"))
    (written,) = [
        c for f in frames_until(watcher, lambda f: bool(texts(f))) if isinstance(f, CommentsFrame) for c in f.comments
    ]

    send(carol, DeleteComment(room_id=room, user_id="carol", comment_id=written.comment_id))

    frames = frames_until(watcher, lambda f: any(isinstance(x, CommentDeletedFrame) for x in f))
    assert frames[-1] == CommentDeletedFrame(room_id=room, comment_id=written.comment_id, position=written.position)


def test_a_banned_users_watch_ends_with_banned_their_comment_is_refused_and_the_ban_expires(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    alice, mallory = in_room(stack, room, sockets, "alice", "mallory")
    alices_watch, mallorys_watch = alice.watch(room), mallory.watch(room)
    subscribed(alices_watch)
    subscribed(mallorys_watch)

    send(alice, BanUser(room_id=room, user_id="alice", target_user_id="mallory", duration_seconds=4, reason="spam"))

    ended = frames_until(mallorys_watch, lambda f: any(isinstance(x, BannedFrame) for x in f))
    assert ended[-1] == BannedFrame(room_id=room, user_id="mallory", until=ended[-1].until, reason="spam")
    left = frames_until(alices_watch, lambda f: any(isinstance(x, MemberLeft) for x in f))
    assert left[-1] == MemberLeft(room_id=room, user_id="mallory")
    refused = outcome(stack, send(mallory, AddComment(room_id=room, user_id="mallory", text="let me in")))
    assert (refused["Status"], '"code":"Banned"' in refused["Outcome"]) == ("rejected", True)
    again = mallory.watch(room)
    refusal = frames_until(again, lambda f: bool(f))[0]
    assert isinstance(refusal, ErrorFrame) and refusal.code == "Banned"

    time.sleep(4)  # the ban's own duration: after it, the same join is applied
    joined = outcome(stack, send(mallory, JoinChatRoom(room_id=room, user_id="mallory")))
    assert joined["Status"] == "applied"


def test_slow_mode_refuses_the_second_comment_within_the_interval(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    alice, bob = in_room(stack, room, sockets, "alice", "bob")
    assert outcome(stack, send(alice, SetRoomPolicy(room_id=room, user_id="alice", slow_mode_seconds=60)))[
        "Status"
    ] == ("applied")

    first = outcome(stack, send(bob, AddComment(room_id=room, user_id="bob", text="first")))
    second = outcome(stack, send(bob, AddComment(room_id=room, user_id="bob", text="second")))

    assert first["Status"] == "applied"
    assert (second["Status"], '"code":"SlowMode"' in second["Outcome"]) == ("rejected", True)
