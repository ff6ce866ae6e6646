"""Per-room command throughput under order per author, beside the unordered baseline.

One room, its comments from K authors, drained from a queue by P concurrent pollers that each run the
command function's batch code (as Lambda's event source does with ``MaximumConcurrency`` P).

- ordered: the template's FIFO queue, one message group per room and author; SQS hands out none of a
  group while one of its messages is in flight (moto 5.2.5 with roomcast_local.moto_fifo);
- unordered (the baseline): a standard queue carrying the same messages, as the command queue was
  before: any poller takes any comment.

In-process moto answers in CPU time, where DynamoDB takes milliseconds a round trip and leaves the
poller idle meanwhile: a fixed ``LATENCY_MS`` is slept before every DynamoDB request, so what
concurrency buys shows. The figures are rates of this model, not of AWS; their ratio is the point.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3

from bench.local import Chat, chat_on_moto
from bench.results import Figure
from roomcast.adapters import aws_clients
from roomcast.bootstrap import command_intake
from roomcast.domain.ordering import fifo_message
from roomcast.edges.fifo_batch import CommandBatch
from roomcast.edges.sqs_intake import CommandIntake
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from roomcast.settings import CommandSettings
from roomcast.usecases import commands
from roomcast_local import fast_moto, moto_fifo, template
from roomcast_local import invoke as local_invoke
from roomcast_local.sqs_source import SqsEventSource

LATENCY_MS = 8
POLLERS = 8
ROOM = "bench"


def run(smoke: bool) -> list[Figure]:
    comments = 20 if smoke else 200
    with local_invoke.environment({"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}):
        return _run(comments)


def _run(comments: int) -> list[Figure]:
    figures: list[Figure] = []
    moto_fifo.apply()
    # One lock around moto's DynamoDB (in-process moto is not safe under concurrent requests); the
    # latency is slept outside it, client side, so pollers still overlap as they would on DynamoDB.
    with fast_moto.patched(), chat_on_moto("ordering") as chat:
        authors = [f"a{n}" for n in range(10)]
        _seed(chat, authors)
        sqs = boto3.client("sqs")
        # A failed batch comes back after 5 s, not the template's 180 s, which would swamp every other
        # figure; still long enough that a batch being handled is not handed to a second poller.
        standard = sqs.create_queue(QueueName="ordering-standard", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        fifo = chat.provisioned.refs["CommandQueue"]
        sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"VisibilityTimeout": "5"})
        hook = _latency()
        aws_clients.dynamodb().meta.events.register("before-send.dynamodb", hook)
        try:
            for count in (1, 10):
                writers = authors[:count]
                unordered = _drain(chat, sqs, standard, writers, comments, fifo=False)
                ordered = _drain(chat, sqs, fifo, writers, comments, fifo=True)
                figures.append(
                    Figure(
                        name=f"ordering/authors={count}/comments-per-s",
                        workload=(
                            f"{comments} comments into one room from {count} author(s), {POLLERS} concurrent "
                            f"pollers (batches of 10), in-process moto with {LATENCY_MS} ms slept per DynamoDB "
                            "request; ordered: the FIFO command queue, one group per room and author"
                        ),
                        value=round(ordered, 1),
                        unit="comments/s",
                        baseline=round(unordered, 1),
                        baseline_label="the same through a standard queue (unordered)",
                        notes="A model of DynamoDB's latency, not AWS: the ratio is the figure to read.",
                    )
                )
        finally:
            aws_clients.dynamodb().meta.events.unregister("before-send.dynamodb", hook)
    return figures


def _seed(chat: Chat, authors: list[str]) -> None:
    commands.apply(CreateChatRoom(room_id=ROOM, user_id="owner"), chat.store)
    for author in authors:
        commands.apply(JoinChatRoom(room_id=ROOM, user_id=author), chat.store)


def _latency() -> Any:
    def sleep(**_: Any) -> None:
        time.sleep(LATENCY_MS / 1000)

    return sleep


def _drain(chat: Chat, sqs: Any, queue_url: str, authors: list[str], count: int, fifo: bool) -> float:
    """Send ``count`` comments round-robin over ``authors``, then time POLLERS pollers emptying the queue."""
    for start in range(0, count, 10):
        entries = []
        for n in range(start, min(start + 10, count)):
            sent = fifo_message(AddComment(room_id=ROOM, user_id=authors[n % len(authors)], text=f"c{n}"))
            if not fifo:
                del sent["MessageDeduplicationId"]  # a standard queue refuses it; the group id it keeps
            entries.append({"Id": str(n - start), **sent})
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    environment = template.function_spec("CommandFunction", chat.provisioned).environment
    settings = CommandSettings.from_env(environment)
    arn = f"arn:aws:sqs:{sqs.meta.region_name}:123456789012:{queue_url.rsplit('/', 1)[1]}"
    handled = _Counter()

    def poll() -> None:
        # Each poller its own intake, as each Lambda instance has: a batch's read ahead is the intake's.
        intake = command_intake.__wrapped__(settings)
        source = SqsEventSource(_OneAtATime(sqs), queue_url, arn, lambda event: _invoke(intake, handled, event))
        while handled.value < count:
            if not source.poll_once().received:
                time.sleep(0.005)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(POLLERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    if handled.value < count:
        raise RuntimeError(f"only {handled.value} of {count} comments were applied")
    print(f"ordering: {'fifo' if fifo else 'standard'} {len(authors)} authors: {handled.failed} failed deliveries")
    return count / (time.perf_counter() - started)


def _invoke(intake: CommandIntake, handled: _Counter, event: dict[str, Any]) -> Any:
    """The command function's batch code: read ahead, then the FIFO processor over the records."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    try:
        with intake.reading_ahead(event["Records"]):
            response = process_partial_response(event, intake.handle_record, CommandBatch(), context=None)
    except Exception:
        handled.fail(len(event["Records"]))
        raise
    handled.add(len(event["Records"]) - len(response["batchItemFailures"]))
    handled.fail(len(response["batchItemFailures"]))
    return response


class _OneAtATime:
    """An SQS client whose calls take turns: moto's in-process SQS is not safe under concurrent receives
    (its pending-message set changes under another receive's loop). Receives do not wait here."""

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**request: Any) -> Any:
            with self._lock:
                return method(**request)

        return call


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self.failed = 0
        self._lock = threading.Lock()

    def fail(self, n: int) -> None:
        with self._lock:
            self.failed += n

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n
