"""DynamoDB requests and capacity units of every operation of the data model, against the minimum the design allows.

Runs on in-process moto with template.yaml's table, through Roomcast's real code (service, queries,
routes, live processor, cleanup), each operation metered on its own (bench/meter.py). The minimum is
what the same rules (docs/commands.md, docs/websocket.md) on the same table could cost at best; where
Roomcast pays more, the figure's notes say what for.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.before import with_room_check
from bench.local import BulkWriter, Chat, NullApi, chat_on_moto, pages
from bench.meter import Read, Usage, read_units
from bench.results import Figure
from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import dynamodb_store, keys
from roomcast.domain import ids
from roomcast.domain.chat import room_feed, split_feed
from roomcast.edges.websocket import handle_message
from roomcast.models import (
    AddComment,
    CommentAdded,
    CommentView,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    Room,
)
from roomcast.usecases import commands
from roomcast.usecases import history as queries
from roomcast.usecases.cleanup import PAGE_SIZE, clean_up_room
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast_local import events, template
from roomcast_local import invoke as local_invoke

ROOM = "bench"
OWNER = "owner"
TEXT = "x" * 100  # a chat line; every item of this workload is then well under 1 KB
FRAME_LIMIT = 32 * 1024
FANOUT_WORKERS = 16  # template.yaml's FANOUT_MAX_WORKERS


@dataclass(frozen=True)
class Sizes:
    members: int  # besides the owner; each also subscribed on one connection
    comments: int
    page: int  # history page size
    batch: int  # comments in the measured stream batch


FULL = Sizes(members=100, comments=200, page=50, batch=10)
SMOKE = Sizes(members=4, comments=12, page=5, batch=2)


@dataclass(frozen=True)
class Floor:
    """The least this operation can cost under the same rules on the same table, and why."""

    requests: int
    rcu: float
    wcu: float
    why: str


@dataclass(frozen=True)
class Measured:
    operation: str
    workload: str
    usage: Usage
    floor: Floor


def run(smoke: bool) -> list[Figure]:
    sizes = SMOKE if smoke else FULL
    with chat_on_moto() as chat:
        measured = _operations(chat, sizes)
    figures: list[Figure] = []
    for m in measured:
        figures += _figures(m)
    return figures


def _operations(chat: Chat, sizes: Sizes) -> list[Measured]:
    store, meter = chat.store, chat.meter
    # Setup goes through Roomcast's own code too, its transactions batched (see BulkWriter).
    seed = BulkWriter(aws_clients.dynamodb())
    seeding = dynamodb_store(chat.table_name, seed)
    members = [f"u{n:03d}" for n in range(1, sizes.members + 1)]
    results: list[Measured] = []

    def measure(operation: str, workload: str, action: Callable[[], object], floor: Callable[[Usage], Floor]) -> None:
        with meter.measure() as usage:
            action()
        results.append(Measured(operation, workload, usage, floor(usage)))

    measure(
        "createChatRoom",
        "create a room (its creator joins it)",
        lambda: commands.apply(CreateChatRoom(room_id=ROOM, user_id=OWNER), store),
        lambda _: Floor(1, 0, 6, "room and both sides of the creator's membership in one transaction: 3 items x 2"),
    )
    measure(
        "joinChatRoom",
        "join an existing room",
        lambda: commands.apply(JoinChatRoom(room_id=ROOM, user_id=members[0]), store),
        lambda _: Floor(
            2,
            3,
            8,
            "the member item's key holds the incarnation, so the room is read first (SC), with the user's ban and "
            "mute (issue 12: one BatchGetItem of 3 keys); the transaction checks the room and that no ban holds "
            "(2 ConditionChecks, 4) and writes both sides of the membership (2 x 2)",
        ),
    )
    for member in members[1:]:
        commands.apply(JoinChatRoom(room_id=ROOM, user_id=member), seeding)
    seed.flush()
    room = store.rooms.get_room(ROOM)
    assert room is not None
    feed = room_feed(ROOM, room.incarnation)

    measure(
        "addComment",
        f"a {len(TEXT)}-character comment by a member",
        lambda: commands.apply(AddComment(room_id=ROOM, user_id=members[0], text=TEXT), store),
        _add_comment_floor,
    )
    measure(
        "addComment+outcome",
        "the same through CommandFunction (one SQS record): its outcome record read first, then written in the "
        "comment's own transaction",
        lambda: _command(chat, AddComment(room_id=ROOM, user_id=members[0], text=TEXT)),
        lambda _: dataclasses.replace(
            results[-1].floor,
            why=f"{results[-1].floor.why}. Exactly once adds a strongly consistent GetItem of the outcome record "
            "(a duplicate is answered from it before any rule runs) and the record's Put in the transaction "
            "(2 WCU); the Powertools idempotency table's PutItem and UpdateItem are gone",
        ),
    )
    measure(
        "addComment-room-check",
        "the same comment with the room's ConditionCheck that addComment carried until issue 10 point 6 "
        "(the before beside addComment's after, in this run)",
        lambda: with_room_check(store, room, AddComment(room_id=ROOM, user_id=members[0], text=TEXT)),
        _add_comment_floor,
    )
    for n in range(sizes.comments - 3):
        commands.apply(AddComment(room_id=ROOM, user_id=members[n % len(members)], text=TEXT), seeding)
    seed.flush()

    positions = _positions(chat, room)
    start = len(positions) // 4
    page = sizes.page
    history_cases: list[tuple[queries.Mode, str | None, str | None]] = [
        ("all", None, None),
        ("latest", None, None),
        ("after", positions[start], None),
        ("between", positions[start], positions[start + page - 1]),
    ]
    for mode, after, to in history_cases:
        measure(
            f"history-{mode}",
            f"first page of {page} of {len(positions)} comments, mode {mode}",
            _history(chat, mode, after, to, page),
            lambda usage: _history_floor(usage, page),
        )

    routes = Routes(store, ConnectionsApi(NullApi()), 7_500, FRAME_LIMIT)
    callers = [Caller(f"conn-{member}", member, int(time.time() * 1000), f"r-{member}") for member in members]
    subscribe = json.dumps({"action": "subscribe", "roomId": ROOM})
    for caller in callers:
        routes.connect(caller)
    measure(
        "subscribe",
        "subscribe a member's connection to the room (no replay)",
        lambda: handle_message(routes, callers[0], subscribe),
        lambda _: Floor(
            2,
            1,
            8,
            "the join item alone carries the incarnation (1 RCU); the transaction checks room and membership "
            "(2 ConditionChecks, 4) and writes both sides of the subscription (4)",
        ),
    )
    seeding_routes = Routes(seeding, ConnectionsApi(NullApi()), 7_500, FRAME_LIMIT)
    for caller in callers[1:]:
        handle_message(seeding_routes, caller, subscribe)
    seed.flush()

    batch = [_comment_change(feed, members[n % len(members)], n) for n in range(sizes.batch)]
    processor = LiveProcessor(store, ConnectionsApi(NullApi()), FRAME_LIMIT, FANOUT_WORKERS, lambda: False)
    measure(
        "fanout-batch",
        f"one stream batch of {sizes.batch} comments to a room of {len(members)} subscriptions",
        lambda: processor.deliver(batch),
        lambda usage: Floor(
            1,
            usage.rcu,
            0,
            "one eventually consistent read of the room's subscriptions per room per batch, whatever the number "
            "of comments; the comments come from the stream records",
        ),
    )
    measure(
        "leaveChatRoom",
        "leave the room",
        lambda: commands.apply(LeaveChatRoom(room_id=ROOM, user_id=members[-1]), store),
        lambda _: Floor(2, 1, 4, "the room is read (SC) for the incarnation in the member item's key; 2 deletes x 2"),
    )
    measure(
        "deleteChatRoom",
        "delete the room (its creator)",
        lambda: commands.apply(DeleteChatRoom(room_id=ROOM, user_id=OWNER), store),
        lambda _: Floor(
            1,
            0,
            1,
            "one conditional delete of the room item; everything else is the stream's cleanup. Roomcast reads the "
            "room first (1 RCU): the creator rule is checked in the domain, and the event names the incarnation; "
            "the delete is a transaction (2 WCU) so that the command's outcome record can join it",
        ),
    )
    cleanup_gateway = ConnectionsApi(NullApi())
    for kind, floor in (
        ("subscriptions", _cleanup_floor(empty_queries=0)),
        ("members", _cleanup_floor(empty_queries=1)),
        ("comments", _cleanup_floor(empty_queries=2)),
    ):
        measure(
            f"cleanup-{kind}-page",
            f"one cleanup page of {kind} (at most {PAGE_SIZE}) of the deleted room, then the hand-over",
            lambda: clean_up_room(store, cleanup_gateway, feed, pages(1), FANOUT_WORKERS),
            floor,
        )
    return results


def _command(chat: Chat, command: AddComment) -> None:
    spec = template.function_spec("CommandFunction", chat.provisioned)
    # Quiet: Powertools would print its logs and metrics to this process's stdout.
    quiet = {**spec.environment, "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    answer = local_invoke.invoke(dataclasses.replace(spec, environment=quiet), events.sqs_event(command))
    if answer != {"batchItemFailures": []}:
        raise RuntimeError(f"CommandFunction did not apply the command: {answer}")


def _positions(chat: Chat, room: Room) -> list[str]:
    """Every comment's position, oldest first (not metered: outside any measure block)."""
    pages = queries.pages(chat.store, room, "all", limit=queries.MAX_PAGE_SIZE)
    return [c.position for page in pages for c in page.comments]


