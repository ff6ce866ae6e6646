"""Cleanup of a deleted room with many members: time and requests, against the fewest requests that can do it.

Both rooms are seeded the same way on in-process moto: the room is created and deleted through
Roomcast's commands; its members are written by the repository's own join write (``add_member``, the
two items a joinChatRoom writes) with the transactions batched (bench/local.py, BulkWriter), so
10,000 joins take seconds, not hours. No subscriptions or comments:
this measures the member pages, which dominate a big room's cleanup.

The floor is the same work with nothing spare: 1 MB Query pages instead of 100 members, no look at
the (empty) subscriptions before each page, no hand-over; still one conditional DeleteItem per join item.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from bench.local import BulkWriter, Chat, NullApi, chat_on_moto, never
from bench.meter import Usage
from bench.results import Figure
from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import dynamodb_store, keys
from roomcast.domain.chat import room_feed, split_feed
from roomcast.models import CreateChatRoom, DeleteChatRoom
from roomcast.usecases import commands
from roomcast.usecases.cleanup import PAGE_SIZE, clean_up_room


@dataclass(frozen=True)
class Timed:
    seconds: float
    usage: Usage


def run(smoke: bool) -> list[Figure]:
    members = 50 if smoke else 10_000
    with chat_on_moto("cleanup") as chat:
        measured_feed = deleted_room(chat, "measured", members)
        floor_feed = deleted_room(chat, "floor", members)
        with chat.meter.measure() as usage:
            started = time.perf_counter()
            report = clean_up_room(chat.store, ConnectionsApi(NullApi()), measured_feed, never)
            roomcast = Timed(time.perf_counter() - started, usage)
        with chat.meter.measure() as usage:
            started = time.perf_counter()
            floor_cleanup(chat, floor_feed)
            floor = Timed(time.perf_counter() - started, usage)
        for feed in (measured_feed, floor_feed):
            if _members_left(chat, feed):
                raise RuntimeError(f"cleanup of {feed} left members behind")
    if not report.done or report.memberships != members:
        raise RuntimeError(f"cleanup did not finish: {report}")
    workload = (
        f"clean_up_room on a deleted room of {members:,} members (no subscriptions or comments), "
        "in-process moto, one invocation with no time limit"
    )
    moto = "Time is moto's in-process, not DynamoDB's: the request count is the portable figure."
    return [
        Figure(
            f"cleanup/members={members}/seconds",
            workload,
            roomcast.seconds,
            "s",
            floor.seconds,
            "floor: fewest requests, same sequence",
            f"{report.pages} pages of {PAGE_SIZE}; {members / roomcast.seconds:,.0f} members/s. Of that, Query "
            f"{roomcast.usage.seconds['Query']:.1f} s (floor {floor.usage.seconds['Query']:.1f} s): moto sorts the "
            "whole partition for every Query (moto/dynamodb/models/table.py), where DynamoDB reads the page. " + moto,
        ),
        Figure(
            f"cleanup/members={members}/requests",
            workload,
            roomcast.usage.total_requests,
            "requests",
            floor.usage.total_requests,
            "floor: fewest requests",
            f"Roomcast: {roomcast.usage.describe()}; floor: {floor.usage.describe()}. The difference is one "
            "Query of the empty subscriptions per page and 100-member pages where 1 MB would hold thousands.",
        ),
        Figure(
            f"cleanup/members={members}/wcu",
            workload,
            roomcast.usage.total_wcu,
            "WCU",
            floor.usage.total_wcu,
            "floor",
            "one unit per item deleted: the join item (conditional DeleteItem) and the member item (BatchWriteItem)",
        ),
    ]


def deleted_room(chat: Chat, room_id: str, members: int) -> str:
    """A room with ``members`` members (its creator included), deleted; returns its feed."""
    commands.apply(CreateChatRoom(room_id=room_id, user_id="m00000"), chat.store)
    room = chat.store.rooms.get_room(room_id)
    assert room is not None
    seed = BulkWriter(aws_clients.dynamodb())
    seeding = dynamodb_store(chat.table_name, seed)
    for n in range(1, members):
        # The join's own write (joinChatRoom minus its read of the room, known here): the same two items.
        seeding.rooms.add_member(room, f"m{n:05d}", joined_at=room.created_at)
    seed.flush()
    outcome = commands.apply(DeleteChatRoom(room_id=room_id, user_id="m00000"), chat.store)
    return room_feed(room_id, outcome.event.incarnation)  # type: ignore[union-attr]


def floor_cleanup(chat: Chat, feed: str) -> None:
    """The members of a deleted incarnation, removed with the fewest requests the rules allow."""
    room_id, incarnation = split_feed(feed)
    client, table = aws_clients.dynamodb(), chat.table_name
    start: dict[str, Any] | None = None
    while True:
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :members)",
            "ExpressionAttributeValues": {":pk": keys.room_pk(room_id), ":members": keys.members_prefix(incarnation)},
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        page = client.query(**request)
        for item in page["Items"]:
            user_id = keys.strip(keys.members_prefix(incarnation), item["SK"])
            # A user who joined a room created again with this id keeps that join: the condition fails.
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                client.delete_item(
                    TableName=table,
                    Key={"PK": keys.user_pk(user_id), "SK": keys.join_sk(room_id)},
                    ConditionExpression="attribute_not_exists(PK) OR Incarnation = :incarnation",
                    ExpressionAttributeValues={":incarnation": incarnation},
                )
        doomed = [{"DeleteRequest": {"Key": {"PK": i["PK"], "SK": i["SK"]}}} for i in page["Items"]]
        for first in range(0, len(doomed), 25):
            pending: dict[str, Any] = {table: doomed[first : first + 25]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        start = page.get("LastEvaluatedKey")
        if start is None:
            return


def _members_left(chat: Chat, feed: str) -> int:
    room_id, incarnation = split_feed(feed)
    members, _ = chat.store.rooms.list_members(room_id, incarnation, limit=10)
    return len(members)
