"""`python -m roomcast_local up` (what `make run` runs) and `python -m roomcast_local aws`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from roomcast_local import fast_moto, moto_patches
from roomcast_local.aws_endpoint import AwsEndpoint
from roomcast_local.snapshot import SnapshotError
from roomcast_local.stack import LocalStack, StackConfig
from roomcast_local.state import STATE_FILE, default_region
from roomcast_local.ws_gateway import GatewayConfig

HOST_HELP = "address the endpoints listen on (0.0.0.0: reachable from containers, for sam local invoke)"


def compact(source: str, line: str) -> None:
    """Powertools' JSON log lines as one readable line each; metric blobs stay out of the way."""
    try:
        record = json.loads(line)
    except ValueError:
        print(f"[{source}] {line}", flush=True)
        return
    if not isinstance(record, dict) or "_aws" in record:
        return
    skip = {"level", "location", "message", "timestamp", "service", "cold_start", "xray_trace_id"}
    skip |= {k for k in record if k.startswith("function_")}
    details = " ".join(f"{k}={v}" for k, v in record.items() if k not in skip)
    print(f"[{source}] {record.get('level', '')} {record.get('message', '')} {details}".rstrip(), flush=True)


def up(arguments: argparse.Namespace) -> int:
    named = os.environ.get("ROOMCAST_LOCAL_STATE")
    config = StackConfig(
        host=arguments.host,
        aws_port=arguments.aws_port,
        ws_port=arguments.ws_port,
        aws_endpoint_url=arguments.aws_endpoint,
        dynamodb_endpoint_url=arguments.endpoint_url,
        # --state-dir holds the rest (checkpoints, sam-env.json): by default the state file's folder.
        state_dir=Path(arguments.state_dir or (Path(named).parent if named else STATE_FILE.parent)),
        state_file=Path(named) if named else None,
        visibility_timeout=arguments.visibility_timeout,
        sqs_pollers=arguments.sqs_pollers,
        poll_interval=arguments.stream_poll_interval,
        stream_batch_window=arguments.stream_batch_window,
        keep_tables=True,
        fresh=arguments.fresh,
        parameters=dict(arguments.parameter_overrides or []),
        gateway=GatewayConfig(
            idle_timeout_seconds=arguments.idle_timeout,
            max_connection_seconds=arguments.max_connection_seconds,
            frame_limit_bytes=arguments.frame_limit,
        ),
    )
    stack = LocalStack(config, log=None if arguments.raw_logs else compact)
    stop = _stop_on_signal(stack.kill)
    try:
        stack.start()
    except (OSError, SnapshotError) as error:
        print(f"roomcast local stack: cannot start: {error}", file=sys.stderr)
        stack.stop()
        return 1
    if stack.restored:
        print(f"restored {stack.restored} items from {stack.snapshot_path} in {stack.restored_in:.2f} s", flush=True)
    print(f"roomcast local stack ready in {stack.started_in:.1f} s", flush=True)
    for name, url in stack.endpoints():
        print(f"  {name:<46} {url}", flush=True)
    print("Ctrl-C to stop.", flush=True)
    stop.wait()
    print("stopping... (Ctrl-C again to kill it now)", flush=True)
    stack.stop()
    return 0


def aws(arguments: argparse.Namespace) -> int:
    """Only the AWS endpoint, so that a stack started with --aws-endpoint can be killed and restarted."""
    moto_patches.apply()
    stop = _stop_on_signal()
    region = default_region()
    server = AwsEndpoint(arguments.host, arguments.aws_port, region)
    server.start()
    print(f"AWS endpoint ready: http://127.0.0.1:{arguments.aws_port} (region {region})", flush=True)
    stop.wait()
    server.stop()
    return 0


class StopRequest:
    """Set by a signal handler, waited for by the main thread.

    Not a threading.Event: its set() takes a lock that the main thread may be holding inside wait()
    when the signal arrives, and the handler runs on that same thread, so it could deadlock. A plain
    flag and short sleeps (which signals interrupt) cannot."""

    def __init__(self) -> None:
        self.requested = False

    def wait(self) -> None:
        while not self.requested:
            time.sleep(0.05)


