"""Every stream sample in events/ runs through the StreamFunction, in order, on each backend."""

from __future__ import annotations

import time
from typing import Any

import pytest

from roomcast.domain.chat import room_feed
from roomcast.models import (
    FRAME_ADAPTER,
    CommentsFrame,
    MemberJoined,
    MemberLeft,
    Room,
    RoomDeletedFrame,
    Subscription,
)
from roomcast_local import events
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def sample_room() -> tuple[str, str]:
    """The room and incarnation the stream samples were recorded from."""
    record = events.load(events.EVENTS / "stream-4-room-deleted.json")["Records"][0]
    return "art", record["dynamodb"]["OldImage"]["Incarnation"]["S"]


def test_the_stream_samples_tell_a_rooms_life(stack: Stack, connections_api: RecordingApi) -> None:
    # Given the samples' room, with alice and bob subscribed on one connection each
    room_id, incarnation = sample_room()
    room = Room(room_id=room_id, created_by="alice", created_at="2026-11-25T12:00:00.000Z", incarnation=incarnation)
    stack.store.rooms.create_room(room)
    stack.store.rooms.add_member(room, "bob", joined_at="2026-11-25T12:00:01.000Z")
    for user in ("alice", "bob"):
        stack.store.connections.add_subscription(
            room,
            Subscription(
                connection_id=f"conn-{user}",
                user_id=user,
                room_id=room_id,
                incarnation=incarnation,
                expires_at=int(time.time()) + 600,
            ),
        )

    responses = {path.name: stack.invoke("StreamFunction", events.load(path)) for path in events.samples("stream-")}

    assert all(response == {"batchItemFailures": []} for response in responses.values()), responses
    frames: list[Any] = [FRAME_ADAPTER.validate_json(d) for d in connections_api.received["conn-alice"]]
    comments, joined, left, deleted = frames
    assert isinstance(comments, CommentsFrame)
    assert [c.text for c in comments.comments] == ["hello", "hi bob"]
    assert joined == MemberJoined(room_id=room_id, user_id="carol")
    assert left == MemberLeft(room_id=room_id, user_id="carol")
    assert deleted == RoomDeletedFrame(room_id=room_id)
    # the deletion's cleanup removed every membership and subscription of that incarnation
    feed = room_feed(room_id, incarnation)
    assert stack.store.connections.all_subscribers(feed) == []
    assert stack.store.rooms.list_members(room_id, incarnation)[0] == []
