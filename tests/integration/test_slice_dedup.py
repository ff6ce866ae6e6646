"""The fan-out queue's deduplication (review s8, finding 1): a slice's deduplication id is its body's digest,
and its body names the stream batch it came from, so presence frames repeated within SQS's 5 minutes (a
user joining, leaving and joining again) are new slices, never silently dropped as a duplicate."""

from __future__ import annotations

import json

import pytest
from test_second_tier import drain, queue_depth, room_of_eleven_in_slices_of_four

from roomcast.models import JoinChatRoom, LeaveChatRoom
from roomcast.usecases import commands
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def test_a_join_leave_join_in_a_big_room_reaches_everyone_three_times(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 11 subscribers in slices of 4, and a member with no socket
    connections, _, stream, given, fanout = room_of_eleven_in_slices_of_four(stack)

    # When they join, leave and join again, each in a stream batch of its own, within seconds
    for command in (JoinChatRoom, LeaveChatRoom, JoinChatRoom):
        commands.apply(command(room_id="art", user_id="newbie"), stack.store)
        stream.drain()
    drain(fanout, lambda: len(given) == 12)

    # Then every connection got the three presence frames, in order, once each
    for connection in connections:
        types = [json.loads(data)["type"] for data in connections_api.received[connection]]
        assert types == ["memberJoined", "memberLeft", "memberJoined"], connection
    assert len({s.batch for s in given}) == 3
    assert queue_depth(stack, "FanoutQueue") == 0
