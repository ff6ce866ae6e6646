"""The live path with real sockets: the local gateway in front of the real functions, on each backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from roomcast import auth
from roomcast.domain.chat import room_feed, split_feed
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentsFrame,
    CreateChatRoom,
    DeleteChatRoom,
    ErrorFrame,
    JoinChatRoom,
    LeaveChatRoom,
    MemberLeft,
    RoomDeletedFrame,
    SubscribedFrame,
    Subscription,
)
from roomcast.usecases import commands
from roomcast_local import template
from roomcast_local.stream_source import StreamEventSource
from roomcast_local.ws_gateway import WebSocketGateway
from support.gateway import template_gateway
from support.stack import Stack

pytestmark = pytest.mark.integration


class Live:
    def __init__(self, stack: Stack, gateway: WebSocketGateway, stage: str, sockets: ExitStack) -> None:
        self.stack, self.gateway, self.stage, self.sockets = stack, gateway, stage, sockets
        self.source: StreamEventSource | None = None
        secret_arn = stack.provisioned.refs["JwtSecret"]
        self.secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]

    def url(self, token: str | None) -> str:
        query = f"?token={token}" if token is not None else ""
        return f"{self.gateway.ws_url}/{self.stage}{query}"

    def connect(self, user: str) -> ClientConnection:
        """A client for the length of the test (closed at teardown)."""
        return self.sockets.enter_context(connect(self.url(auth.issue_token(user, self.secret)), open_timeout=5))


def receive(client: ClientConnection) -> Any:
    return FRAME_ADAPTER.validate_json(client.recv(timeout=5))


@pytest.fixture
def live(stack: Stack) -> Iterator[Live]:
    api = template.websocket_api()
    gateway = template_gateway(lambda function: lambda event: stack.invoke(function, event))
    stack.provisioned.environment["WEBSOCKET_CALLBACK_URL"] = gateway.callback_url
    with ExitStack() as sockets:
        yield Live(stack, gateway, api.stage, sockets)
    gateway.stop_thread()


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (None, 401),
        ("not-a-jwt", 403),
        ("signed-with-another-secret", 403),
        ("expired", 403),
    ],
)
def test_connections_without_a_valid_token_are_refused(live: Live, token: str | None, status: int) -> None:
    if token == "signed-with-another-secret":
        token = auth.issue_token("bob", "x" * 64)
    elif token == "expired":
        token = auth.issue_token("bob", live.secret, ttl_seconds=60, now=int(time.time()) - 3_600)

    with pytest.raises(InvalidStatus) as refused:
        connect(live.url(token), open_timeout=5)

    assert refused.value.response.status_code == status
    assert live.gateway.connection_ids() == []


def test_a_member_subscribes_and_a_stranger_is_refused(live: Live) -> None:
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), live.stack.store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), live.stack.store)

    bob, mallory = live.connect("bob"), live.connect("mallory")
    bob.send(json.dumps({"action": "subscribe", "roomId": "art"}))
    mallory.send(json.dumps({"action": "subscribe", "roomId": "art", "requestId": "m-1"}))

    confirmation = receive(bob)
    refusal = receive(mallory)

    assert isinstance(confirmation, SubscribedFrame)
    assert confirmation.room_id == "art"
    assert confirmation.request_id  # API Gateway's request id, since bob sent none

    assert isinstance(refusal, ErrorFrame)
    assert (refusal.code, refusal.request_id) == ("NotAMember", "m-1")


# ---- the whole live path: table writes -> stream -> StreamFunction -> gateway -> sockets ----


def deliver(live: Live) -> int:
    """Feed the table's stream to the real StreamFunction until it is drained (checkpoints kept across calls)."""
    if live.source is None:
        live.source = live.stack.stream_source(lambda event: live.stack.invoke("StreamFunction", event))
    return live.source.drain()


def comments_in(frames: list[Any]) -> list[str]:
    return [c.text for frame in frames if isinstance(frame, CommentsFrame) for c in frame.comments]


def drain_frames(client: ClientConnection, timeout: float = 0.5) -> list[Any]:
    frames = []
    while True:
        try:
            frames.append(FRAME_ADAPTER.validate_json(client.recv(timeout=timeout)))
        except TimeoutError:
            return frames


