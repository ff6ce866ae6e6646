"""Issue 11, point 4 on each backend: frames only to current members. A leaver gets the batch up to its own
memberLeft and nothing after; a subscribe racing a leave is refused or removed by it, also when the
fan-out's read would lag behind the subscription."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.domain.chat import room_feed
from roomcast.edges.websocket import handle_message
from roomcast.models import FRAME_ADAPTER, AddComment, CommentsFrame, CreateChatRoom, JoinChatRoom, LeaveChatRoom
from roomcast.usecases import commands
from roomcast.usecases.ports import Store
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from support.fakes import RecordingApi
from support.stack import Stack
from support.stale import lagging_queries

pytestmark = pytest.mark.integration


class Art:
    """Room art of alice and bob, each subscribed, and the changes the commands made, in commit order."""

    def __init__(self, stack: Stack) -> None:
        self.store: Store = stack.store
        self.api = RecordingApi()
        commands.apply(CreateChatRoom(room_id="art", user_id="alice"), self.store)
        commands.apply(JoinChatRoom(room_id="art", user_id="bob"), self.store)
        room = self.store.rooms.get_room("art")
        assert room is not None
        self.feed = room_feed("art", room.incarnation)
        self.changes: list[Change] = []
        self.routes = Routes(self.store, ConnectionsApi(self.api), 7_500, 32 * 1024)

    def subscribe(self, user_id: str) -> list[Any]:
        caller = Caller(f"conn-{user_id}", user_id, time.time_ns() // 1_000_000, "r")
        before = len(self.api.received[caller.connection_id])
        handle_message(self.routes, caller, json.dumps({"action": "subscribe", "roomId": "art"}))
        return [FRAME_ADAPTER.validate_json(d) for d in self.api.received[caller.connection_id][before:]]

    def apply(self, command: Any) -> None:
        outcome = commands.apply(command, self.store)
        self.changes.append(Change(f"{len(self.changes):06d}", self.feed, outcome.event))

    def deliver(self) -> None:
        live = LiveProcessor(self.store, ConnectionsApi(self.api), 32 * 1024, 8, out_of_time=lambda: False)
        live.deliver(self.changes)
        self.changes = []

    def said(self, user_id: str) -> list[str]:
        frames = [FRAME_ADAPTER.validate_json(d) for d in self.api.received[f"conn-{user_id}"]]
        return [
            text
            for f in frames
            for text in ([c.text for c in f.comments] if isinstance(f, CommentsFrame) else [f.type])
        ]


@pytest.fixture
def art(stack: Stack) -> Art:
    return Art(stack)


def test_a_leaver_gets_the_batch_up_to_its_own_member_left_and_nothing_after(art: Art) -> None:
    art.subscribe("alice"), art.subscribe("bob")
    art.api.received.clear()
    art.apply(AddComment(room_id="art", user_id="alice", text="before bob left"))
    art.apply(LeaveChatRoom(room_id="art", user_id="bob"))
    art.apply(AddComment(room_id="art", user_id="alice", text="secret, after bob left"))

    art.deliver()

    assert art.said("bob") == ["before bob left", "memberLeft"]
    assert art.said("alice") == ["before bob left", "memberLeft", "secret, after bob left"]
    assert [s.user_id for s in art.store.connections.all_subscribers(art.feed, consistent=True)] == ["alice"]


def test_a_subscribe_racing_a_leave_is_refused_and_stores_nothing(art: Art, monkeypatch: pytest.MonkeyPatch) -> None:
    read = art.store.rooms.get_room_and_membership

    def read_then_leave(room_id: str, user_id: str) -> Any:
        found = read(room_id, user_id)
        commands.apply(LeaveChatRoom(room_id="art", user_id="bob"), art.store)  # between check and write
        return found

    monkeypatch.setattr(art.store.rooms, "get_room_and_membership", read_then_leave)

    (answer,) = art.subscribe("bob")

    assert (answer.type, answer.code) == ("error", "NotAMember")
    assert art.store.connections.all_subscribers(art.feed, consistent=True) == []


def test_a_subscription_committed_just_before_the_leave_goes_with_it_though_a_lagging_read_misses_it(
    art: Art,
) -> None:
    art.subscribe("alice"), art.subscribe("bob")
    art.apply(LeaveChatRoom(room_id="art", user_id="bob"))
    with lagging_queries(aws_clients.dynamodb(), {"conn-bob"}):  # replicas have not seen bob's subscription
        art.deliver()
    art.api.received.clear()

    art.apply(AddComment(room_id="art", user_id="alice", text="secret, after bob left"))
    art.deliver()

    assert art.said("bob") == []
    assert [s.user_id for s in art.store.connections.all_subscribers(art.feed, consistent=True)] == ["alice"]
