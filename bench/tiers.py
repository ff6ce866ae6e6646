"""One stream batch to the largest room this machine holds with real sockets: one fan-out tier against two.

Same gateway, same C real WebSocket clients (bench/sockets.py), same room, same batch of M comments:

- one tier: ``LiveProcessor.deliver`` posts every frame to every connection, as the StreamFunction does
  for a room at or below FanoutThreshold;
- two tiers: the StreamFunction's part (``LiveProcessor.deliver`` with the second tier: the room's
  subscriptions read, sliced, sent to the fan-out queue on in-process moto), then each slice received
  from that queue and posted by ``deliver_slice`` as one FanoutFunction invocation does, one slice after
  another, each timed alone.

On AWS the slices run in parallel invocations, so a batch takes the hand-over, SQS's hop to Lambda
(p50 16 ms, p99 105 ms, facts.md) and the slowest slice; this machine's two cores cannot run them side
by side, so the figure adds the measured hand-over to the slowest measured slice and says so, and the
notes give the slices' sum as well. Both counts wait until every client has every comment; then each
client's comments are checked: every comment exactly once per tier, in position order (bench/room_sockets.py
keeps what each client received). Rooms of 2,000 and 5,000 (the issue's aim), one after the other.
"""

from __future__ import annotations

import resource
import time

import boto3

from bench.fanout import FRAME_LIMIT, WORKERS, Outcome, _deliver, _room_with_subscribers
from bench.local import Chat, chat_on_moto
from bench.results import Figure
from bench.room_sockets import RoomSockets
from bench.sockets import Clients, Gateway
from roomcast.adapters.lean_poster import LeanPoster
from roomcast.adapters.slice_queue import SqsSliceQueue
from roomcast.domain import ids
from roomcast.domain.chat import split_feed
from roomcast.models import CommentAdded, CommentView
from roomcast.usecases.second_tier import SecondTier, deliver_slice
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.wire.slices import FanoutSlice
from roomcast_local import fast_moto

SLICE_SIZE = 500  # template.yaml's FanoutSliceSize default
SLICE_BYTES = 256 * 1024
SQS_TO_LAMBDA_P50 = 0.016  # seconds, facts.md (bitesizedserverless.com, eu-west-1)
# The aim is the largest room this machine holds with real sockets, 5,000; 2,000 is kept beside it.
SIZES = (2000, 5000)


def run(smoke: bool) -> list[Figure]:
    sizes, comments, slice_size = ((6,), 2, 2) if smoke else (SIZES, 10, SLICE_SIZE)
    _allow_open_files(2 * max(sizes) + 1024)
    figures: list[Figure] = []
    for connections in sizes:
        figures += _room(connections, comments, slice_size)
    return figures


def _room(connections: int, comments: int, slice_size: int) -> list[Figure]:
    # The local stack's DynamoDB (fast_moto, as bench/fanout.py reads): plain moto 5.2.5 sorts the room's
    # whole partition for each page, which made the read of 5,000 subscriptions 8.3 s of both tiers' 10 to
    # 12 s, a cost DynamoDB does not have (one 1 MB page per about 10,000 subscriptions).
    with (
        fast_moto.patched(),
        chat_on_moto("tiers") as chat,
        Gateway() as gateway,
        RoomSockets([gateway.ws_url] * connections, None) as sockets,
    ):
        feed = _room_with_subscribers(chat, "big", gateway, connections)
        lean = LeanPoster(gateway.callback_url, pool_size=WORKERS)
        single = LiveProcessor(chat.store, lean, FRAME_LIMIT, WORKERS, never)
        # Unmeasured: the poster's keep-alive connections opened, as in a warm container of either tier.
        started_ms = int(time.time() * 1000)
        _deliver(sockets, connections, lambda: single.deliver([_numbered(feed, started_ms, "warm-up")]).posts)
        texts = [f"tiers {n}" for n in range(comments)]
        batch = [_numbered(feed, started_ms + 1 + n, text) for n, text in enumerate(texts)]
        one = _deliver(sockets, connections * comments, lambda: single.deliver(batch).posts)
        handoff, slices = _two_tiers(chat, lean, batch, sockets, connections * comments, slice_size)
        started = time.perf_counter()
        chat.store.connections.all_subscribers(feed)
        read = time.perf_counter() - started
        expected = ["warm-up", *texts, *texts]
        wrong = sum(1 for got in sockets.received() if got != expected)
    return _figures(connections, comments, slice_size, one, handoff, slices, read, wrong)


