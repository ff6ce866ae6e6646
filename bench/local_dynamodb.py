"""The local stack's DynamoDB as its table grows: the fast local DynamoDB against plain moto, in one run.

Commands per second through the local stack's command queue, as `make run` runs it
(`python -m roomcast_local up`, the endpoint embedded in its process; started as bench/e2e.py
starts it): one room, one member, a burst of comments from that member put on the queue at once,
timed from the first send until the queue holds nothing, visible or in flight (every comment
applied). Measured on a fresh table, then again after 20,000 comments were written into the room (by
the repository's own comment write, batched: bench/local.py BulkWriter, through the stack's endpoint)
and the stack was stopped and started again on its saved tables, as a developer's stack is
(roomcast_local/snapshot.py; the restore writes no stream records, so the seed is not a backlog for
the stream processor that would compete with the commands measured). The same run does this twice:
with the fast local DynamoDB (roomcast_local/fast_moto.py, the default) and with plain moto
(ROOMCAST_FAST_MOTO=0), the baseline.

The same bursts with the fast local DynamoDB behind an outside endpoint (`python -m roomcast_local
aws`, which the runtime, `up --aws-endpoint`, is restarted on; no embedded shortcuts): its seeded
rate against its own fresh one.

Cleanup of a deleted room of 10,000 members (bench/cleanup.py's workload), on in-process moto with
the fast local DynamoDB applied, against the request floor's run on the same backend.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench import cleanup, e2e
from bench.e2e import Driver, Stack, local_stack
from bench.local import BulkWriter, NullApi, chat_on_moto, never
from bench.results import Figure
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import dynamodb_store, keys
from roomcast.domain import ids
from roomcast.domain.ids import iso_ms
from roomcast.models import CommentView, CreateChatRoom
from roomcast.usecases.cleanup import clean_up_room
from roomcast_local import fast_moto, snapshot
from roomcast_local.processes import free_port

ROOM = e2e.ROOM  # Driver.comments writes into it
AUTHOR = "author"


@dataclass(frozen=True)
class Sizes:
    seeded: int  # comments already in the table for the second burst
    burst: int  # comments put on the queue at once
    members: int  # of the room cleaned up
    budget: float  # seconds a burst may take


FULL = Sizes(seeded=20_000, burst=300, members=10_000, budget=300)
SMOKE = Sizes(seeded=50, burst=5, members=50, budget=60)


@dataclass(frozen=True)
class Burst:
    applied: int
    seconds: float
    drained: bool  # False: the budget ran out with commands still on the queue

    @property
    def rate(self) -> float:
        return self.applied / self.seconds

    def describe(self) -> str:
        left = "" if self.drained else " (budget over, the rest still queued)"
        return f"{self.applied} applied in {self.seconds:.0f} s{left}"


@dataclass(frozen=True)
class Rates:
    empty: Burst
    seeded: Burst

    @property
    def kept(self) -> float:
        return self.seeded.rate / self.empty.rate if self.empty.rate else 0.0


def run(smoke: bool) -> list[Figure]:
    sizes = SMOKE if smoke else FULL
    fast = _rates(sizes, fast=True)
    plain = _rates(sizes, fast=False)
    outside = _outside_rates(sizes)
    return [
        *_rate_figures(sizes, fast, plain),
        _outside_figure(sizes, outside),
        *_cleanup_figures(sizes.members),
    ]


def _rates(sizes: Sizes, fast: bool) -> Rates:
    """`up` as `make run` runs it: a fresh table, then stopped, seeded and started again on its saved tables."""
    extra = {fast_moto.SWITCH: "1" if fast else "0"}
    with tempfile.TemporaryDirectory(prefix="roomcast-bench-") as directory:
        fresh, seeded = Path(directory, "fresh"), Path(directory, "seeded")
        fresh.mkdir()
        seeded.mkdir()
        with local_stack(fresh, extra) as stack:
            driver = Driver(stack, [AUTHOR])
            driver.send([CreateChatRoom(room_id=ROOM, user_id=AUTHOR)])
            driver.wait_until_idle()
            empty = _burst(driver, stack, sizes.burst, sizes.budget)
            _seed(stack, sizes.seeded)
        # Its own folder (a fresh log to wait on), with the tables the stop saved.
        shutil.copy(fresh / snapshot.FILE_NAME, seeded / snapshot.FILE_NAME)
        with local_stack(seeded, extra) as stack:
            grown = _burst(Driver(stack, [AUTHOR]), stack, sizes.burst, sizes.budget)
    print(f"bench: local_dynamodb: {extra}: fresh {empty.describe()}, seeded {grown.describe()}", flush=True)
    return Rates(empty, grown)


def _outside_rates(sizes: Sizes) -> Rates:
    """The fast local DynamoDB behind `python -m roomcast_local aws`, the runtime restarted on it."""
    extra = {fast_moto.SWITCH: "1"}
    with tempfile.TemporaryDirectory(prefix="roomcast-bench-") as directory, _aws(Path(directory), extra) as url:
        fresh, seeded = Path(directory, "fresh"), Path(directory, "seeded")
        fresh.mkdir()
        seeded.mkdir()
        with local_stack(fresh, extra, aws_endpoint=url) as stack:
            driver = Driver(stack, [AUTHOR])
            driver.send([CreateChatRoom(room_id=ROOM, user_id=AUTHOR)])
            driver.wait_until_idle()
            empty = _burst(driver, stack, sizes.burst, sizes.budget)
            state = (fresh / "local-stack.json").read_text()
        _seed(stack, sizes.seeded)
        # Restarted on the same endpoint, the runtime adopts the tables and, with no checkpoint, reads the
        # stream from LATEST (the template's StartingPosition): the seed is in the table, and not a backlog
        # for the stream processor that would compete with the commands measured.
        (seeded / "local-stack.json").write_text(state)
        with local_stack(seeded, extra, aws_endpoint=url) as stack:
            grown = _burst(Driver(stack, [AUTHOR]), stack, sizes.burst, sizes.budget)
    print(f"bench: local_dynamodb: outside endpoint: fresh {empty.describe()}, seeded {grown.describe()}", flush=True)
    return Rates(empty, grown)


@contextmanager
def _aws(directory: Path, extra: dict[str, str]) -> Iterator[str]:
    """`python -m roomcast_local aws` on a free port: the AWS endpoint, outliving the runtimes started on it."""
    port = free_port()
    environment = {**os.environ, **extra, "PYTHONUNBUFFERED": "1"}
    with e2e.roomcast_local(["aws", "--aws-port", str(port)], directory / "aws.log", environment, "AWS endpoint ready"):
        yield f"http://127.0.0.1:{port}"


def _burst(driver: Driver, stack: Stack, count: int, budget: float) -> Burst:
    """``count`` comments put on the queue at once; until the queue is empty, or ``budget`` seconds."""
    # One first, alone and untimed: a runtime just started pays its workers' cold start on it.
    driver.send(driver.comments(1))
    with contextlib.suppress(TimeoutError):  # plain moto with a big table may not manage even that one
        driver.wait_until_idle(timeout=min(budget, 60))
    before = _comments(stack)
    started = time.perf_counter()
    driver.send(driver.comments(count))
    drained = True
    try:
        # The burst ends when the queue is seen empty: asked every 50 ms, not 0.2 s, to time it closer.
        driver.wait_until_idle(timeout=budget, every=0.05)
    except TimeoutError:
        drained = False
    seconds = time.perf_counter() - started
    return Burst(_comments(stack) - before, seconds, drained)


def _comments(stack: Stack) -> int:
    """The author's comments (their partition): what the command function has written."""
    client = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url)
    request = {
        "TableName": stack.table_name,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :comments)",
        "ExpressionAttributeValues": {":pk": {"S": keys.user_pk(AUTHOR)}, ":comments": {"S": keys.comment_sk("")}},
        "Select": "COUNT",
    }
    count = 0
    while True:
        page = client.query(**request)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _seed(stack: Stack, comments: int) -> None:
    # The repository's client type: plain Python values, (de)serialised as the resource API does.
    client = boto3.resource("dynamodb", endpoint_url=stack.aws_endpoint_url).meta.client
    room = dynamodb_store(stack.table_name, client).rooms.get_room(ROOM)
    assert room is not None, "the room is created through the queue first"
    writer = BulkWriter(client)
    seeding = dynamodb_store(stack.table_name, writer)
    first_ms = int(time.time() * 1000) - comments
    for n in range(comments):
        ms = first_ms + n
        comment_id = ids.new_ulid(ms)
        created = iso_ms(ms)
        comment = CommentView(
            comment_id=comment_id, user_id=AUTHOR, text=f"seed {n}", created_at=created, position=comment_id
        )
        seeding.comments.put_comment(room, comment)
    writer.flush()