def _history(chat: Chat, mode: queries.Mode, after: str | None, to: str | None, page: int) -> Callable[[], object]:
    return lambda: queries.history(chat.store, ROOM, mode, after=after, to=to, limit=page)


def _comment_change(feed: str, user_id: str, n: int) -> Change:
    """A comment as the stream processor sees it (the new image of its INSERT record)."""
    comment_id = ids.new_ulid()
    comment = CommentView(
        comment_id=comment_id, user_id=user_id, text=TEXT, created_at="2026-01-01T00:00:00.000Z", position=comment_id
    )
    return Change(f"{n:021d}", feed, CommentAdded(room_id=split_feed(feed)[0], comment=comment))


def _add_comment_floor(usage: Usage) -> Floor:
    return Floor(
        2,
        1,
        usage.total_wcu,
        "the join item alone carries the incarnation, so a GetItem of it (1 RCU) would do, and the transaction "
        "checks only the join item (no room ConditionCheck since issue 10 point 6: Room:<roomId> takes no write per "
        "comment). Roomcast reads the room too so a refusal names its reason without paying for a cancelled "
        "transaction",
    )


def _history_floor(usage: Usage, page: int) -> Floor:
    query = _only(usage, "Query")
    wanted = min(page, query.items)
    size = query.size * wanted // query.items if query.items else 0  # the workload's comments are alike in size
    return Floor(
        2,
        1 + read_units(size, consistent=False),
        0,
        "the room is read (SC) for the incarnation that names the index partition; the Query reads one comment "
        "more than the page to know whether a next page exists, so the last page has no cursor",
    )


