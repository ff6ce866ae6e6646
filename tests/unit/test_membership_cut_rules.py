"""Issue 11, point 4: frames only to current members. A leaver's connections get the batch's frames up to
and including their own memberLeft, and nothing after; a subscription committed just before its user's
leave is removed by that leave even when an eventually consistent read would miss it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import AddComment, BanUser, Command, JoinChatRoom, LeaveChatRoom
from roomcast.domain.events import CommentAdded, Outcome
from roomcast.usecases.ports import Store
from roomcast.usecases.stream import LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.requests import SubscribeRequest
from support.memory import MemoryTable
from support.recording import RecordingPoster
from support.stale import LaggingConnections

FRAME_LIMIT = 32 * 1024

Apply = Callable[[Command], Outcome]
Send = Callable[..., list[dict[str, Any]]]


def comment(apply: Apply, user_id: str, text: str) -> CommentView:
    event = apply(AddComment(room_id="art", user_id=user_id, text=text)).event
    assert isinstance(event, CommentAdded)
    return event.comment


def texts(frames: list[dict[str, Any]]) -> list[str]:
    """Each frame as what it says: a comment's text, or the frame's type."""
    said: list[str] = []
    for frame in frames:
        said += [c["text"] for c in frame["comments"]] if frame["type"] == "comments" else [frame["type"]]
    return said


def subscribe_all(art: Room, connect: Callable[..., Caller], send: Send, poster: RecordingPoster) -> None:
    for user in ("alice", "bob"):
        assert send(connect(f"c-{user}", user), {"action": "subscribe", "roomId": "art"})[0]["type"] == "subscribed"
    poster.clear()


def test_a_leaver_gets_the_batch_up_to_its_own_member_left_and_nothing_after(
    art: Room, apply: Apply, connect: Any, send: Send, poster: RecordingPoster, process_stream: Any
) -> None:
    subscribe_all(art, connect, send, poster)
    comment(apply, "alice", "before bob left")
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    comment(apply, "alice", "secret, after bob left")

    process_stream()

    assert texts(poster.frames("c-bob")) == ["before bob left", "memberLeft"]
    assert texts(poster.frames("c-alice")) == ["before bob left", "memberLeft", "secret, after bob left"]


def test_one_who_leaves_and_joins_again_in_the_batch_gets_all_of_it(
    art: Room, apply: Apply, connect: Any, send: Send, poster: RecordingPoster, process_stream: Any
) -> None:
    subscribe_all(art, connect, send, poster)
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    apply(JoinChatRoom(room_id="art", user_id="bob"))
    comment(apply, "alice", "welcome back")

    process_stream()

    assert texts(poster.frames("c-bob")) == ["memberLeft", "memberJoined", "welcome back"]


def test_a_ban_and_a_leave_in_one_batch_cut_each_user_at_their_own_event(
    art: Room, apply: Apply, connect: Any, send: Send, poster: RecordingPoster, process_stream: Any
) -> None:
    apply(JoinChatRoom(room_id="art", user_id="carol"))
    assert send(connect("c-carol", "carol"), {"action": "subscribe", "roomId": "art"})[0]["type"] == "subscribed"
    subscribe_all(art, connect, send, poster)
    comment(apply, "alice", "one")
    apply(BanUser(room_id="art", user_id="alice", target_user_id="carol"))
    comment(apply, "alice", "two")
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    comment(apply, "alice", "three")

    process_stream()

    assert texts(poster.frames("c-carol")) == ["memberJoined", "one", "banned"]
    assert texts(poster.frames("c-bob")) == ["memberJoined", "one", "memberLeft", "two", "memberLeft"]
    assert texts(poster.frames("c-alice"))[-1] == "three"


def test_a_subscription_an_eventually_consistent_read_misses_is_still_removed_by_the_leave(
    art: Room, apply: Apply, store: Store, table: MemoryTable, poster: RecordingPoster
) -> None:
    # The fan-out's read of the room's subscriptions lags: it has not seen bob's, committed just before he left
    connections = LaggingConnections(store.connections)
    lagging = dataclasses.replace(store, connections=connections)
    routes = Routes(lagging, poster, 7_500, FRAME_LIMIT)
    live = LiveProcessor(lagging, poster, FRAME_LIMIT, max_workers=4, out_of_time=lambda: False)
    for user in ("alice", "bob"):
        caller = Caller(f"c-{user}", user, time.time_ns() // 1_000_000, "r")
        routes.connect(caller)
        routes.subscribe(caller, SubscribeRequest(action="subscribe", room_id="art"), "s")
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    live.deliver(table.drain())
    poster.clear()
    connections.unseen.clear()  # the replica catches up

    comment(apply, "alice", "secret, after bob left")
    live.deliver(table.drain())

    assert poster.frames("c-bob") == []
    assert [c for c, _ in table.subscriptions] == ["c-alice"]