def _rate_figures(sizes: Sizes, fast: Rates, plain: Rates) -> list[Figure]:
    workload = (
        f"bursts of {sizes.burst} addComment commands from one member through the local stack's command queue "
        f"(`python -m roomcast_local up`, as `make run`), on a fresh table and, started again on its saved tables, "
        f"with {sizes.seeded:,} comments already in the room"
    )
    return [
        Figure(
            f"local_dynamodb/comments={sizes.seeded}/commands-per-second",
            workload,
            fast.seeded.rate,
            "commands/s",
            plain.seeded.rate,
            "plain moto 5.2.5 (ROOMCAST_FAST_MOTO=0), same workload",
            f"fast: fresh {fast.empty.describe()}, seeded {fast.seeded.describe()}; plain: fresh "
            f"{plain.empty.describe()}, seeded {plain.seeded.describe()}. Applied = comments written, timed "
            "from the first send to an empty queue (SQS polling and the workers included).",
        ),
        Figure(
            f"local_dynamodb/comments={sizes.seeded}/rate-kept",
            workload,
            fast.kept,
            "ratio",
            plain.kept,
            "plain moto 5.2.5: its commands/s with the comments over its commands/s on a fresh table",
            f"commands/s with {sizes.seeded:,} comments over commands/s on a fresh table; the goal is >= 0.8. "
            "Plain moto deep-copies the table for every transaction and sorts it for every Query; past the "
            "functions' 5 s read timeout a command is retried only after the queue's visibility timeout.",
        ),
    ]


