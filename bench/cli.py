"""CLI start-up: the wall time of `roomcast --help` and of a publish to a local stack, against bare interpreters.

Every command runs in a fresh process (as a script calling the CLI runs it), the runs of all commands
interleaved so that drift hits each alike; median of several runs after a warm-up run (bytecode
compiled). Baselines from the same run: `python -c pass` (the interpreter's own start-up, which no CLI
can avoid) and `python -c "import boto3"` (what any boto3-based tool pays before its first request).

The parts of a publish's floor run alongside (`python -c` importing click, pydantic with one model,
botocore's SigV4 signer), and each command's CPU time (user + system, from the child's rusage) is
reported next to its wall time: on a loaded machine the wall time is mostly waiting for a core.

The publish goes to moto's server on a loopback port, found through a state file as `make run` writes
it, and is checked to have arrived on the queue: the figure is the whole `roomcast comment`, request
included.
"""

from __future__ import annotations

import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bench.local import REGION
from bench.results import Figure
from roomcast_local.state import LocalState

ROOMCAST = str(Path(sys.executable).with_name("roomcast"))
COMMANDS = {
    "pass": [sys.executable, "-c", "pass"],
    "import boto3": [sys.executable, "-c", "import boto3"],
    # What a publish cannot do without: its parser, its validation, its signature.
    "import click": [sys.executable, "-c", "import click"],
    "pydantic model": [sys.executable, "-c", "from pydantic import BaseModel\nclass M(BaseModel):\n    a: str"],
    "import botocore.auth": [sys.executable, "-c", "import botocore.auth"],
    "help": [ROOMCAST, "--help"],
    "comment": [ROOMCAST, "comment", "art", "hello", "--user", "bob"],
}


def run(smoke: bool) -> list[Figure]:
    with local_queue() as (environment, queue_url, sqs):
        runs = 1 if smoke else 9
        timings, cpu = _timings(environment, runs=runs, warm_up=not smoke)
        published = _drain(sqs, queue_url)
    expected = runs + int(not smoke)
    if published != expected:
        raise RuntimeError(f"roomcast comment ran {expected} times but {published} commands reached the queue")
    median = {name: statistics.median(seconds) * 1000 for name, seconds in timings.items()}
    workload = f"wall time of a fresh process, median of {runs} run(s)" + ("" if smoke else " after a warm-up")

    def figure(name: str, what: str, baseline: str) -> Figure:
        return Figure(
            f"cli/{name}/{'wall' if baseline == 'pass' else 'wall-vs-boto3'}",
            f"{workload}: {what}",
            median[name],
            "ms",
            median[baseline],
            f"python -c {baseline!r}" if baseline == "pass" else 'python -c "import boto3"',
            f"own start-up (minus `python -c pass`): {median[name] - median['pass']:.0f} ms; "
            f"runs: {', '.join(f'{s * 1000:.0f}' for s in timings[name])} ms",
        )

    comment = "`roomcast comment art hello --user bob` to a local stack (moto server)"
    return [
        figure("help", "`roomcast --help`", "pass"),
        figure("comment", comment, "pass"),
        figure("comment", comment, "import boto3"),
        *_cpu_figures(cpu, runs, smoke, comment),
    ]


def _cpu_figures(cpu: dict[str, list[float]], runs: int, smoke: bool, comment: str) -> list[Figure]:
    """CPU time of each command against `python -c pass`'s: the floor's parts, and the verbs above them."""
    median = {name: statistics.median(seconds) * 1000 for name, seconds in cpu.items()}
    workload = f"CPU time (user + system) of a fresh process, median of {runs} run(s)" + (
        "" if smoke else " after a warm-up"
    )
    what = {
        "import click": '`python -c "import click"` (the CLI\'s parser)',
        "pydantic model": "`python -c` importing pydantic and building one model (a command's validation)",
        "import botocore.auth": '`python -c "import botocore.auth"` (botocore\'s SigV4 signer)',
        "import boto3": '`python -c "import boto3"`',
        "help": "`roomcast --help`",
        "comment": comment,
    }
    slug = {name: name.replace("import ", "import-").replace(" ", "-") for name in what}
    return [
        Figure(
            f"cli/{slug[name]}/cpu",
            f"{workload}: {text}",
            median[name],
            "ms",
            median["pass"],
            "python -c 'pass'",
            f"own CPU (minus `python -c pass`): {median[name] - median['pass']:.0f} ms; "
            f"runs: {', '.join(f'{s * 1000:.0f}' for s in cpu[name])} ms",
        )
        for name, text in what.items()
    ]


@contextmanager
def local_queue() -> Iterator[tuple[dict[str, str], str, Any]]:
    """A command queue on moto's server, published in a state file the way the local stack publishes it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        queue_url = sqs.create_queue(QueueName="bench-cli-commands")["QueueUrl"]
        with tempfile.TemporaryDirectory(prefix="roomcast-bench-cli-") as scratch:
            state_file = Path(scratch) / "local-stack.json"
            LocalState(
                aws_endpoint_url=endpoint,
                ws_url="ws://127.0.0.1:1/v1",  # not used by these verbs
                callback_url="http://127.0.0.1:1/@connections",
                region=REGION,
                refs={},
                attrs={},
                environment={},
                outputs={"CommandQueueUrl": queue_url},
            ).save(state_file)
            environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            yield environment | {"ROOMCAST_LOCAL_STATE": str(state_file)}, queue_url, sqs
    finally:
        server.stop()


def _timings(
    environment: dict[str, str], runs: int, warm_up: bool
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Each command's wall times and CPU times (seconds)."""
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for round_ in range(runs + int(warm_up)):
        for name, command in COMMANDS.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)
            seconds = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
            if round_ >= int(warm_up):
                timings[name].append(seconds)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return timings, cpu


def _drain(sqs: Any, queue_url: str) -> int:
    count = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return count
        count += len(messages)
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
