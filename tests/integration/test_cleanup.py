"""Cleanup after a deleted room: complete for any size, resumable, idempotent, and safe for a room reused."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Table
from roomcast.domain.chat import room_feed, split_feed
from roomcast.domain.errors import TransientError
from roomcast.edges.websocket import handle_message
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    RoomDeletedFrame,
)
from roomcast.usecases import commands
from roomcast.usecases.cleanup import clean_up_room
from roomcast.usecases.subscriptions import Caller, Routes
from support.fakes import RecordingApi
from support.requests import counted
from support.stack import Stack

pytestmark = pytest.mark.integration

MEMBERS = 12  # more than two pages of PAGE
PAGE = 5


def never() -> bool:
    return False


def pages(n: int) -> Callable[[], bool]:
    """An invocation with time for ``n`` pages of cleanup."""
    budget = iter([False] * n)
    return lambda: next(budget, True)


@pytest.fixture
def deleted_room(stack: Stack) -> str:
    """Given room art with 12 members, 3 subscribed connections and 12 comments, just deleted. Returns its feed."""
    store = stack.store
    commands.apply(CreateChatRoom(room_id="art", user_id="u00"), store)
    for n in range(1, MEMBERS):
        commands.apply(JoinChatRoom(room_id="art", user_id=f"u{n:02d}"), store)
    routes = Routes(store, ConnectionsApi(RecordingApi()), 7_500, 32 * 1024)
    for n in range(3):
        caller = Caller(f"conn-{n}", f"u{n:02d}", int(time.time() * 1000), "r")
        routes.connect(caller)
        handle_message(routes, caller, json.dumps({"action": "subscribe", "roomId": "art"}))
    for n in range(MEMBERS):
        commands.apply(AddComment(room_id="art", user_id=f"u{n:02d}", text=f"c{n}"), store)
    outcome = commands.apply(DeleteChatRoom(room_id="art", user_id="u00"), store)
    return room_feed("art", outcome.event.incarnation)  # type: ignore[union-attr]


def leftovers(stack: Stack, feed: str) -> list[dict[str, Any]]:
    """Every item that still belongs to the deleted incarnation."""
    _, incarnation = split_feed(feed)
    return [
        item
        for item in stack.items()
        if item.get("Incarnation") == incarnation
        or item.get("RoomID") == feed
        or feed in item["PK"]
        or feed in item["SK"]
    ]


def cleanup(stack: Stack, api: RecordingApi, feed: str, out_of_time: Any = never) -> Any:
    gateway = ConnectionsApi(api, sleep=lambda _: None)
    return clean_up_room(stack.store, gateway, feed, out_of_time, max_workers=4, page_size=PAGE)


def test_cleanup_notifies_subscribers_then_removes_everything_of_the_room(stack: Stack, deleted_room: str) -> None:
    assert len(leftovers(stack, deleted_room)) > MEMBERS * 2
    api = RecordingApi()

    report = cleanup(stack, api, deleted_room)

    assert report.done
    assert (report.subscriptions, report.memberships, report.comments) == (3, MEMBERS, MEMBERS)
    assert leftovers(stack, deleted_room) == []
    for n in range(3):
        assert [FRAME_ADAPTER.validate_json(d) for d in api.received[f"conn-{n}"]] == [RoomDeletedFrame(room_id="art")]
        # the connections themselves stay open: only their subscription to the room is gone
        assert [i["SK"] for i in stack.store.connections.connection_items(f"conn-{n}")] == [keys.META]


def test_a_member_of_a_room_created_again_keeps_the_new_membership(stack: Stack, deleted_room: str) -> None:
    commands.apply(CreateChatRoom(room_id="art", user_id="u05"), stack.store)

    cleanup(stack, RecordingApi(), deleted_room)

    room, membership = stack.store.rooms.get_room_and_membership("art", "u05")
    assert room is not None and membership is not None
    assert membership.incarnation == room.incarnation
    assert stack.store.rooms.get_room_and_membership("art", "u04")[1] is None


def test_cleanup_survives_a_crash_half_way(stack: Stack, deleted_room: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cleanup that dies on its fourth batch of deletes
    calls = {"n": 0}
    delete_keys = Table.delete_keys

    def failing(self: Table, doomed: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise TransientError("the Lambda died here")
        delete_keys(self, doomed)

    monkeypatch.setattr(Table, "delete_keys", failing)
    with pytest.raises(TransientError):
        cleanup(stack, RecordingApi(), deleted_room)
    assert leftovers(stack, deleted_room) != []

    # When the stream record is delivered again
    report = cleanup(stack, RecordingApi(), deleted_room)

    # Then the cleanup finishes from where things stand
    assert report.done
    assert leftovers(stack, deleted_room) == []


def test_a_duplicate_delivery_changes_nothing(stack: Stack, deleted_room: str) -> None:
    cleanup(stack, RecordingApi(), deleted_room)
    before = stack.items()
    api = RecordingApi()

    report = cleanup(stack, api, deleted_room)

    assert report.done
    assert (report.subscriptions, report.memberships, report.comments) == (0, 0, 0)
    assert api.posts == []
    assert stack.items() == before


def test_cleanup_hands_over_to_a_later_invocation_when_time_runs_short(stack: Stack, deleted_room: str) -> None:
    # Given an invocation with time for two pages only
    first = cleanup(stack, RecordingApi(), deleted_room, out_of_time=pages(2))

    # Then it leaves a task item whose stream record will wake the processor again
    assert not first.done
    task = [i for i in stack.items() if i["PK"] == keys.cleanup_pk(deleted_room)]
    assert [int(i["Step"]) for i in task] == [1]

    # And the next invocations finish the job and remove the task
    steps = 0
    while True:
        steps += 1
        report = cleanup(stack, RecordingApi(), deleted_room, out_of_time=pages(2))
        if report.done:
            break
        assert steps < 20
    assert leftovers(stack, deleted_room) == []


def test_requests_per_cleanup_page(stack: Stack, deleted_room: str) -> None:
    """The figures the capacity model uses: DynamoDB requests for each kind of page (PAGE items)."""
    client = aws_clients.dynamodb()

    def one_page() -> dict[str, int]:
        with counted(client) as calls:
            cleanup(stack, RecordingApi(), deleted_room, out_of_time=pages(1))
        return dict(calls)

    # 3 subscriptions: a page fills across the S subscription shards, so S Queries (one a shard), one
    # BatchWriteItem of 6 deletes, one of the touched shards' heads, 1 UpdateItem (hand-over)
    subscriptions = one_page()
    # S Queries (every shard empty), 1 BatchWriteItem dropping the S heads; 1 Query, 5 conditional
    # DeleteItem, 1 BatchWriteItem for the members
    members = one_page()
    shards = keys.SUBSCRIBER_SHARDS
    assert subscriptions == {"Query": shards, "BatchWriteItem": 2, "UpdateItem": 1}
    assert members == {"Query": shards + 1, "DeleteItem": PAGE, "BatchWriteItem": 2, "UpdateItem": 1}


def test_cleanup_decides_done_on_strongly_consistent_reads(stack: Stack, deleted_room: str) -> None:
    """An eventually consistent empty page could end the cleanup with subscriptions or members left."""
    client = aws_clients.dynamodb()
    queries: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        queries.append(dict(params))

    client.meta.events.register("provide-client-params.dynamodb.Query", record)
    try:
        assert cleanup(stack, RecordingApi(), deleted_room).done
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.Query", record)

    on_the_table = [query for query in queries if "IndexName" not in query]
    assert on_the_table and all(query.get("ConsistentRead") is True for query in on_the_table)
