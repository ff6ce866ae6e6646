"""The review hook's cost per comment (docs/moderation.md, review hook): requests and latency of an
addComment in a room in review mode, beside a plain addComment of the same run.

DynamoDB is in-process moto (metered, as bench/moderation.py); the review is a real Lambda Invoke over
HTTP to the local AWS endpoint, which runs functions/review_function in a worker process of its own,
as the local stack does. In AWS the Invoke of a warm function replaces that loopback round trip.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

from bench.local import Chat, chat_on_moto
from bench.meter import Meter, Usage
from bench.results import Figure
from roomcast.adapters.review_lambda import LambdaReviewer, review_client
from roomcast.domain.review import REVIEW_BUDGET_MS, Verdict
from roomcast.models import AddComment, Command, CreateChatRoom, JoinChatRoom, SetRoomPolicy
from roomcast.usecases import commands
from roomcast_local import lambda_invoke, template
from roomcast_local.aws_endpoint import AwsEndpoint
from roomcast_local.processes import free_port
from roomcast_local.workers import WorkerPool

TEXT = "x" * 100
LABEL = "plain addComment, same run"


class CountingReviewer:
    def __init__(self, reviewer: LambdaReviewer) -> None:
        self.reviewer = reviewer
        self.invokes = 0

    def review(self, room_id: str, user_id: str, text: str) -> Verdict:
        self.invokes += 1
        return self.reviewer.review(room_id, user_id, text)


def run(smoke: bool) -> list[Figure]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per Invoke otherwise
    server = AwsEndpoint("127.0.0.1", free_port(), "eu-west-1")
    server.start()
    host, port = server.get_host_and_port()
    try:
        with chat_on_moto("reviewbench") as chat:
            provisioned = template.name_functions(chat.provisioned)
            pool = WorkerPool(template.function_spec("ReviewFunction", provisioned), {}, lambda source, line: None)
            try:
                pool.invoke({"text": "warm"})  # the cold start is not a comment's cost
                resolve = lambda_invoke.resolver(provisioned.refs, provisioned.attrs, template.functions())
                server.invocations.functions = (resolve, lambda logical, event: pool.invoke(event))
                client = review_client(REVIEW_BUDGET_MS, f"http://{host}:{port}")
                reviewer = CountingReviewer(LambdaReviewer(client, provisioned.attrs[("ReviewFunction", "Arn")]))
                return _measure(chat, reviewer, 5 if smoke else 100)
            finally:
                pool.stop()
    finally:
        server.stop()


def _measure(chat: Chat, reviewer: CountingReviewer, rounds: int) -> list[Figure]:
    store, meter = chat.store, chat.meter

    def apply(command: Command, with_reviewer: bool = True) -> None:
        commands.apply(command, store, reviewer=reviewer if with_reviewer else None)

    for room, mode in (("plain", "off"), ("reviewed", "failOpen")):
        apply(CreateChatRoom(room_id=room, user_id="alice"))
        apply(JoinChatRoom(room_id=room, user_id="bob"))
        if mode != "off":
            apply(SetRoomPolicy.model_validate({"roomId": room, "userId": "alice", "reviewMode": mode}))

    def comment(room: str) -> Callable[[], None]:
        return lambda: apply(AddComment(room_id=room, user_id="bob", text=TEXT))

    plain_usage, reviewed_usage = _metered(meter, comment("plain")), _metered(meter, comment("reviewed"))
    before = reviewer.invokes
    comment("reviewed")()
    invokes = reviewer.invokes - before
    # Alternating, one of each per round: moto's transactions copy the whole table, so every comment
    # costs a little more than the one before, and one room measured after the other would carry that.
    plain_ms, reviewed_ms = [], []
    for _ in range(rounds):
        plain_ms += _timed(comment("plain"), 1)
        reviewed_ms += _timed(comment("reviewed"), 1)
    invoke_ms = _timed(lambda: reviewer.reviewer.review("reviewed", "bob", TEXT), rounds)
    workload = f"addComment of {len(TEXT)} characters in a failOpen room, the sample function allowing it"
    timing = f"{rounds} comments each, alternating; Invoke over loopback HTTP to a warm local worker"
    return [
        Figure(
            "review/addComment-reviewed/requests",
            workload,
            reviewed_usage.total_requests + invokes,
            "requests",
            plain_usage.total_requests,
            LABEL,
            f"DynamoDB {reviewed_usage.total_requests} + Lambda Invoke {invokes}",
        ),
        Figure("review/addComment-reviewed/rcu", workload, reviewed_usage.rcu, "RCU", plain_usage.rcu, LABEL),
        Figure(
            "review/addComment-reviewed/wcu", workload, reviewed_usage.total_wcu, "WCU", plain_usage.total_wcu, LABEL
        ),
        Figure("review/addComment-reviewed/p50", workload, _p(reviewed_ms, 50), "ms", _p(plain_ms, 50), LABEL, timing),
        Figure("review/addComment-reviewed/p95", workload, _p(reviewed_ms, 95), "ms", _p(plain_ms, 95), LABEL, timing),
        Figure(
            "review/invoke/p50",
            "the review Invoke alone",
            _p(invoke_ms, 50),
            "ms",
            float(REVIEW_BUDGET_MS),
            "the budget",
            timing,
        ),
    ]


def _metered(meter: Meter, action: Callable[[], None]) -> Usage:
    with meter.measure() as usage:
        action()
    return usage


def _timed(action: Callable[[], object], rounds: int) -> list[float]:
    spent = []
    for _ in range(rounds):
        began = time.perf_counter()
        action()
        spent.append((time.perf_counter() - began) * 1000)
    return spent


def _p(values: list[float], percent: int) -> float:
    return (
        round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 2) if len(values) > 1 else values[0]
    )
