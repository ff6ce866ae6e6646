"""Every WebSocket sample in events/ runs through its function, in order, on each backend."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentsFrame,
    CreateChatRoom,
    ErrorFrame,
    HistoryFrame,
    JoinChatRoom,
    SubscribedFrame,
    UnsubscribedFrame,
)
from roomcast.usecases import commands
from roomcast_local import events
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def run(stack: Stack, name: str) -> Any:
    path = events.EVENTS / name
    return stack.invoke(events.function_for(path), events.load(path))


def test_the_websocket_samples_tell_a_session(stack: Stack, connections_api: RecordingApi) -> None:
    # Given room art, joined by bob, with comments before and after the position the sample resumes from
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)
    for n in range(3):
        commands.apply(AddComment(room_id="art", user_id="alice", text=f"c{n}"), stack.store)
    connect = events.load(events.EVENTS / "connect-1-connect.json")
    connection = connect["requestContext"]["connectionId"]

    assert run(stack, "connect-1-connect.json") == {"statusCode": 200}
    assert [i["UserID"] for i in stack.store.connections.connection_items(connection)] == ["bob"]

    for name in sorted(p.name for p in events.samples("message-")):
        assert run(stack, name) == {"statusCode": 200}, name
    frames = [FRAME_ADAPTER.validate_json(data) for data in connections_api.received[connection]]
    # subscribe since an older position: every comment replayed, then the confirmation
    replay, confirmation, history, unsubscribed, error = frames
    assert isinstance(replay, CommentsFrame)
    assert [c.text for c in replay.comments] == ["c0", "c1", "c2"]
    assert isinstance(confirmation, SubscribedFrame)
    assert confirmation.replayed == 3
    assert isinstance(history, HistoryFrame)
    assert [c.text for c in history.comments] == ["c2", "c1", "c0"]
    assert isinstance(unsubscribed, UnsubscribedFrame)
    assert isinstance(error, ErrorFrame)
    assert error.code == "InvalidRequest"

    assert run(stack, "disconnect-1-client-closed.json") == {"statusCode": 200}
    assert stack.store.connections.connection_items(connection) == []


def test_a_connect_event_without_a_verified_identity_is_refused(stack: Stack) -> None:
    event = events.load(events.EVENTS / "connect-1-connect.json")
    event["requestContext"].pop("authorizer")

    assert stack.invoke("ConnectFunction", event) == {"statusCode": 401}
    assert stack.store.connections.connection_items(event["requestContext"]["connectionId"]) == []


def test_every_message_sample_is_a_client_request_of_the_contract() -> None:
    for path in events.samples("message-"):
        body = json.loads(events.load(path)["body"])
        assert set(body) <= {"action", "roomId", "since", "mode", "from", "to", "limit", "cursor", "requestId"}
