"""End to end on the local stack: sustained commands per second, and latency from SQS send to WebSocket receipt.

The stack is started as a user (and tests/support/local_stack.py) starts it, `python -m roomcast_local up`
on free loopback ports with a temporary state directory, and driven through its public surfaces only:
boto3 SQS for the commands (and Secrets Manager once, for the key that signs the subscribers' tokens),
real WebSocket clients (bench/sockets.py) for the frames.

Workload: one room, S members each subscribed on one connection; comments from those members,
each stamped with its sequence number and the time it was sent. A burst of N comments measures the
sustained command rate; then the load steps up, a bounded time per step, and each step's latency
percentiles are taken over every (comment, subscriber) receipt. The ceiling is the last step before
p95 doubles against the first step's, or before comments stop arriving within the drain time.

The local stack is moto underneath, and moto's TransactWriteItems costs time in proportion to the
table's size: the last figure measures that in the same run, so the stack's ceiling is read for what
it is (the emulator's), not as DynamoDB's. Production's ceilings are docs/capacity.md's model.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from bench.local import Chat, chat_on_moto
from bench.results import Figure, percentile
from bench.sockets import Clients, Receipt, stamp
from roomcast.adapters import aws_clients
from roomcast.auth import issue_token
from roomcast.domain.ordering import fifo_message
from roomcast.models import AddComment, Command, CreateChatRoom, JoinChatRoom
from roomcast.usecases import commands
from roomcast_local.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
ROOM = "live"
BEND = 2.0  # p95 this many times the first step's is a bend


@dataclass(frozen=True)
class Sizes:
    subscribers: int
    burst: int  # comments sent at once to measure the sustained rate
    steps: tuple[float, ...]  # comments per second
    step_seconds: float
    drain_seconds: float  # how long after a step's last send its comments may still arrive
    # Rates measured even when the stepping bent below them, each on its own once the queue is idle,
    # so that a figure the issue states (10 comments/s) is always measured beside the first step's.
    fixed: tuple[float, ...] = ()


# Steps start low: on moto the stack applies a few commands per second (see docs/capacity.md), and
# stepping stops at the first bend, so the upper steps cost nothing where they cannot be reached.
FULL = Sizes(
    subscribers=100, burst=100, steps=(1, 2, 5, 10, 25, 50, 100, 200), step_seconds=10, drain_seconds=90, fixed=(10,)
)
SMOKE = Sizes(subscribers=2, burst=10, steps=(2,), step_seconds=5, drain_seconds=20)


@dataclass(frozen=True)
class Stack:
    queue_url: str
    ws_url: str
    aws_endpoint_url: str
    secret: str
    table_name: str


@dataclass(frozen=True)
class Step:
    rate: float
    sent: int
    send_seconds: float
    receipts: list[Receipt]
    expected: int  # receipts if every subscriber got every comment

    @property
    def latencies(self) -> list[float]:
        return [(r.received_ns - r.sent_ns) / 1e9 for r in self.receipts]

    @property
    def delivered(self) -> float:
        return len(self.receipts) / self.expected if self.expected else 1.0

    @property
    def applied_rate(self) -> float:
        """Comments per second from the first send to the last receipt."""
        first = min(r.sent_ns for r in self.receipts)
        last = max(r.received_ns for r in self.receipts)
        return len({r.seq for r in self.receipts}) / max((last - first) / 1e9, 1e-9)


def run(smoke: bool) -> list[Figure]:
    sizes = SMOKE if smoke else FULL
    users = [f"s{n:03d}" for n in range(sizes.subscribers)]
    with tempfile.TemporaryDirectory(prefix="roomcast-bench-") as directory, local_stack(Path(directory)) as stack:
        driver = Driver(stack, users)
        driver.send([CreateChatRoom(room_id=ROOM, user_id=users[0])])
        driver.wait_until_idle()
        driver.send([JoinChatRoom(room_id=ROOM, user_id=user) for user in users[1:]])
        driver.wait_until_idle()
        urls = [f"{stack.ws_url}?token={issue_token(user, stack.secret)}" for user in users]
        with Clients(urls, room=ROOM) as sockets:
            burst = driver.burst(sockets, sizes.burst, sizes.drain_seconds)
            driver.wait_until_idle(timeout=600)
            # One author's comments are one FIFO message group: applied one batch at a time, whatever the pollers.
            alone = driver.burst(sockets, sizes.burst, sizes.drain_seconds, authors=users[1:2])
            # The steps measure their own rates, not what the burst left queued on a slow machine.
            driver.wait_until_idle(timeout=600)
            steps: list[Step] = []
            for rate in sizes.steps:
                steps.append(driver.step(sockets, rate, sizes.step_seconds, sizes.drain_seconds))
                if _bent(steps):
                    break
            fixed: list[Step] = []
            for rate in sizes.fixed:
                if all(s.rate != rate for s in steps):
                    driver.wait_until_idle(timeout=600)
                    fixed.append(driver.step(sockets, rate, sizes.step_seconds, sizes.drain_seconds))
    # Room, two items per member, its connection, two per subscription, every comment sent.
    table_items = 1 + 5 * sizes.subscribers + driver.seq
    return [*_figures(sizes, burst, steps, fixed), _one_author(sizes, alone), _moto_transactions(table_items)]


def _one_author(sizes: Sizes, alone: Step) -> Figure:
    return Figure(
        "e2e/burst-one-author/commands-per-second",
        f"{sizes.burst} addComment commands from one member sent at once into one room with "
        f"{sizes.subscribers} subscriber(s): one FIFO message group, so one batch of 10 at a time",
        alone.applied_rate,
        "commands/s",
        alone.sent / alone.send_seconds,
        "the producer's send rate",
        f"from the first send to the last subscriber's receipt; {alone.delivered:.0%} of receipts within "
        f"{sizes.drain_seconds:.0f} s of the last send",
    )


def _moto_transactions(items: int, samples: int = 5) -> Figure:
    """What bounds the stack's command rate: one addComment on moto, with the e2e table's items and with none."""
    with chat_on_moto("moto") as chat:
        commands.apply(CreateChatRoom(room_id=ROOM, user_id="author"), chat.store)
        empty = _median_add_comment(chat, samples)
        for first in range(0, items, 25):
            # Shaped like the stack's subscription items, the most numerous there.
            filler = [
                {"PutRequest": {"Item": {"PK": f"Filler:{n}", "SK": "meta", "UserID": "s000", "ExpiresAt": n}}}
                for n in range(first, min(items, first + 25))
            ]
            aws_clients.dynamodb().batch_write_item(RequestItems={chat.table_name: filler})
        full = _median_add_comment(chat, samples)
    return Figure(
        "e2e/moto-addComment",
        f"one addComment on in-process moto (the local stack's DynamoDB) with {items:,} more items in the table, "
        "about what the e2e run left",
        full * 1000,
        "ms",
        empty * 1000,
        "the same with the room alone",
        "moto copies the whole table for each action of a TransactWriteItems (moto/dynamodb/models/__init__.py, "
        "transact_write_items), so the local stack's command rate falls as its table grows; DynamoDB's does not",
    )


def _median_add_comment(chat: Chat, samples: int) -> float:
    timings = []
    for n in range(samples):
        started = time.perf_counter()
        commands.apply(AddComment(room_id=ROOM, user_id="author", text=f"sample {n}"), chat.store)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


class Driver:
    """A producer on the command queue, and the bookkeeping of what it stamped."""

    def __init__(self, stack: Stack, users: list[str]) -> None:
        self.stack = stack
        self.users = users
        self.sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url)
        self.seq = 0

    def send(self, commands: list[Command]) -> None:
        for first in range(0, len(commands), 10):
            entries = [{"Id": str(n), **fifo_message(c)} for n, c in enumerate(commands[first : first + 10])]
            failed = self.sqs.send_message_batch(QueueUrl=self.stack.queue_url, Entries=entries).get("Failed")
            if failed:
                raise RuntimeError(f"SQS refused {failed}")

    def comments(self, count: int, authors: Sequence[str] = ()) -> list[Command]:
        """The next ``count`` comments, stamped now: each names its sequence number and its send time.
        Their authors take turns: ``authors``, or every member."""
        now = time.time_ns()
        commands: list[Command] = []
        turns = authors or self.users
        for _ in range(count):
            author = turns[self.seq % len(turns)]
            commands.append(AddComment(room_id=ROOM, user_id=author, text=stamp(self.seq, now)))
            self.seq += 1
        return commands

    def wait_until_idle(self, timeout: float = 120, every: float = 0.2) -> None:
        """Until the command queue holds nothing, visible or in flight (asked ``every`` seconds)."""
        deadline = time.monotonic() + timeout
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        while time.monotonic() < deadline:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.stack.queue_url, AttributeNames=names)
            if all(int(attributes["Attributes"][name]) == 0 for name in names):
                return
            time.sleep(every)
        raise TimeoutError(f"the command queue still held messages after {timeout} s")

    def burst(self, sockets: Clients, count: int, drain_seconds: float, authors: Sequence[str] = ()) -> Step:
        first = self.seq
        started = time.perf_counter()
        for done in range(0, count, 10):
            self.send(self.comments(min(10, count - done), authors))
        return self._collect(sockets, 0, first, time.perf_counter() - started, drain_seconds)

    def step(self, sockets: Clients, rate: float, seconds: float, drain_seconds: float) -> Step:
        """``rate`` comments per second for ``seconds``, sent on a 100 ms tick, in batches of up to 10."""
        first, total = self.seq, round(rate * seconds)
        started = time.perf_counter()
        while (sent := self.seq - first) < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                batch = min(10, due - sent)
                self.send(self.comments(batch))
                sent += batch
            time.sleep(max(0.0, min(0.1, sent / rate - (time.perf_counter() - started))))
        return self._collect(sockets, rate, first, time.perf_counter() - started, drain_seconds)

    def _collect(self, sockets: Clients, rate: float, first: int, send_seconds: float, drain_seconds: float) -> Step:
        """Every subscriber's receipt of the comments first..self.seq, waiting at most ``drain_seconds``."""
        wanted = range(first, self.seq)
        expected = len(wanted) * sockets.count
        receipts: list[Receipt] = []
        deadline = time.monotonic() + drain_seconds
        while len(receipts) < expected and time.monotonic() < deadline:
            receipts += [r for r in sockets.receipts() if r.seq in wanted]
            time.sleep(0.1)
        return Step(rate, len(wanted), send_seconds, receipts, expected)


