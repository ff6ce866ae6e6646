"""Issue 10 point 4, review of the flush: a window the FanoutFunction posts itself (a room at or below
FanoutThreshold) stops at the slices' deadline and hands the connections left on in the second tier's slices
(FanoutSliceSize, the message bytes), never as one unbounded message; on each backend, through the template's
functions and queues."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_failure_isolation import texts_received
from test_frame_windows import paced_room
from test_second_tier import FanoutSources, comment, drain, queue_depth

from roomcast.wire.flush import FanoutMessage, parse_fanout_message
from roomcast.wire.slices import FanoutSlice
from roomcast_local import invoke as local_invoke
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def hurried_fanout(stack: Stack) -> tuple[list[FanoutMessage], FanoutSources]:
    """The FanoutFunction behind the flush and fan-out queues, its invocations starting at their posting deadline (a 2 s
    timeout is slice_batch's margin): each posts to one connection, then hands the rest on."""
    given: list[FanoutMessage] = []
    spec = replace(stack.spec("FanoutFunction"), timeout=2)

    def invoke(event: dict[str, Any]) -> Any:
        given.extend(parse_fanout_message(r["body"]) for r in event["Records"])
        return local_invoke.invoke(spec, event)

    return given, FanoutSources(stack, invoke)


def test_a_flush_at_its_deadline_hands_its_rest_on_in_the_tiers_slices(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room of 4 under FanoutThreshold, flushed by the FanoutFunction itself, in slices of 1
    stack.provisioned.parameters.update(FanoutThreshold="10", FanoutSliceSize="1")
    connections, _, stream, _, _ = paced_room(stack, 4)
    given, fanout = hurried_fanout(stack)

    # When a comment's window is flushed at the deadline
    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then the flush posted to one connection and handed the other three on, one slice each; nobody twice
    slices = [m for m in given if isinstance(m, FanoutSlice)]
    assert len(given) - len(slices) == 1 and [len(s.targets) for s in slices] == [1, 1, 1]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert queue_depth(stack, "FanoutQueue") == 0 and queue_depth(stack, "FanoutDeadLetterQueue") == 0
    assert queue_depth(stack, "FrameWindowQueue") == 0
