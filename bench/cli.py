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
included. It runs two ways, interleaved: through the local stack's console (served here on a gateway
of its own, in this process, as `make run` serves it: roomcast_cli/via_console.py), and with the
state file's console on a port where nothing listens, which is the way every publish went before
(validated with pydantic here, signed with botocore, lean_sqs.py). The stack's side of each publish
(moto, and the console's validation and send) runs in this process: its CPU is reported beside the
CLI's, since the console's way moves work there rather than removing it.
"""

from __future__ import annotations

import dataclasses
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
from roomcast_local.console import Console, LogRing
from roomcast_local.processes import free_port
from roomcast_local.state import LocalState
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

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
    "comment-console": [ROOMCAST, "comment", "art", "hello", "--user", "bob"],
}
# These run against the state file whose callback_url is the console's; the others, one where nothing listens.
VIA_CONSOLE = {"comment-console"}


def run(smoke: bool) -> list[Figure]:
    with local_queue() as (environments, queue_url, sqs):
        runs = 1 if smoke else 9
        load = os.getloadavg()[0]  # wall times mean little without how busy the machine was
        timings, cpu, stack_cpu = _timings(environments, runs=runs, warm_up=not smoke)
        load_text = f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
        published = _drain(sqs, queue_url)
    expected = 2 * (runs + int(not smoke))
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

    return [
        figure("help", "`roomcast --help`", "pass"),
        figure("comment", COMMENT, "pass"),
        figure("comment", COMMENT, "import boto3"),
        figure("comment-console", COMMENT_CONSOLE, "pass"),
        _versus_before(median, load_text),
        *_cpu_figures(cpu, runs, smoke),
        _stack_cpu_figure(stack_cpu, runs),
    ]


COMMENT = (
    "`roomcast comment art hello --user bob` to a local stack (moto server) whose console does not answer: "
    "validated with pydantic, signed with botocore (lean_sqs), the way before"
)
COMMENT_CONSOLE = (
    "`roomcast comment art hello --user bob` to a local stack (moto server) through its console's API "
    "(via_console: no pydantic, no botocore)"
)


def _versus_before(median: dict[str, float], load: str) -> Figure:
    return Figure(
        "cli/comment-console/wall-vs-before",
        "wall time of a fresh process, median: a publish through the console against the same publish the way "
        "before (the console not answering), interleaved in one run",
        median["comment-console"],
        "ms",
        median["comment"],
        "the same `roomcast comment` without the console",
        f"issue 13 asks under 300 ms; `python -c pass` {median['pass']:.0f} ms in the same run; {load}",
    )


def _stack_cpu_figure(stack_cpu: dict[str, list[float]], runs: int) -> Figure:
    """What the stack's side (moto's server and the console, in this process) spent per publish each way."""
    median = {name: statistics.median(seconds) * 1000 for name, seconds in stack_cpu.items()}
    return Figure(
        "cli/comment-console/stack-cpu",
        f"CPU time of the process serving moto and the console during one publish, median of {runs} run(s): "
        "through the console (its validation and send included) against the way before (moto alone)",
        median["comment-console"],
        "ms",
        median["comment"],
        "the same publish without the console",
        f"runs: {', '.join(f'{s * 1000:.0f}' for s in stack_cpu['comment-console'])} ms; "
        f"before: {', '.join(f'{s * 1000:.0f}' for s in stack_cpu['comment'])} ms",
    )


def _cpu_figures(cpu: dict[str, list[float]], runs: int, smoke: bool) -> list[Figure]:
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
        "comment": COMMENT,
        "comment-console": COMMENT_CONSOLE,
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
def local_queue() -> Iterator[tuple[dict[str, dict[str, str]], str, Any]]:
    """A command queue on moto's server, published in state files the way the local stack publishes it: one
    whose callback_url is a gateway serving the console, one where nothing listens. Each command's
    environment, by its name."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    gateway: WebSocketGateway | None = None
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        queue_url = sqs.create_queue(QueueName="bench-cli-commands")["QueueUrl"]
        with tempfile.TemporaryDirectory(prefix="roomcast-bench-cli-") as scratch:
            state = LocalState(
                aws_endpoint_url=endpoint,
                ws_url="ws://127.0.0.1:1/v1",  # not used by these verbs
                callback_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: the way before
                region=REGION,
                refs={},
                attrs={},
                environment={},
                outputs={"CommandQueueUrl": queue_url},
                producer="AIDAIT2UOQQY3AUEKVGXU",
            )
            without, with_console = Path(scratch) / "local-stack.json", Path(scratch) / "with-console.json"
            state.save(without)
            gateway = WebSocketGateway(routes={}, authorizer=None, config=GatewayConfig(port=0, identity_source=None))
            gateway.subapps["/console"] = Console(with_console, LogRing(), "v1").app
            gateway.start_in_thread()
            dataclasses.replace(state, callback_url=gateway.callback_url).save(with_console)
            base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            environments = {
                name: base | {"ROOMCAST_LOCAL_STATE": str(with_console if name in VIA_CONSOLE else without)}
                for name in COMMANDS
            }
            yield environments, queue_url, sqs
    finally:
        if gateway is not None:
            gateway.stop_thread()
        server.stop()


def _timings(
    environments: dict[str, dict[str, str]], runs: int, warm_up: bool
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]]:
    """Each command's wall times and CPU times (seconds), and for the publishes the CPU this process (moto,
    the console) spent meanwhile."""
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    stack_cpu: dict[str, list[float]] = {name: [] for name in ("comment", "comment-console")}
    for round_ in range(runs + int(warm_up)):
        for name, command in COMMANDS.items():
            before, before_self = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
            began = time.perf_counter()
            done = subprocess.run(
                command, env=environments[name], capture_output=True, text=True, timeout=120, check=False
            )
            seconds = time.perf_counter() - began
            after, after_self = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
            if round_ >= int(warm_up):
                timings[name].append(seconds)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                if name in stack_cpu:
                    stack_cpu[name].append(after_self - before_self)
    return timings, cpu, stack_cpu


def _drain(sqs: Any, queue_url: str) -> int:
    count = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return count
        count += len(messages)
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