@contextmanager
def local_stack(
    directory: Path,
    extra: Mapping[str, str] | None = None,
    aws_endpoint: str | None = None,
    options: Sequence[str] = (),
) -> Iterator[Stack]:
    """`python -m roomcast_local up` on free ports; stopped with Ctrl-C (SIGINT), as a user stops it.

    ``extra``: more environment for the stack; ``aws_endpoint``: `up --aws-endpoint` (one already running);
    ``options``: more of `up`'s options (`--sqs-pollers 4`, say)."""
    aws_port, ws_port = free_port(), free_port()
    # As `make run` runs it: the stack's functions get the template's Powertools settings, not this process's.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    environment.update({"ROOMCAST_LOCAL_STATE": str(directory / "local-stack.json"), "PYTHONUNBUFFERED": "1"})
    environment.update(extra or {})
    log = directory / "up.log"
    arguments = ["up", "--ws-port", str(ws_port), "--state-dir", str(directory)]
    arguments += ["--aws-endpoint", aws_endpoint] if aws_endpoint else ["--aws-port", str(aws_port)]
    # The subscribers only listen, and a run on a loaded machine outlasts API Gateway's 10-minute idle
    # timeout, which would close every one of them mid-run (`roomcast watch` sends keepalives instead).
    arguments += ["--idle-timeout", "7200", *options]
    with roomcast_local(arguments, log, environment, ready="Ctrl-C to stop."):
        state: dict[str, Any] = json.loads((directory / "local-stack.json").read_text())
        outputs = state["outputs"]
        secrets = boto3.client("secretsmanager", endpoint_url=state["aws_endpoint_url"])
        stack = Stack(
            queue_url=outputs["CommandQueueUrl"],
            ws_url=outputs["WebSocketUrl"],
            aws_endpoint_url=state["aws_endpoint_url"],
            secret=secrets.get_secret_value(SecretId=outputs["JwtSecretArn"])["SecretString"],
            table_name=state["refs"]["ChatTable"],
        )
        try:
            yield stack
        except Exception as error:
            # The stack's log lives in a temporary directory: keep what explains the failure.
            error.add_note(f"local stack log, last lines:\n{log.read_text(errors='replace')[-4000:]}")
            raise


