"""End to end on the local stack, through its public surfaces only."""

from __future__ import annotations

import json
import socket
import struct
import uuid
from contextlib import ExitStack
from typing import Any

import boto3
import pytest

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.domain.chat import room_feed
from roomcast.models import (
    AddComment,
    CommentsFrame,
    DeleteChatRoom,
    LeaveChatRoom,
    MemberLeft,
    RoomDeletedFrame,
    SubscribedFrame,
    Subscription,
)
from support.chat_users import User, distinct_texts, frames_until, in_room, subscribed, texts
from support.local_stack import RunningStack, wait_until

pytestmark = pytest.mark.e2e


def test_create_join_comment_reaches_every_subscriber(stack: RunningStack, sockets: ExitStack, room: str) -> None:
    alice, bob, carol = in_room(stack, room, sockets, "alice", "bob", "carol")
    watchers = [bob.watch(room), carol.watch(room)]
    for watcher in watchers:
        subscribed(watcher)

    alice.send(AddComment(room_id=room, user_id="alice", text="hello everyone"))

    for watcher in watchers:
        assert texts(frames_until(watcher, lambda f: bool(texts(f)))) == ["hello everyone"]


def test_reconnect_with_since_misses_nothing(stack: RunningStack, sockets: ExitStack, room: str) -> None:
    alice, bob = in_room(stack, room, sockets, "alice", "bob")
    first = bob.watch(room)
    subscribed(first)
    alice.send(AddComment(room_id=room, user_id="alice", text="before"))
    seen = frames_until(first, lambda f: bool(texts(f)))
    last_position = next(c.position for f in seen if isinstance(f, CommentsFrame) for c in f.comments)
    first.close()

    # While bob is away, five more comments are written (asynchronously, through the queue)
    for n in range(5):
        alice.send(AddComment(room_id=room, user_id="alice", text=f"missed {n}"))

    # When he comes back with the last position he saw, the replay holds what he missed, besides what he
    # has (the replay window before since brings "before" back: he drops it by commentId)
    again = wait_until(lambda: _replayed_all(bob, room, last_position, 5, {"before"}), what="all five written")

    assert [t for t in distinct_texts(again) if t != "before"] == [f"missed {n}" for n in range(5)]


def _replayed_all(bob: User, room: str, since: str, expected: int, seen: set[str]) -> list[Any] | None:
    client = bob.watch(room, since=since)
    frames = frames_until(client, lambda f: any(isinstance(x, SubscribedFrame) for x in f))
    if len(set(distinct_texts(frames)) - seen) < expected:
        client.close()
        return None
    return frames


def test_leave_and_delete_send_presence_and_room_deleted_and_leave_nothing(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    alice, bob = in_room(stack, room, sockets, "alice", "bob")
    alice_watch, bob_watch = alice.watch(room), bob.watch(room)
    subscribed(alice_watch)
    subscribed(bob_watch)

    bob.send(LeaveChatRoom(room_id=room, user_id="bob"))
    assert MemberLeft(room_id=room, user_id="bob") in frames_until(
        alice_watch, lambda f: any(isinstance(x, MemberLeft) for x in f)
    )
    alice.send(DeleteChatRoom(room_id=room, user_id="alice"))
    assert RoomDeletedFrame(room_id=room) in frames_until(
        alice_watch, lambda f: any(isinstance(x, RoomDeletedFrame) for x in f)
    )

    table = boto3.resource("dynamodb").Table(stack.state.outputs["ChatTableName"])

    def remains() -> list[dict[str, Any]]:
        # Commands' outcome records are the producers' log, kept 30 days whatever became of the room
        items = [i for i in table.scan()["Items"] if not str(i["PK"]).startswith("Outcome:")]
        return [i for i in items if room in json.dumps(i, default=str)]

    wait_until(lambda: remains() == [], what="nothing of the room left")


def test_a_poison_message_ends_in_the_dlq_with_its_reason(stack: RunningStack, sockets: ExitStack) -> None:
    poison = User(stack, "producer", sockets).send('{"type": "addComment", "roomId": "art"}')
    sqs = boto3.client("sqs")
    dlq = stack.state.outputs["CommandDeadLetterQueueUrl"]

    def parked() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], MaxNumberOfMessages=10)
        for message in messages.get("Messages", []):
            if message["MessageAttributes"]["OriginalMessageId"]["StringValue"] == poison:
                return dict(message)
        return None

    message = wait_until(parked, what="poison message in the DLQ")
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "InvalidCommand"
    assert "userId: Field required" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]


def test_a_client_that_vanishes_gets_410_and_its_connection_is_removed(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    alice, bob = in_room(stack, room, sockets, "alice", "bob")
    alice_watch, bob_watch = alice.watch(room), bob.watch(room)
    subscribed(alice_watch)
    subscribed(bob_watch)
    store = dynamodb_store(stack.state.outputs["ChatTableName"])
    current = store.rooms.get_room(room)
    assert current is not None
    feed = room_feed(room, current.incarnation)
    [bob_connection] = [s.connection_id for s in store.connections.all_subscribers(feed) if s.user_id == "bob"]

    # bob's network goes away: no close frame, the socket is simply reset
    raw = bob_watch.socket
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    management = boto3.client("apigatewaymanagementapi", endpoint_url=stack.state.callback_url)

    def gone() -> bool:
        try:
            management.post_to_connection(ConnectionId=bob_connection, Data=b"ping")
        except management.exceptions.GoneException:
            return True
        return False

    wait_until(gone, what="410 for bob's connection")
    wait_until(lambda: store.connections.connection_items(bob_connection) == [], what="bob's connection removed")

    # A subscription whose $disconnect never came (API Gateway only tries): the next fan-out meets
    # the 410, removes it, and everyone else still receives.
    stale = f"stale-{uuid.uuid4().hex[:6]}="
    store.connections.add_subscription(
        current,
        Subscription(
            connection_id=stale, user_id="bob", room_id=room, incarnation=current.incarnation, expires_at=2**31
        ),
    )
    alice.send(AddComment(room_id=room, user_id="alice", text="anyone?"))

    assert texts(frames_until(alice_watch, lambda f: bool(texts(f)))) == ["anyone?"]
    wait_until(lambda: store.connections.connection_items(stale) == [], what="stale connection removed")
    assert [s.user_id for s in store.connections.all_subscribers(feed)] == ["alice"]
