"""Fan-out of one stream batch: Roomcast's LiveProcessor against a naive processor, on the same gateway and sockets.

For C live connections subscribed to one room and M comments in one stream batch, both processors
deliver the batch through the local API Gateway WebSocket emulator's @connections API to C real
WebSocket clients (bench/sockets.py); the clients count what arrives, so a run only counts once every
comment reached every client.

- Roomcast: ``LiveProcessor.deliver``, as the StreamFunction runs it: one read of the room's
  subscriptions, one frame holding the M comments, posted to every connection on the template's pool
  of 16 threads (FANOUT_MAX_WORKERS).
- Naive, what the AWS WebSocket chat samples do: for each comment, read the room's connections and
  post that comment to each connection, one at a time. (The samples Scan a connections table; reading
  the same subscriptions Roomcast reads, with a Query, is kinder to the baseline.)

Roomcast posts with the lean poster (adapters/lean_poster.py: botocore's SigV4 signer, keep-alive
connections as many as FANOUT_MAX_WORKERS, answers read by llhttp), what the StreamFunction runs; the
naive processor with boto3's @connections client, as the samples do. Both read the same table on
in-process moto patched as the local stack runs it (roomcast_local/fast_moto.py: plain moto 5.2.5 sorts
the room's whole partition for every page), whose read of a room's 1,000 subscriptions still takes about
a second where DynamoDB takes milliseconds: both sides' seconds carry it, the naive processor's M times.

CPU per post (``cpu-per-post``) is measured apart, on the posts alone (fan_out over subscriptions read
beforehand), for the lean poster against boto3's client (ConnectionsApi) built with the pool size
production builds it with (aws_clients.management_api(url, FANOUT_MAX_WORKERS)), in the same run; small
batches are posted several times, the two posters in turn, so that each figure covers 100 posts or more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from bench.local import BulkWriter, Chat, NullApi, chat_on_moto
from bench.results import Figure
from bench.sockets import Clients, Gateway
from roomcast.adapters import aws_clients
from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.adapters.lean_poster import LeanPoster
from roomcast.domain import ids
from roomcast.domain.chat import Subscription, room_feed, split_feed
from roomcast.edges.websocket import handle_message
from roomcast.models import CommentAdded, CommentsFrame, CommentView, CreateChatRoom, JoinChatRoom, encode_frame
from roomcast.usecases import commands
from roomcast.usecases.fanout import fan_out
from roomcast.usecases.ports import Poster, Store
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.frames import comment_frames
from roomcast_local import fast_moto

FRAME_LIMIT = 32 * 1024
WORKERS = 16  # template.yaml's FANOUT_MAX_WORKERS
TEXT = "y" * 100
DELIVERY_TIMEOUT = 120.0
CPU_POSTS = 100  # posts each poster makes, at least, for one cpu-per-post figure
SMALL_BATCH_POSTS = 100  # batches of fewer posts than this are timed in rounds
SMALL_ROUNDS = 7


# The naive processor's cost is the same for every comment (one read, C posts in a row), so past this many
# posts it runs on the batch's first comments only and its time is scaled to the whole batch: the full
# C=1000, M=100 case would take five minutes of the benchmark's fifteen to show the same per-comment cost.
NAIVE_POST_BUDGET = 20_000


@dataclass(frozen=True)
class Outcome:
    posts: int
    seconds: float
    cpu_seconds: float  # this process's CPU time meanwhile: building, signing and parsing the posts
    delivered: bool
    scaled_from: int = 0  # comments actually delivered when the figure is scaled up to the batch
    rounds: int = 1  # the median of this many alternated rounds


class NaiveProcessor:
    """Per comment: read the room's connections, then post the comment to each, one after the other.

    (No 410 handling: no connection goes away during the benchmark.)
    """

    def __init__(self, store: Store, management: object) -> None:
        self.store = store
        self.management = management

    def deliver(self, changes: list[Change]) -> int:
        posts = 0
        for change in changes:
            assert isinstance(change.event, CommentAdded)
            frame = encode_frame(CommentsFrame(room_id=change.event.room_id, comments=[change.event.comment]))
            for subscription in self.store.connections.all_subscribers(change.feed):
                self.management.post_to_connection(ConnectionId=subscription.connection_id, Data=frame)  # type: ignore[attr-defined]
                posts += 1
        return posts


class _PoolDiscards(logging.Handler):
    """Counts urllib3's "Connection pool is full, discarding connection" (and keeps it off the console)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Connection pool is full" in record.getMessage():
            self.count += 1


