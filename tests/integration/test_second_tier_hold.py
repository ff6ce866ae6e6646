"""A room dropping to FanoutThreshold between two stream batches (issue 10 point 5): the StreamFunction keeps
it on the second tier while its earlier slices may still be queued, so every connection gets the first
batch's frames before the second's; once the hold has lapsed, the room takes the single hop again.

Both functions run as the template declares them, on every backend, with the FIFO fan-out queue; the hold is
the table's ``Tier:<feed>`` item (adapters/dynamodb/tier_holds.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_failure_isolation import room_with_subscribers, stream_function_run, texts_received
from test_second_tier import comment, drain, fanout_run, queue_depth, slicing

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.tier_holds import DynamoTierHolds
from roomcast.domain.tier_hold import TierHold
from roomcast.wire.slices import FanoutSlice
from roomcast_local.sqs_source import SqsEventSource
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def leave_one(stack: Stack, feed: str, connection: str) -> None:
    """One subscriber gone between the batches (an unsubscribe, or its subscription expiring)."""
    [gone] = [
        s for s in stack.store.connections.all_subscribers(feed, consistent=True) if s.connection_id == connection
    ]
    stack.store.connections.remove_subscriptions([gone])


def stored_hold(stack: Stack, feed: str) -> dict[str, object] | None:
    return next((i for i in stack.items() if i["PK"] == keys.tier_pk(feed)), None)


def first_batch_handed_over(stack: Stack) -> tuple[list[str], str, Any, list[FanoutSlice], SqsEventSource]:
    """A room of 11 above a threshold of 10 (slices of 4), a first batch through the StreamFunction, its slices
    left queued: the connections, the feed, the stream's source, the slices given to the FanoutFunction and
    the fan-out queue's source."""
    slicing(stack, threshold=10, slice_size=4)
    connections, feed = room_with_subscribers(stack, "art", 11)
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    comment(stack, ["first"])
    stream.drain()
    return connections, feed, stream, given, fanout


def test_a_room_dropping_to_the_threshold_keeps_each_connections_batches_in_order(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room of 11 above a threshold of 10 (slices of 4), its first batch handed to the fan-out queue
    connections, feed, stream, given, fanout = first_batch_handed_over(stack)
    first_slices = len(given) + queue_depth(stack, "FanoutQueue")

    # When one subscriber leaves, and the next batch finds the room at the threshold before the slices ran
    leave_one(stack, feed, connections[0])
    comment(stack, ["second"])
    stream.drain()

    # Then the StreamFunction posted nothing itself: the second batch queued behind the first, and every
    # connection got both, once each, in order
    assert connections_api.posts == [], "a room held on the tier is not posted ahead of its queued slices"
    drain(fanout, lambda: all(texts_received(connections_api, c) == ["first", "second"] for c in connections[1:]))
    assert texts_received(connections_api, connections[0]) == ["first"]
    assert len(given) > first_slices and len({s.batch for s in given}) == 2, "both batches through the tier"
    assert queue_depth(stack, "FanoutQueue") == 0
    hold = stored_hold(stack, feed)
    assert (
        hold is not None
        and int(str(hold["Until"])) > time.time()
        and int(str(hold["ExpiresAt"])) > int(str(hold["Until"]))
    )


def test_once_the_hold_has_lapsed_a_room_at_the_threshold_takes_the_single_hop(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a room handed to the tier, all of its slices posted, and its hold lapsed since
    connections, feed, stream, given, fanout = first_batch_handed_over(stack)
    drain(fanout, lambda: all(texts_received(connections_api, c) == ["first"] for c in connections))
    hold = stored_hold(stack, feed)
    assert hold is not None
    lapsed = TierHold(until=int(time.time()) - 1, buckets=int(str(hold["Buckets"])))
    DynamoTierHolds(stack.table_name).write(feed, lapsed)

    # When the room drops to the threshold and its next batch comes
    leave_one(stack, feed, connections[0])
    sliced = len(given)
    comment(stack, ["second"])
    stream.drain()

    # Then the StreamFunction posted it itself, and nothing more went to the queue
    for connection in connections[1:]:
        assert texts_received(connections_api, connection) == ["first", "second"]
    assert len(given) == sliced and queue_depth(stack, "FanoutQueue") == 0


def test_a_hold_is_extended_never_shortened_its_buckets_kept(stack: Stack) -> None:
    # The FanoutFunction's renewal of a slice retried or handed on (usecases/second_tier.py HoldRenewal)
    holds, feed, other = DynamoTierHolds(stack.table_name), "art#i1", "tea#i1"
    holds.write(feed, TierHold(until=1_000, buckets=8))

    holds.extend(feed, 2_000)
    holds.extend(feed, 1_500)  # an earlier renewal arriving late: refused by its condition
    holds.extend(other, 3_000)  # none stored (its TTL removed it): cut by the room's own size from then

    assert holds.read(feed) == TierHold(until=2_000, buckets=8)
    assert holds.read(other) == TierHold(until=3_000, buckets=1)
