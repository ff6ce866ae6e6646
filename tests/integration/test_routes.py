"""The WebSocket routes' use cases on each backend; answers recorded by a fake @connections API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.domain.chat import room_feed
from roomcast.edges.websocket import handle_message
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentsFrame,
    CommentView,
    CreateChatRoom,
    ErrorFrame,
    HistoryFrame,
    JoinChatRoom,
    SubscribedFrame,
    UnsubscribedFrame,
)
from roomcast.usecases import commands
from roomcast.usecases.subscriptions import Caller, Routes
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration

TTL = 7_500


class Client:
    """One WebSocket connection as the routes see it, and the frames it was sent."""

    def __init__(self, routes: Routes, api: RecordingApi, connection_id: str, user_id: str) -> None:
        self.routes, self.api = routes, api
        self.caller = Caller(connection_id, user_id, connected_at_ms=int(time.time() * 1000), request_id="req-1")

    def send(self, **message: Any) -> None:
        handle_message(self.routes, self.caller, json.dumps(message))

    def frames(self) -> list[Any]:
        return [FRAME_ADAPTER.validate_json(data) for data in self.api.received[self.caller.connection_id]]

    def last(self) -> Any:
        return self.frames()[-1]


@pytest.fixture
def api() -> RecordingApi:
    return RecordingApi()


@pytest.fixture
def routes(stack: Stack, api: RecordingApi) -> Routes:
    return Routes(stack.store, ConnectionsApi(api), TTL, frame_limit=32 * 1024)


@pytest.fixture
def room(stack: Stack) -> str:
    """Given room art with members alice (creator) and bob."""
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)
    return "art"


def feed_of(stack: Stack, room_id: str = "art") -> str:
    room = stack.store.rooms.get_room(room_id)
    assert room is not None
    return room_feed(room.room_id, room.incarnation)


def comment(stack: Stack, text: str, user: str = "bob") -> CommentView:
    outcome = commands.apply(AddComment(room_id="art", user_id=user, text=text), stack.store)
    return outcome.event.comment  # type: ignore[union-attr]


def test_connect_remembers_the_user_until_just_past_two_hours(stack: Stack, routes: Routes, api: RecordingApi) -> None:
    bob = Client(routes, api, "conn-bob", "bob")

    routes.connect(bob.caller)

    [item] = stack.store.connections.connection_items("conn-bob")
    assert item["UserID"] == "bob"
    assert int(item["ExpiresAt"]) == bob.caller.connected_at_ms // 1000 + TTL


def test_a_member_subscribes(stack: Stack, routes: Routes, api: RecordingApi, room: str) -> None:
    bob = Client(routes, api, "conn-bob", "bob")

    bob.send(action="subscribe", roomId=room)

    assert bob.frames() == [SubscribedFrame(room_id=room, request_id="req-1")]
    [subscription] = stack.store.connections.all_subscribers(feed_of(stack))
    assert (subscription.connection_id, subscription.user_id) == ("conn-bob", "bob")
    assert subscription.expires_at == bob.caller.connected_at_ms // 1000 + TTL


@pytest.mark.parametrize(
    ("user", "room_id", "code"), [("mallory", "art", "NotAMember"), ("bob", "nowhere", "NotAMember")]
)
def test_only_a_member_of_an_existing_room_may_subscribe(
    stack: Stack, routes: Routes, api: RecordingApi, room: str, user: str, room_id: str, code: str
) -> None:
    client = Client(routes, api, "conn-x", user)

    client.send(action="subscribe", roomId=room_id, requestId="mine-7")

    [frame] = client.frames()
    assert isinstance(frame, ErrorFrame)
    assert (frame.code, frame.request_id) == (code, "mine-7")
    assert stack.store.connections.all_subscribers(feed_of(stack)) == []


def test_subscribe_since_replays_exactly_the_missed_comments_then_confirms(
    stack: Stack, routes: Routes, api: RecordingApi, room: str
) -> None:
    written = [comment(stack, f"m{n}") for n in range(7)]
    bob = Client(routes, api, "conn-bob", "bob")

    bob.send(action="subscribe", roomId=room, since=written[2].position)

    *replay, confirmation = bob.frames()
    assert all(isinstance(frame, CommentsFrame) for frame in replay)
    assert [c for frame in replay for c in frame.comments] == written[3:]
    assert confirmation == SubscribedFrame(room_id=room, replayed=4, request_id="req-1")


def test_replay_splits_frames_at_the_frame_limit(stack: Stack, api: RecordingApi, room: str) -> None:
    routes = Routes(stack.store, ConnectionsApi(api), TTL, frame_limit=2_000)
    written = [comment(stack, "x" * 600) for _ in range(6)]
    bob = Client(routes, api, "conn-bob", "bob")

    bob.send(action="subscribe", roomId=room, since=written[0].position)

    *replay, _ = bob.frames()
    assert len(replay) > 1
    assert all(len(data) <= 2_000 for data in api.received["conn-bob"])
    assert [c for frame in replay for c in frame.comments] == written[1:]


def test_unsubscribe(stack: Stack, routes: Routes, api: RecordingApi, room: str) -> None:
    bob = Client(routes, api, "conn-bob", "bob")
    bob.send(action="subscribe", roomId=room)

    bob.send(action="unsubscribe", roomId=room)

    assert bob.last() == UnsubscribedFrame(room_id=room, request_id="req-1")
    assert stack.store.connections.all_subscribers(feed_of(stack)) == []
    assert stack.store.connections.connection_items("conn-bob") == []


def test_disconnect_removes_the_connection_and_its_subscriptions(
    stack: Stack, routes: Routes, api: RecordingApi, room: str
) -> None:
    bob = Client(routes, api, "conn-bob", "bob")
    routes.connect(bob.caller)
    bob.send(action="subscribe", roomId=room)

    routes.disconnect("conn-bob")

    assert stack.store.connections.connection_items("conn-bob") == []
    assert stack.store.connections.all_subscribers(feed_of(stack)) == []


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ({"action": "history", "roomId": "art", "mode": "after"}, "needs a position"),
        ({"action": "history", "roomId": "art", "limit": 500}, "limit must be between"),
        ({"action": "history", "roomId": "art", "cursor": "nope"}, "cursor"),
    ],
)
def test_bad_history_requests_get_an_error_frame(
    routes: Routes, api: RecordingApi, room: str, message: dict[str, Any], detail: str
) -> None:
    bob = Client(routes, api, "conn-bob", "bob")

    bob.send(**message)

    frame = bob.last()
    assert isinstance(frame, ErrorFrame)
    assert frame.code == "InvalidRequest"
    assert detail in frame.message


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("not json", "Invalid JSON"),
        ('{"action": "shout", "roomId": "art"}', "does not match any of the expected tags"),
        ('{"action": "subscribe"}', "roomId: Field required"),
        ('{"action": "subscribe", "roomId": "art", "since": "yesterday"}', "since: String should match"),
        ('{"action": "history", "roomId": "art", "limit": "5"}', "limit: Input should be a valid integer"),
        ('{"action": "unsubscribe", "room_id": "art"}', "roomId: Field required"),
    ],
)
def test_malformed_messages_get_an_invalid_request_frame(
    routes: Routes, api: RecordingApi, room: str, body: str, detail: str
) -> None:
    bob = Client(routes, api, "conn-bob", "bob")

    handle_message(routes, bob.caller, body)

    frame = bob.last()
    assert isinstance(frame, ErrorFrame)
    assert (frame.code, frame.request_id) == ("InvalidRequest", "req-1")
    assert detail in frame.message


def test_history_for_members(stack: Stack, routes: Routes, api: RecordingApi, room: str) -> None:
    written = [comment(stack, f"m{n}") for n in range(5)]
    bob = Client(routes, api, "conn-bob", "bob")

    bob.send(action="history", roomId=room, mode="latest", limit=2)
    latest = bob.last()
    bob.send(action="history", roomId=room, mode="between", **{"from": written[1].position, "to": written[3].position})
    between = bob.last()

    assert isinstance(latest, HistoryFrame)
    assert latest.comments == written[::-1][:2]
    assert latest.cursor is not None
    assert isinstance(between, HistoryFrame)
    assert between.comments == written[1:4]


def test_history_is_refused_to_non_members(routes: Routes, api: RecordingApi, room: str) -> None:
    mallory = Client(routes, api, "conn-m", "mallory")

    mallory.send(action="history", roomId=room)

    assert mallory.last().code == "NotAMember"


def test_a_history_page_too_big_for_one_frame_is_shortened_and_resumes_without_gap(
    stack: Stack, api: RecordingApi, room: str
) -> None:
    routes = Routes(stack.store, ConnectionsApi(api), TTL, frame_limit=3_000)
    written = [comment(stack, "y" * 500) for _ in range(12)]
    bob = Client(routes, api, "conn-bob", "bob")

    seen: list[CommentView] = []
    cursor = None
    for _ in range(20):
        bob.send(action="history", roomId=room, limit=100, **({"cursor": cursor} if cursor else {}))
        frame = bob.last()
        assert len(api.received["conn-bob"][-1]) <= 3_000
        seen += frame.comments
        cursor = frame.cursor
        if cursor is None:
            break

    assert seen == written
