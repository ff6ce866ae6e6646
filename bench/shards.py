"""A room's subscriptions over 8 partitions: reading them on threads (what the fan-out does) against one
shard after the other (the baseline), in wall time and in the reading process's CPU.

moto's server runs in a process of its own (`python -m roomcast_local aws`), so the CPU measured is the
reader's alone: botocore's requests and parsing, and the threads' cost. The wall time is moto's, one
process serving every Query in turn: on DynamoDB the 8 partitions answer independently.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3

from bench import e2e
from bench.results import Figure
from roomcast.adapters import aws_clients
from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.connections import DynamoConnections
from roomcast.domain.chat import Subscription
from roomcast_local import template
from roomcast_local.processes import free_port


def run(smoke: bool) -> list[Figure]:
    sizes, reads = ((5, 20), 2) if smoke else ((10, 1_000), 20)
    with tempfile.TemporaryDirectory(prefix="roomcast-bench-shards-") as directory:
        port = free_port()
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = Path(directory) / "aws.log"
        with e2e.roomcast_local(["aws", "--aws-port", str(port)], log, environment, "AWS endpoint ready"):
            os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
            aws_clients.reset()
            try:
                return [figure for size in sizes for figure in _room(size, reads)]
            finally:
                del os.environ["AWS_ENDPOINT_URL"]
                aws_clients.reset()


def _room(size: int, reads: int) -> list[Figure]:
    dynamodb = boto3.client("dynamodb")
    provisioned = template.provision(f"shards{size}", dynamodb, boto3.client("sqs"), boto3.client("secretsmanager"))
    table = provisioned.refs["ChatTable"]
    connections = DynamoConnections(table)
    feed = f"room{size}#01KB000000000000000000000A"
    _seed(table, feed, size)

    def sequential() -> list[Subscription]:
        # The baseline is the adapter's own read of one shard, called for each shard in turn.
        client = connections.client
        return [s for n in range(keys.SUBSCRIBER_SHARDS) for s in connections._shard_all(client, feed, n, True)]

    def threaded() -> list[Subscription]:
        # fresh: every shard, as a cold container reads it (a warm one Queries only the shards that changed).
        return connections.all_subscribers(feed, consistent=True, fresh=True)

    if len(sequential()) != size or len(threaded()) != size:
        raise RuntimeError(f"the room of {size} was not read whole")
    # Alternated, so that the load of a shared machine falls on both alike.
    timed: dict[str, list[tuple[float, float]]] = {"threads": [], "sequential": []}
    for _ in range(reads):
        for name, read in (("threads", threaded), ("sequential", sequential)):
            timed[name].append(_timed(read))
    workload = (
        f"all_subscribers of a room of {size:,} spread over {keys.SUBSCRIBER_SHARDS} shards, strongly consistent, "
        f"cold (every shard), median of {reads} reads, on moto's server in another process"
    )
    figures = []
    for index, metric in enumerate(("wall-ms", "cpu-ms")):
        threads = statistics.median(t[index] for t in timed["threads"]) * 1000
        one_by_one = statistics.median(t[index] for t in timed["sequential"]) * 1000
        figures.append(
            Figure(f"shards/C={size}/{metric}", workload, threads, "ms", one_by_one, "shards one after another")
        )
    return figures


def _timed(read: Callable[[], list[Subscription]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    read()
    return time.perf_counter() - wall, time.process_time() - cpu


def _seed(table: str, feed: str, size: int) -> None:
    """Room-side items only, each in its connection's shard: all the read touches."""
    client = aws_clients.dynamodb()
    items = [
        {
            "PutRequest": {
                "Item": {
                    "PK": keys.subscribers_pk(feed, keys.subscriber_shard(f"conn-{n:06d}")),
                    "SK": keys.subscriber_sk(f"conn-{n:06d}"),
                    "UserID": f"user-{n % 100}",
                    "Incarnation": "01KB000000000000000000000A",
                    "ExpiresAt": 4_000_000_000,
                }
            }
        }
        for n in range(size)
    ]
    for start in range(0, size, 25):
        client.batch_write_item(RequestItems={table: items[start : start + 25]})