@contextmanager
def roomcast_local(arguments: list[str], log: Path, environment: Mapping[str, str], ready: str) -> Iterator[None]:
    """`python -m roomcast_local ARGUMENTS` until its log says ``ready``; then stopped with Ctrl-C (SIGINT),
    as a user stops it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roomcast_local", *arguments],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(environment),
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + 90
        while ready not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"`roomcast_local {arguments[0]}` did not start:\n{log.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.1)
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def _bent(steps: list[Step]) -> bool:
    last = steps[-1]
    if last.delivered < 0.99:
        return True
    return len(steps) > 1 and percentile(last.latencies, 0.95) > BEND * percentile(steps[0].latencies, 0.95)


def _figures(sizes: Sizes, burst: Step, steps: list[Step], fixed: list[Step]) -> list[Figure]:
    subscribers = f"{sizes.subscribers} subscriber(s)"
    figures = [
        Figure(
            "e2e/burst/commands-per-second",
            f"{sizes.burst} addComment commands sent at once into one room with {subscribers}",
            burst.applied_rate,
            "commands/s",
            burst.sent / burst.send_seconds,
            "the producer's send rate",
            f"from the first send to the last subscriber's receipt; {burst.delivered:.0%} of receipts within "
            f"{sizes.drain_seconds:.0f} s of the last send",
        )
    ]
    base = steps[0]
    for rate in sizes.steps:
        step = next((s for s in [*steps, *fixed] if s.rate == rate), None)
        workload = f"{rate:g} comments/s for {sizes.step_seconds:g} s into one room with {subscribers}"
        if any(step is f for f in fixed):
            workload += ", measured on its own after the stepping bent"
        for label, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            if step is None or not step.receipts:
                reason = "not run: the latency bent at an earlier step" if step is None else "no comment arrived"
                figures.append(Figure(f"e2e/rate={rate:g}/{label}", workload, None, "s", notes=reason))
                continue
            figures.append(
                Figure(
                    f"e2e/rate={rate:g}/{label}",
                    workload,
                    percentile(step.latencies, fraction),
                    "s",
                    percentile(base.latencies, fraction),
                    f"the same at {base.rate:g}/s",
                    f"SQS send to WebSocket receipt; {len(step.receipts):,} receipts, {step.delivered:.1%} of all "
                    f"within {sizes.drain_seconds:.0f} s; applied {step.applied_rate:.1f} comments/s",
                )
            )
    unbent = [s.rate for s in steps if s is not steps[-1] or not _bent(steps)]
    figures.append(
        Figure(
            "e2e/ceiling",
            f"stepping {', '.join(f'{r:g}' for r in sizes.steps)} comments/s, {sizes.step_seconds:g} s each, "
            f"into one room with {subscribers}",
            max(unbent, default=0.0),
            "comments/s",
            max(sizes.steps),
            "the highest step offered",
            "last step before p95 doubled or deliveries fell behind; p95 by step: "
            + ", ".join(f"{s.rate:g}/s {percentile(s.latencies, 0.95):.2f} s" for s in steps if s.receipts),
        )
    )
    return figures