def _outside_figure(sizes: Sizes, outside: Rates) -> Figure:
    return Figure(
        f"local_dynamodb/outside-endpoint/comments={sizes.seeded}/commands-per-second",
        f"bursts of {sizes.burst} addComment commands from one member through `up --aws-endpoint` on "
        f"`python -m roomcast_local aws` (the fast local DynamoDB over HTTP, no embedded shortcuts), with "
        f"{sizes.seeded:,} comments in the room",
        outside.seeded.rate,
        "commands/s",
        outside.empty.rate,
        "the same on a fresh table, same endpoint",
        f"fresh {outside.empty.describe()}, seeded {outside.seeded.describe()}; the ratio is the rate kept.",
    )


def _cleanup_figures(members: int) -> list[Figure]:
    with fast_moto.patched(), chat_on_moto("fastcleanup") as chat:
        measured_feed = cleanup.deleted_room(chat, "measured", members)
        floor_feed = cleanup.deleted_room(chat, "floor", members)
        started = time.perf_counter()
        report = clean_up_room(chat.store, ConnectionsApi(NullApi()), measured_feed, never)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        cleanup.floor_cleanup(chat, floor_feed)
        floor = time.perf_counter() - started
    if not report.done or report.memberships != members:
        raise RuntimeError(f"cleanup did not finish: {report}")
    return [
        Figure(
            f"local_dynamodb/cleanup/members={members}/seconds",
            f"clean_up_room on a deleted room of {members:,} members (bench/cleanup.py's workload), in-process "
            "moto with the fast local DynamoDB",
            seconds,
            "s",
            floor,
            "floor: fewest requests, same backend",
            f"{report.pages} pages; {members / seconds:,.0f} members/s. bench/cleanup.py has the same on plain moto.",
        )
    ]