def _allow_open_files(needed: int) -> None:
    """The gateway's and the clients' processes hold one descriptor per socket each; they inherit this
    process's soft limit, raised here as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))


def _numbered(feed: str, at_ms: int, text: str) -> Change:
    """A comment positioned at ``at_ms``: the batch's texts in position order, so each client's list can be
    compared with them."""
    comment_id = ids.new_ulid(at_ms)
    comment = CommentView(
        comment_id=comment_id, user_id="author", text=text, created_at="2026-01-01T00:00:00.000Z", position=comment_id
    )
    return Change(f"{at_ms:021d}", feed, CommentAdded(room_id=split_feed(feed)[0], comment=comment))


def never() -> bool:
    return False


def _two_tiers(
    chat: Chat, lean: LeanPoster, batch: list[Change], sockets: Clients, expected: int, slice_size: int
) -> tuple[Outcome, list[float]]:
    sqs = boto3.client("sqs")
    url = chat.provisioned.refs["FanoutQueue"]
    tier = SecondTier(SqsSliceQueue(sqs, url), threshold=1, slice_size=slice_size, max_bytes=SLICE_BYTES)
    stream = LiveProcessor(chat.store, lean, FRAME_LIMIT, WORKERS, never, second_tier=tier)
    before = sockets.tally().comments
    started, cpu = time.perf_counter(), time.process_time()
    report = stream.deliver(batch)
    handoff = Outcome(report.posts, time.perf_counter() - started, time.process_time() - cpu, True)
    seconds: list[float] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            piece = FanoutSlice.model_validate_json(message["Body"])
            began = time.perf_counter()
            deliver_slice(piece, lean, chat.store.connections, WORKERS)
            seconds.append(time.perf_counter() - began)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    tally = sockets.wait_for_comments(before + expected, 120)
    delivered = tally.comments - before == expected
    return Outcome(handoff.posts, handoff.seconds, handoff.cpu_seconds, delivered), seconds


def _figures(
    c: int, m: int, slice_size: int, one: Outcome, handoff: Outcome, slices: list[float], read: float, wrong: int
) -> list[Figure]:
    workload = f"{m} comments in one stream batch to one room of {c} live connections (real sockets)"
    delivered = "every comment reached every client" if one.delivered and handoff.delivered else "NOT all delivered"
    delivered += (
        ", each exactly once per tier and in position order"
        if not wrong
        else f"; {wrong} of {c} clients did NOT get each comment exactly once per tier in position order"
    )
    two = handoff.seconds + max(slices, default=0.0)
    return [
        Figure(
            f"tiers/C={c},M={m}/seconds",
            workload,
            two,
            "s",
            one.seconds,
            "one tier (the StreamFunction posts every frame)",
            f"{delivered}. Two tiers: the hand-over ({handoff.seconds:.2f} s: subscriptions read, {len(slices)} "
            f"slices of at most {slice_size} sent to SQS) plus the slowest slice ({max(slices, default=0):.2f} s), "
            f"as parallel FanoutFunction invocations run them on AWS; add SQS's hop to Lambda "
            f"(p50 {SQS_TO_LAMBDA_P50 * 1000:.0f} ms). Here the slices ran one after another on two shared cores: "
            f"{sum(slices):.2f} s in all. One tier posted {one.posts} frames at {one.posts / one.seconds:,.0f}/s.",
        ),
        Figure(
            f"tiers/C={c},M={m}/handoff-seconds",
            workload,
            handoff.seconds,
            "s",
            one.seconds,
            "one tier",
            f"The StreamFunction's own time for this room with the second tier: {handoff.posts} posts by itself, "
            f"{handoff.cpu_seconds * 1000:.0f} ms of CPU; the shard's next batch waits only this long. Reading "
            f"the room's {c} subscriptions from in-process moto, which both tiers' seconds include, takes "
            f"{read:.2f} s alone (DynamoDB: one 1 MB page per about 10,000 subscriptions).",
        ),
        Figure(
            f"tiers/C={c},M={m}/slice-seconds",
            f"one slice of at most {slice_size} connections, all {m} comments' frames",
            max(slices, default=0.0),
            "s",
            sum(slices) / max(1, len(slices)),
            "the mean slice",
            f"{len(slices)} slices, each posted alone by deliver_slice on {WORKERS} threads (the FanoutFunction's "
            f"FANOUT_MAX_WORKERS) with the lean poster.",
        ),
    ]