def _stop_on_signal(kill: Callable[[], None] = lambda: None) -> StopRequest:
    """Installed before anything prints "ready": a Ctrl-C that comes at once still stops cleanly.

    A second Ctrl-C (or SIGTERM) while stopping calls ``kill`` and exits at once.
    """
    stop = StopRequest()

    def handle(signum: int, _frame: object) -> None:
        if stop.requested:
            kill()
            os.write(sys.stdout.fileno(), b"killed\n")  # not print(): the main thread may be inside one
            os._exit(128 + signum)
        stop.requested = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handle)
    return stop


def _at_least(kind: Callable[[str], float], least: float) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` no smaller than ``least``, else a one-line usage error."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {text}")
        return value

    return parse


def _parameter(text: str) -> tuple[str, str]:
    """An argparse type: KEY=VALUE naming one of template.yaml's Parameters, as sam deploy takes them."""
    from roomcast_local.template import load

    key, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    known = load().get("Parameters", {})
    if key not in known:
        raise argparse.ArgumentTypeError(f"{key!r} is not a parameter of template.yaml ({', '.join(sorted(known))})")
    return key, value


def main(argv: list[str] | None = None) -> int:
    # moto's server logs every request it serves; the stack prints its own lines instead.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(prog="python -m roomcast_local", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("up", help="the whole stack in the foreground")
    run.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    run.add_argument("--aws-port", type=int, default=4566)
    run.add_argument("--ws-port", type=int, default=3001)
    run.add_argument("--aws-endpoint", help="use this running AWS endpoint instead of starting one")
    run.add_argument("--endpoint-url", help="DynamoDB (and its stream) at this URL, DynamoDB Local for example")
    run.add_argument("--raw-logs", action="store_true", help="print the functions' log lines as they are")
    run.add_argument(
        "--state-dir", help="checkpoints, saved tables and sam-env.json (default: the state file's folder)"
    )
    run.add_argument("--fresh", action="store_true", help="start with empty tables, discarding the saved ones")
    # API Gateway's and SQS's limits, shortened by tests that must see them act.
    run.add_argument("--idle-timeout", type=float, default=600, help="seconds (API Gateway: 10 minutes)")
    run.add_argument("--max-connection-seconds", type=float, default=7200, help="seconds (API Gateway: 2 hours)")
    run.add_argument("--frame-limit", type=int, default=32 * 1024, help="bytes (API Gateway: 32 KB)")
    run.add_argument("--visibility-timeout", type=int, help="seconds, for every queue (template: 180)")
    run.add_argument(
        "--sqs-pollers",
        type=_at_least(int, 1),
        help=(
            "concurrent pollers per SQS event source (default 1: more apply different authors' commands in "
            "parallel, so one's create and another's join may land in either order)"
        ),
    )
    run.add_argument(
        "--stream-poll-interval",
        type=_at_least(float, 0.01),
        default=StackConfig.poll_interval,
        help="seconds between polls of an idle stream shard (Lambda: 0.25)",
    )
    run.add_argument(
        "--stream-batch-window",
        type=_at_least(float, 0.0),
        default=StackConfig.stream_batch_window,
        help="seconds from one read of a busy stream shard to the next (Lambda: about 0.25; 0 reads back to back)",
    )
    run.add_argument(
        "--parameter-overrides",
        nargs="+",
        type=_parameter,
        metavar="KEY=VALUE",
        help="template parameters, as sam deploy takes them (ReviewBlockedWords=spam,scam, say)",
    )
    run.set_defaults(handler=up)
    endpoint = verbs.add_parser("aws", help="only the AWS endpoint (moto), in the foreground")
    endpoint.add_argument("--host", default="127.0.0.1", help=HOST_HELP)
    endpoint.add_argument("--aws-port", type=int, default=4566)
    endpoint.set_defaults(handler=aws)
    arguments = parser.parse_args(argv)
    try:
        result: int = arguments.handler(arguments)
    except fast_moto.FastMotoError as error:
        print(f"roomcast local stack: cannot start: {error}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    try:
        code = main()
    except Exception:  # noqa: BLE001 - whatever broke, the process must still end (below), not hang on a thread
        traceback.print_exc()
        code = 1
    # Everything is stopped and saved by now. Skipping the interpreter's teardown skips its final
    # garbage collection, which walks every object moto made (hundreds of MB after a few thousand
    # comments: its stream keeps every record, its transactions copy whole tables) and took most of
    # the 40 s Ctrl-C used to take.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