def _cleanup_floor(empty_queries: int) -> Callable[[Usage], Floor]:
    def floor(usage: Usage) -> Floor:
        empty = [r for r in usage.reads if r.operation == "Query" and r.items == 0][:empty_queries]
        return Floor(
            usage.total_requests - len(empty),
            usage.rcu - sum(r.units for r in empty),
            usage.total_wcu,
            (
                "each page starts over from the subscriptions, so later pages first read what is already empty "
                "(no subscription can appear: subscribe checks the room). "
                if empty_queries
                else ""
            )
            + "Conditional deletes of the users' join items are one DeleteItem each: BatchWriteItem takes no "
            "condition, and a TransactWriteItems of 100 would be 1 request but twice the units",
        )

    return floor


def _only(usage: Usage, operation: str) -> Read:
    [read] = [r for r in usage.reads if r.operation == operation]
    return read


# ---- figures ----------------------------------------------------------------------------------


def _figures(m: Measured) -> list[Figure]:
    usage, floor = m.usage, m.floor
    base = f"dynamodb/{m.operation}"
    notes = f"{usage.describe()}. moto's own ConsumedCapacity: {usage.reported:g}."
    if usage.unknown_sizes:
        notes += f" {usage.unknown_sizes} write(s) of items never seen, charged as under 1 KB."
    rooms = _room_partitions(usage)
    figures = [
        Figure(
            f"{base}/requests",
            m.workload,
            usage.total_requests,
            "requests",
            floor.requests,
            "design minimum",
            notes if usage.total_requests == floor.requests else f"{notes} Over the minimum: {floor.why}.",
        ),
        Figure(
            f"{base}/rcu",
            m.workload,
            usage.rcu,
            "RCU",
            floor.rcu,
            "design minimum",
            f"Over the minimum: {floor.why}." if usage.rcu > floor.rcu else "",
        ),
        Figure(
            f"{base}/wcu",
            m.workload,
            usage.total_wcu,
            "WCU",
            floor.wcu,
            "design minimum",
            f"table {usage.wcu:g} + index {usage.index_wcu:g}."
            + (f" Over the minimum: {floor.why}." if usage.total_wcu > floor.wcu else ""),
        ),
    ]
    detail = "; ".join(f"{name}: {rcu:g} RCU, {wcu:g} WCU" for name, (rcu, wcu) in rooms.items())
    for unit, position in (("RCU", 0), ("WCU", 1)):
        shared = sum(units[position] for units in rooms.values())
        if shared:
            figures.append(
                Figure(
                    f"{base}/room-{unit.lower()}",
                    m.workload,
                    shared,
                    unit,
                    notes="on the partitions every request about the room shares, the capacity model's hot keys: "
                    + detail,
                )
            )
    return figures


def _room_partitions(usage: Usage) -> dict[str, tuple[float, float]]:
    """Units on the partitions shared by everyone in the room: its meta item's, its index feed's, its subscribers'."""
    shared: dict[str, tuple[float, float]] = {}
    for partition, (rcu, wcu) in usage.by_partition.items():
        key = partition.key
        if partition.index is not None:
            name = f"index {partition.index} {key.split(keys.FEED_SEPARATOR)[0]}#<incarnation>"
        elif key == keys.room_pk(ROOM):
            name = key
        elif key.startswith(keys.subscribers_pk(f"{ROOM}{keys.FEED_SEPARATOR}")):
            name = f"{keys.subscribers_pk(ROOM)}#<incarnation>"
        else:
            continue
        before = shared.get(name, (0.0, 0.0))
        shared[name] = (before[0] + rcu, before[1] + wcu)
    return shared