def subscribed(live: Live, user: str, room: str) -> ClientConnection:
    client = live.connect(user)
    client.send(json.dumps({"action": "subscribe", "roomId": room}))
    assert isinstance(receive(client), SubscribedFrame)
    return client


def test_a_comment_reaches_every_subscriber_of_its_room_and_no_one_else(live: Live) -> None:
    store = live.stack.store
    for room, members in {"art": ["alice", "bob"], "music": ["carol", "bob"]}.items():
        commands.apply(CreateChatRoom(room_id=room, user_id=members[0]), store)
        commands.apply(JoinChatRoom(room_id=room, user_id=members[1]), store)
    deliver(live)  # the rooms' own history: their joins, before anyone listens
    clients = {
        "alice@art": subscribed(live, "alice", "art"),
        "bob@art": subscribed(live, "bob", "art"),
        "carol@music": subscribed(live, "carol", "music"),
    }
    commands.apply(AddComment(room_id="art", user_id="alice", text="hello art"), store)
    commands.apply(AddComment(room_id="art", user_id="bob", text="hi alice"), store)

    deliver(live)

    received = {name: drain_frames(client) for name, client in clients.items()}
    assert comments_in(received["alice@art"]) == comments_in(received["bob@art"]) == ["hello art", "hi alice"]
    assert received["carol@music"] == []


def test_a_vanished_client_gets_410_and_is_removed_while_the_rest_receive(live: Live) -> None:
    store = live.stack.store
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), store)
    deliver(live)
    alice, bob = subscribed(live, "alice", "art"), subscribed(live, "bob", "art")
    bob_connection = next(s.connection_id for s in store.connections.all_subscribers(_feed(live)) if s.user_id == "bob")
    # bob's socket dies without a close frame
    bob.socket.close()
    wait_until(lambda: bob_connection not in live.gateway.connection_ids())
    # let $disconnect finish first: in-process moto is not safe for concurrent transactions
    wait_until(lambda: live.stack.store.connections.connection_items(bob_connection) == [])
    # ...and, as $disconnect is best effort, say it never ran: his subscription is still stored
    _resubscribe_stale(live, bob_connection, "bob")

    commands.apply(AddComment(room_id="art", user_id="alice", text="still there?"), store)
    deliver(live)

    assert comments_in(drain_frames(alice)) == ["still there?"]
    assert [s.user_id for s in store.connections.all_subscribers(_feed(live))] == ["alice"]
    assert store.connections.connection_items(bob_connection) == []


def test_leave_and_delete_send_presence_and_room_deleted_and_leave_nothing_behind(live: Live) -> None:
    store = live.stack.store
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), store)
    deliver(live)
    alice, bob = subscribed(live, "alice", "art"), subscribed(live, "bob", "art")
    feed = _feed(live)
    commands.apply(AddComment(room_id="art", user_id="bob", text="bye"), store)
    commands.apply(LeaveChatRoom(room_id="art", user_id="bob"), store)
    deliver(live)

    assert drain_frames(alice)[-1] == MemberLeft(room_id="art", user_id="bob")
    assert drain_frames(bob)[-1] == MemberLeft(room_id="art", user_id="bob")
    assert [s.user_id for s in store.connections.all_subscribers(feed)] == ["alice"]

    commands.apply(DeleteChatRoom(room_id="art", user_id="alice"), store)
    deliver(live)

    assert drain_frames(alice) == [RoomDeletedFrame(room_id="art")]
    assert drain_frames(bob) == []
    _, incarnation = split_feed(feed)
    left = [i for i in live.stack.items() if i.get("Incarnation") == incarnation or feed in i["PK"] + i["SK"]]
    assert left == []


def _feed(live: Live, room: str = "art") -> str:
    current = live.stack.store.rooms.get_room(room)
    assert current is not None
    return room_feed(room, current.incarnation)


def _resubscribe_stale(live: Live, connection_id: str, user: str) -> None:
    """Store a subscription for a connection the gateway no longer has, as a lost $disconnect leaves it."""
    room = live.stack.store.rooms.get_room("art")
    assert room is not None
    live.stack.store.connections.add_subscription(
        room,
        Subscription(
            connection_id=connection_id,
            user_id=user,
            room_id="art",
            incarnation=room.incarnation,
            expires_at=int(time.time()) + 600,
        ),
    )


def wait_until(predicate: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