def run(smoke: bool) -> list[Figure]:
    connection_counts, comment_counts = ((2,), (2,)) if smoke else ((10, 100, 1000), (1, 10, 100))
    discards = _PoolDiscards()
    pool_logger = logging.getLogger("urllib3.connectionpool")
    pool_logger.addHandler(discards)
    pool_logger.propagate = False
    figures: list[Figure] = []
    try:
        # The local stack's DynamoDB (issue 13): plain moto 5.2.5 sorts a room's whole partition for each page
        # of its subscriptions, which both sides pay (Roomcast once per batch, the naive loop once per comment).
        with fast_moto.patched(), chat_on_moto("fanout") as chat, Gateway() as gateway:
            # As production builds them: the fan-out's pool size for both clients.
            management = aws_clients.management_api(gateway.callback_url, WORKERS)
            lean = LeanPoster(gateway.callback_url, pool_size=WORKERS)
            for c in connection_counts:
                with Clients([gateway.ws_url] * c) as sockets:
                    feed = _room_with_subscribers(chat, f"room{c}", gateway, c)
                    posters = Posters(lean, ConnectionsApi(management), management)
                    _warm_up(chat, posters, sockets, feed, c)
                    for m in comment_counts:
                        figures += _compare(chat, posters, sockets, feed, c, m, discards)
    finally:
        pool_logger.removeHandler(discards)
        pool_logger.propagate = True
    return figures


@dataclass(frozen=True)
class Posters:
    lean: Poster  # what the StreamFunction posts with
    botocore: Poster  # boto3's client, behind ConnectionsApi
    management: object  # boto3's client itself, for the naive processor


