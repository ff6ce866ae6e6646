"""The whole of Roomcast on one machine: AWS endpoint, WebSocket gateway, event sources, function workers.

Everything is read from template.yaml: the tables, queues and secret it creates, the routes and
authorizer of the WebSocket API, each function's handler and environment, and each event
source's settings (batch size, partial batch responses, filters, retries, on-failure queue).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from roomcast_local import (
    fast_moto,
    lambda_invoke,
    moto_fifo,
    moto_patches,
    sam_env,
    snapshot,
    stream_wakeup,
    template,
)
from roomcast_local.aws_endpoint import AwsEndpoint
from roomcast_local.console import Console, LogRing
from roomcast_local.inprocess_sqs import InProcessSqs
from roomcast_local.inprocess_streams import InProcessStreams
from roomcast_local.sqs_source import SqsEventSource
from roomcast_local.stack_config import StackConfig
from roomcast_local.state import LocalState, write_atomically
from roomcast_local.stream_mapping import StreamSourceConfig
from roomcast_local.stream_source import StreamEventSource
from roomcast_local.workers import WorkerPool
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

__all__ = ["LocalStack", "StackConfig"]

Log = Callable[[str, str], None]
_TABLE = "AWS::DynamoDB::Table"

# Lambda's SQS pollers long-poll for up to 20 s; moto answers the moment a message arrives.
SQS_WAIT_SECONDS = 20
# On an endpoint that outlives this process (--aws-endpoint) a receive abandoned at stop would take
# the next messages out of sight for the visibility timeout: polls there are short and waited for.
SHARED_SQS_WAIT_SECONDS = 1
# An idle shard of the embedded endpoint, whose writes wake the poller (stream_wakeup.py), is read anyway this often.
STREAM_IDLE_SECONDS = 1.0


class LocalStack:
    def __init__(self, config: StackConfig, log: Log | None = None) -> None:
        self.config = config
        self.logs = LogRing()  # the functions' recent lines, for the console's lookup by commandId
        self.log: Log = self.logs.tee(log or (lambda source, line: print(f"[{source}] {line}", flush=True)))
        self._moto: AwsEndpoint | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqs_threads: set[str] = set()
        self._sqs_sources: dict[str, SqsEventSource] = {}
        self._pools: dict[str, WorkerPool] = {}
        self.gateway: WebSocketGateway | None = None
        self.provisioned: template.Provisioned | None = None
        self.aws_endpoint_url = ""
        self.started_in = 0.0
        self._tables: snapshot.Tables | None = None  # set once restored: only then does stop() save
        self.restored = 0
        self.restored_in = 0.0
        # Set once this stack has written its files: a stack that failed to start (its port taken by
        # a stack already running, say) must not withdraw the running one's.
        self._published = False

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        began = time.monotonic()
        self.aws_endpoint_url = self.config.aws_endpoint_url or self._start_moto()
        self._set_environment()
        provisioned = self._provision()
        provisioned.parameters = dict(self.config.parameters)
        # Before the event sources start, which then never see the restored items as new ones.
        self._restore(provisioned)
        api = template.websocket_api()
        self.gateway = WebSocketGateway(
            routes={key: self._invoker(function) for key, function in api.routes.items()},
            authorizer=self._invoker(api.authorizer) if api.authorizer else None,
            config=GatewayConfig(
                **{
                    **self.config.gateway.__dict__,
                    "host": self.config.host,
                    "port": self.config.ws_port,
                    "stage": api.stage,
                    "route_selection_expression": api.route_selection_expression,
                    "identity_source": api.identity_source,
                }
            ),
        )
        self.gateway.subapps["/console"] = Console(self.config.state_path, self.logs, api.stage).app
        self.gateway.start_in_thread()
        provisioned.environment["WEBSOCKET_CALLBACK_URL"] = _client_url(self.gateway.callback_url)
        self.provisioned = provisioned
        self._serve_invocations(provisioned)
        self._start_event_sources()
        # Warm one worker per function now, so the first request does not pay the imports.
        for function in template.functions():
            self._pool(function).warm()
        callback_url = _client_url(self.gateway.callback_url)
        self._published = True
        sam_env.write(
            self.config.state_dir / sam_env.FILE_NAME,
            sam_env.environments(
                provisioned, self.aws_endpoint_url, callback_url, self.config.region, self.config.dynamodb_endpoint_url
            ),
        )
        state = LocalState.of(provisioned, self.aws_endpoint_url, self.ws_url, callback_url, moto_fifo.SENDER_ID)
        state.save(self.config.state_path)
        self.started_in = time.monotonic() - began

    def stop(self) -> None:
        """Every part down within a few seconds, whatever the tables hold or the functions are doing."""
        self._stopping.set()  # the pollers end after their current round
        stream_wakeup.wake()  # and the stream pollers stop waiting for a write
        if self.gateway is not None:
            self.gateway.stop_thread()  # bounded by its stop_timeout_seconds; $disconnect still runs
        deadline = time.monotonic() + self.config.stop_grace_seconds
        workers = [worker for pool in list(self._pools.values()) for worker in pool.close()]
        for worker in workers:
            worker.stop(deadline)  # an invocation still running then is cut, as Lambda's shutdown does
        for thread in self._threads:
            self._join_poller(thread, deadline)
        moto = threading.Thread(target=self._moto.stop, daemon=True) if self._moto is not None else None
        if moto is not None:
            moto.start()  # its serve loop notices within half a second, meanwhile the tables are saved
        self._save()
        if moto is not None:
            moto.join()
        if self._published:
            self.config.state_path.unlink(missing_ok=True)
            (self.config.state_dir / sam_env.FILE_NAME).unlink(missing_ok=True)

    def kill(self) -> None:
        """A second Ctrl-C: no more waiting, every worker killed now."""
        for pool in list(self._pools.values()):
            pool.kill()

    @property
    def ws_url(self) -> str:
        assert self.gateway is not None and self.provisioned is not None
        return _client_url(f"{self.gateway.ws_url}/{template.websocket_api().stage}")

    def endpoints(self) -> list[tuple[str, str]]:
        assert self.gateway is not None and self.provisioned is not None
        return [
            ("AWS endpoint (DynamoDB, SQS, Secrets Manager)", self.aws_endpoint_url),
            ("WebSocket API", self.ws_url),
            ("console", f"{_client_url(self.gateway.callback_url)}/console/"),
            ("@connections API", f"{_client_url(self.gateway.callback_url)}/@connections"),
            ("command queue", self.provisioned.refs["CommandQueue"]),
            ("region", self.config.region),
            ("sam local invoke --env-vars", str(self.config.state_dir / sam_env.FILE_NAME)),
        ]

    # ---- parts -----------------------------------------------------------------------------

    def _start_moto(self) -> str:
        moto_patches.apply()
        stream_wakeup.apply()
        self._moto = AwsEndpoint(self.config.host, self.config.aws_port, self.config.region)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        return _client_url(f"http://{host}:{port}")

    def _set_environment(self) -> None:
        """What every boto3 client of this process and of the workers uses."""
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        if self.config.dynamodb_endpoint_url:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = self.config.dynamodb_endpoint_url
            os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = self.config.dynamodb_endpoint_url
        # The stack's region, whatever the shell's: it names the ARNs and the queue URLs it prints.
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = self.config.region
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "local")
        # botocore would otherwise address DynamoDB Streams by account id, which moto does not serve.
        os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"

    def _provision(self) -> template.Provisioned:
        """Create the template's resources, or adopt them when a running AWS endpoint already has them."""
        saved = self.config.state_path
        if self.config.aws_endpoint_url and saved.exists():
            state = LocalState(**json.loads(saved.read_text()))
            try:
                boto3.client("dynamodb").describe_table(TableName=state.refs["ChatTable"])
            except Exception:  # noqa: BLE001 - anything but an existing table means: provision anew
                pass
            else:
                adopted = state.provisioned()
                self._set_visibility(adopted)
                return adopted
        provisioned = template.provision(
            self.config.prefix, boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("secretsmanager")
        )
        # A new stream: positions saved by an earlier stack mean nothing in it.
        for stale in self.config.state_dir.glob("checkpoints-*.json"):
            stale.unlink()
        self._set_visibility(provisioned)
        return provisioned

    @property
    def snapshot_path(self) -> Path:
        return self.config.state_dir / snapshot.FILE_NAME

    def _restore(self, provisioned: template.Provisioned) -> None:
        if not self.config.keep_tables or self._moto is None or self.config.dynamodb_endpoint_url:
            return
        if self.config.fresh:
            self.snapshot_path.unlink(missing_ok=True)
        began = time.monotonic()
        names = {logical: provisioned.refs[logical] for logical in template.resources(template.load(), _TABLE)}
        tables = snapshot.Tables(names, provisioned.refs["AWS::Region"])
        self.restored = tables.restore(self.snapshot_path)
        self.restored_in = time.monotonic() - began
        self._tables = tables

    def _save(self) -> None:
        if self._tables is None:
            return
        began = time.monotonic()
        try:
            saved = self._tables.save(self.snapshot_path)
        except OSError as error:
            self.log("stack", f"tables not saved: {error}")
            return
        self.log("stack", f"saved {saved} items to {self.snapshot_path} in {time.monotonic() - began:.1f} s")

    def _set_visibility(self, provisioned: template.Provisioned) -> None:
        if self.config.visibility_timeout is None:
            return
        for logical in template.resources(template.load(), "AWS::SQS::Queue"):
            boto3.client("sqs").set_queue_attributes(
                QueueUrl=provisioned.refs[logical],
                Attributes={"VisibilityTimeout": str(self.config.visibility_timeout)},
            )
        # The functions' bound on a room's hold on the tier follows the fan-out queue's (docs/capacity.md).
        provisioned.environment["FANOUT_VISIBILITY_SECONDS"] = str(self.config.visibility_timeout)

    def _serve_invocations(self, provisioned: template.Provisioned) -> None:
        """Lambda Invoke of the template's functions on the embedded endpoint (the review hook's)."""
        if self._moto is not None:
            functions = template.functions()
            resolve = lambda_invoke.resolver(provisioned.refs, provisioned.attrs, functions)
            self._moto.invocations.functions = (resolve, lambda logical, event: self._pool(logical).invoke(event))

    def _invoker(self, function: str) -> Callable[[dict[str, Any]], Any]:
        def invoke(event: dict[str, Any]) -> Any:
            return self._pool(function).invoke(event)

        return invoke

    def _pool(self, function: str) -> WorkerPool:
        pool = self._pools.get(function)
        if pool is None:
            assert self.provisioned is not None
            spec = template.function_spec(function, self.provisioned)
            pool = self._pools.setdefault(
                function,
                WorkerPool(spec, self._worker_environment(), self.log, self.config.workers_per_function),
            )
        return pool

    def _worker_environment(self) -> dict[str, str]:
        keys = [k for k in os.environ if k.startswith("AWS_")]
        return {k: os.environ[k] for k in keys}

    def _start_event_sources(self) -> None:
        assert self.provisioned is not None
        for function, resource in template.resources(template.load(), "AWS::Serverless::Function").items():
            for name, event in resource["Properties"].get("Events", {}).items():
                properties = event.get("Properties", {})
                if event["Type"] == "SQS":
                    for poller in range(self._sqs_pollers(properties)):
                        thread = f"{function}.{name}" + (f"#{poller + 1}" if poller else "")
                        self._sqs_threads.add(thread)
                        self._spawn(thread, self._sqs_loop, thread, function, properties)
                elif event["Type"] == "DynamoDB":
                    self._spawn(f"{function}.{name}", self._stream_loop, function, name, properties)

    def _sqs_pollers(self, properties: dict[str, Any]) -> int:
        """--sqs-pollers N, or 1; a queue with a MaximumConcurrency by one poller per worker of its function,
        up to it, so its batches run in parallel as on AWS: a standard one (the frame windows' flushes), or
        a FIFO one read one message at a time (the fan-out queue's slices: each poller holds at most one
        message, and moto_fifo keeps a group locked while it is in flight, so a group never runs twice)."""
        if self.config.sqs_pollers is not None:
            return max(1, self.config.sqs_pollers)
        assert self.provisioned is not None
        concurrency = properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        fifo = str(self.provisioned.resolve(properties["Queue"])).endswith(".fifo")
        if concurrency is None or (fifo and int(properties.get("BatchSize", 10)) != 1):
            return 1
        return max(1, min(int(self.provisioned.resolve(concurrency)), self.config.workers_per_function))

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=self._guarded, args=(name, target, *args), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guarded(self, name: str, target: Callable[..., None], *args: Any) -> None:
        while not self._stopping.is_set():
            try:
                target(*args)
                return
            except Exception as error:  # noqa: BLE001 - an event source keeps polling, as Lambda's does
                if self._stopping.is_set():
                    return  # the endpoint went away under an abandoned long poll
                self.log(name, f"event source error, retrying: {type(error).__name__}: {error}")
                self._stopping.wait(1)

    def _sqs_loop(self, name: str, function: str, properties: dict[str, Any]) -> None:
        assert self.provisioned is not None
        queue_arn = str(self.provisioned.resolve(properties["Queue"]))
        queue = next(logical for (logical, attr), arn in self.provisioned.attrs.items() if arn == queue_arn)
        source = SqsEventSource(
            self._sqs_client(),
            self.provisioned.refs[queue],
            queue_arn,
            self._invoker(function),
            batch_size=int(properties.get("BatchSize", 10)),
            stopping=self._stopping,
        )
        self._sqs_sources[name] = source
        wait = SQS_WAIT_SECONDS if self._moto is not None else SHARED_SQS_WAIT_SECONDS
        while not self._stopping.is_set():
            source.poll_once(wait_seconds=wait)

    def _sqs_client(self) -> Any:
        """The embedded endpoint's queues are read in process (inprocess_sqs.py), unless ROOMCAST_FAST_MOTO=0."""
        if self._moto is not None and fast_moto.enabled():
            return InProcessSqs(self.config.region)
        return boto3.client("sqs")

    def _streams_client(self) -> Any:
        """The embedded table's stream is read in process (inprocess_streams.py), unless ROOMCAST_FAST_MOTO=0."""
        if self._moto is not None and not self.config.dynamodb_endpoint_url and fast_moto.enabled():
            return InProcessStreams()
        return boto3.client("dynamodbstreams")

    def _join_poller(self, thread: threading.Thread, deadline: float) -> None:
        """Pollers end after their round. An SQS long poll still waiting on the in-process endpoint is
        abandoned (it stops with this process); one on an outside endpoint polls 1 s at a time and is
        waited for, or the messages it receives would stay invisible to a restarted stack."""
        if thread.name in self._sqs_threads and self._moto is not None and not self._sqs_busy(thread.name):
            return
        floor = 1.5 if thread.name in self._sqs_threads else 0.1
        thread.join(timeout=max(floor, deadline - time.monotonic()))

    def _sqs_busy(self, name: str) -> bool:
        source = self._sqs_sources.get(name)
        return source is not None and source.busy

    def _stream_loop(self, function: str, name: str, properties: dict[str, Any]) -> None:
        assert self.provisioned is not None
        checkpoints = self.config.state_dir / f"checkpoints-{function}-{name}.json"
        source = StreamEventSource(
            self._streams_client(),
            str(self.provisioned.resolve(properties["Stream"])),
            self._invoker(function),
            StreamSourceConfig.from_template(properties, self.provisioned),
            sqs_client=boto3.client("sqs"),
            starting_position=str(properties.get("StartingPosition", "LATEST")),
            function_name=function,
        )
        if checkpoints.exists():
            source.restore(json.loads(checkpoints.read_text()))
        saved: dict[str, str] = {}
        while not self._stopping.is_set():
            seen = stream_wakeup.seen()
            began = time.monotonic()
            result = source.poll_once()
            current = source.checkpoints()
            if current != saved:
                # Persisted after every batch, so a restarted stack resumes where this one stopped.
                write_atomically(checkpoints, json.dumps(current))
                saved = current
            if result.read and not result.failed_batches:
                self._stopping.wait(self.config.busy_shard_wait(began, time.monotonic()))
                continue  # more may be waiting
            if result.read or self._moto is None or self.config.dynamodb_endpoint_url:
                self._stopping.wait(self.config.poll_interval)  # a failed batch, or no signal to wait for
            else:
                stream_wakeup.wait_past(seen, max(self.config.poll_interval, STREAM_IDLE_SECONDS))


def _client_url(url: str) -> str:
    """A URL clients on this machine can use: an endpoint bound to every interface is reached on loopback."""
    return url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://127.0.0.1:")