def _compare(
    chat: Chat, posters: Posters, sockets: Clients, feed: str, c: int, m: int, discards: _PoolDiscards
) -> list[Figure]:
    before = discards.count
    roomcast, naive = _side_by_side(chat, posters, sockets, feed, c, m)
    lean_discarded = discards.count - before
    batch = [_change(feed, n) for n in range(m)]
    # The posts alone, each poster in turn, over the same subscriptions and frames.
    frames = comment_frames(split_feed(feed)[0], [_comment(change) for change in batch], FRAME_LIMIT)
    started = time.perf_counter()
    subscriptions = chat.store.connections.all_subscribers(feed)
    read_seconds = time.perf_counter() - started
    # Batches of the same size in turn, each paying its own fixed costs, until each poster has posted about
    # CPU_POSTS times: one batch of 10 posts is 4 ms of CPU, where a stray wake-up or collection shows.
    rounds = max(1, CPU_POSTS // (c * len(frames)))
    before = discards.count
    lean_runs, botocore_runs = [], []
    for _ in range(rounds):
        lean_runs.append(_deliver(sockets, c * m, lambda: _posts(frames, subscriptions, posters.lean, chat.store)))
        botocore_runs.append(
            _deliver(sockets, c * m, lambda: _posts(frames, subscriptions, posters.botocore, chat.store))
        )
    discarded = discards.count - before
    cpu = _cpu_figure(c, m, _total(lean_runs), _total(botocore_runs), len(frames), discarded, read_seconds, rounds)
    return [*_figures(c, m, roomcast, naive, lean_discarded), cpu]


def _side_by_side(chat: Chat, posters: Posters, sockets: Clients, feed: str, c: int, m: int) -> tuple[Outcome, Outcome]:
    """Roomcast's and the naive processor's delivery of a batch of m comments, each side its own batch. A batch
    of fewer than SMALL_BATCH_POSTS posts is delivered in SMALL_ROUNDS alternated rounds and each side's median
    round kept: it takes tens of milliseconds, where one scheduler hiccup on a loaded machine decides a single
    sample (C=10, M=1 gave either side the win from one run to the next)."""
    rounds = SMALL_ROUNDS if c * m < SMALL_BATCH_POSTS else 1
    live = LiveProcessor(chat.store, posters.lean, FRAME_LIMIT, WORKERS, lambda: False)
    measured = max(1, min(m, NAIVE_POST_BUDGET // c))
    naive = NaiveProcessor(chat.store, posters.management)
    roomcast_runs, naive_runs = [], []
    for _ in range(rounds):
        batch = [_change(feed, n) for n in range(m)]
        roomcast_runs.append(_deliver(sockets, c * m, partial(_live_posts, live, batch)))
        naive_runs.append(_deliver(sockets, c * measured, partial(naive.deliver, batch[:measured])))
    roomcast, naive_outcome = _median(roomcast_runs), _median(naive_runs)
    if measured < m:
        naive_outcome = Outcome(
            naive_outcome.posts * m // measured,
            naive_outcome.seconds * m / measured,
            naive_outcome.cpu_seconds * m / measured,
            naive_outcome.delivered,
            scaled_from=measured,
        )
    return roomcast, naive_outcome


def _live_posts(live: LiveProcessor, batch: list[Change]) -> int:
    return live.deliver(batch).posts


def _median(outcomes: list[Outcome]) -> Outcome:
    """The round of median seconds, delivered only if every round was."""
    middle = sorted(outcomes, key=lambda outcome: outcome.seconds)[len(outcomes) // 2]
    return replace(middle, delivered=all(outcome.delivered for outcome in outcomes), rounds=len(outcomes))


def _warm_up(chat: Chat, posters: Posters, sockets: Clients, feed: str, c: int) -> None:
    """One unmeasured batch by each side before a room's figures. Production builds its posters once per
    Lambda container (bootstrap caches them) and a warm container serves nearly every batch, so both sides
    are measured warm: pools connected, threads started, lazy imports done. Cold starts are the import
    figures' business. Without this the first figure (C=10, M=1) charged one side its warm-up alone."""
    batch = [_change(feed, 0)]
    live = LiveProcessor(chat.store, posters.lean, FRAME_LIMIT, WORKERS, lambda: False)
    _deliver(sockets, c, lambda: live.deliver(batch).posts)
    _deliver(sockets, c, lambda: NaiveProcessor(chat.store, posters.management).deliver(batch))
    frames = comment_frames(split_feed(feed)[0], [_comment(change) for change in batch], FRAME_LIMIT)
    subscriptions = chat.store.connections.all_subscribers(feed)
    _deliver(sockets, c, lambda: _posts(frames, subscriptions, posters.botocore, chat.store))


def _comment(change: Change) -> CommentView:
    assert isinstance(change.event, CommentAdded)
    return change.event.comment


def _posts(frames: list[bytes], subscriptions: list[Subscription], poster: Poster, store: Store) -> int:
    return fan_out(frames, subscriptions, poster, store.connections, WORKERS).posts


def _total(outcomes: list[Outcome]) -> Outcome:
    return Outcome(
        sum(o.posts for o in outcomes),
        sum(o.seconds for o in outcomes),
        sum(o.cpu_seconds for o in outcomes),
        all(o.delivered for o in outcomes),
    )


def _cpu_figure(
    c: int, m: int, lean: Outcome, botocore: Outcome, frames: int, discarded: int, read_seconds: float, rounds: int
) -> Figure:
    pool = f" botocore's pool discarded {discarded} connection(s)." if discarded else " No pool discarded a connection."
    batches = f", {rounds} batches each, the posters in turn" if rounds > 1 else ""
    return Figure(
        f"fanout/C={c},M={m}/cpu-per-post",
        f"{frames} frame(s) of the batch posted to {c} live connections on {min(c, WORKERS)} threads, "
        f"subscriptions read beforehand (the posts alone{batches})",
        lean.cpu_seconds / lean.posts * 1000,
        "ms",
        botocore.cpu_seconds / botocore.posts * 1000,
        f"boto3's @connections client, pool of {WORKERS}",
        f"CPU of the posting process per post. Lean {lean.posts / lean.seconds:,.0f} posts/s, botocore "
        f"{botocore.posts / botocore.seconds:,.0f} posts/s ({lean.seconds:.2f} s against {botocore.seconds:.2f} s)."
        f"{pool} Reading the room's subscriptions from in-process moto, which Roomcast's seconds include, "
        f"took {read_seconds:.2f} s.",
    )


def _room_with_subscribers(chat: Chat, room_id: str, gateway: Gateway, count: int) -> str:
    """A room whose members are subscribed on the gateway's ``count`` open connections; returns its feed."""
    deadline = time.monotonic() + 60
    while len(ids := gateway.connection_ids()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(ids)} of {count} connections opened")
        time.sleep(0.1)
    seed = BulkWriter(aws_clients.dynamodb())
    seeding = dynamodb_store(chat.table_name, seed)
    users = [f"{room_id}-u{n:04d}" for n in range(count)]
    commands.apply(CreateChatRoom(room_id=room_id, user_id=users[0]), chat.store)
    for user in users[1:]:
        commands.apply(JoinChatRoom(room_id=room_id, user_id=user), seeding)
    seed.flush()
    routes = Routes(seeding, ConnectionsApi(NullApi()), 7_500, FRAME_LIMIT)
    now = int(time.time() * 1000)
    for n, (user, connection_id) in enumerate(zip(users, ids, strict=False)):
        caller = Caller(connection_id, user, now, f"r{n}")
        routes.connect(caller)
        handle_message(routes, caller, f'{{"action": "subscribe", "roomId": "{room_id}"}}')
    seed.flush()
    room = chat.store.rooms.get_room(room_id)
    assert room is not None
    return room_feed(room_id, room.incarnation)


def _change(feed: str, n: int) -> Change:
    """A new comment as the stream hands it to the processor (its INSERT record's new image)."""
    comment_id = ids.new_ulid()
    comment = CommentView(
        comment_id=comment_id, user_id="author", text=TEXT, created_at="2026-01-01T00:00:00.000Z", position=comment_id
    )
    return Change(f"{n:021d}", feed, CommentAdded(room_id=split_feed(feed)[0], comment=comment))


def _deliver(sockets: Clients, comments: int, deliver: Callable[[], int]) -> Outcome:
    """Time one delivery; it counts once every client has every comment."""
    before = sockets.tally().comments
    started, cpu = time.perf_counter(), time.process_time()
    posts = deliver()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    tally = sockets.wait_for_comments(before + comments, DELIVERY_TIMEOUT)
    return Outcome(posts, seconds, cpu_seconds, tally.comments - before == comments)


def _figures(c: int, m: int, roomcast: Outcome, naive: Outcome, discarded: int) -> list[Figure]:
    workload = f"{m} comment(s) of {len(TEXT)} characters in one stream batch, {c} live connections in the room"
    delivery = (
        "every comment reached every client"
        if roomcast.delivered and naive.delivered
        else f"NOT all delivered in {DELIVERY_TIMEOUT:.0f} s (Roomcast: {roomcast.delivered}, naive: {naive.delivered})"
    )
    pool = (
        f" The lean poster's pool of {WORKERS} connections discarded {discarded} connection(s) under "
        f"{min(c, WORKERS)} threads."
        if discarded
        else ""
    )
    scaled = (
        f" Naive measured on the first {naive.scaled_from} comment(s) ({c * naive.scaled_from:,} posts) and scaled "
        f"to {m}: its cost per comment is constant."
        if naive.scaled_from
        else ""
    )
    return [
        Figure(
            f"fanout/C={c},M={m}/posts",
            workload,
            roomcast.posts,
            "posts",
            naive.posts,
            "naive: per comment, per connection",
            f"{delivery}. DynamoDB reads: Roomcast 1 Query, naive {m}.",
        ),
        Figure(
            f"fanout/C={c},M={m}/seconds",
            workload,
            roomcast.seconds,
            "s",
            naive.seconds,
            "naive, sequential",
            f"{_speed(naive.seconds / roomcast.seconds)}. Roomcast {roomcast.posts / roomcast.seconds:,.0f} "
            f"posts/s on {min(c, WORKERS)} threads, naive {naive.posts / naive.seconds:,.0f} posts/s in a row; "
            f"CPU per post in the posting process: Roomcast {roomcast.cpu_seconds / roomcast.posts * 1000:.2f} ms "
            f"(lean poster, subscriptions read included), naive {naive.cpu_seconds / naive.posts * 1000:.2f} ms."
            f"{pool}{scaled}{_rounds(roomcast)}",
        ),
    ]


def _rounds(outcome: Outcome) -> str:
    return f" Each side's median of {outcome.rounds} alternated rounds." if outcome.rounds > 1 else ""


def _speed(naive_over_roomcast: float) -> str:
    if naive_over_roomcast >= 1:
        return f"Roomcast {naive_over_roomcast:.1f}x faster"
    return f"Roomcast {1 / naive_over_roomcast:.1f}x slower"
