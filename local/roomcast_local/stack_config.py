"""How a local stack is started: ports, endpoints, state files and the knobs tests turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roomcast_local import template
from roomcast_local.state import default_region
from roomcast_local.ws_gateway import GatewayConfig


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    aws_port: int = 4566
    ws_port: int = 3001
    prefix: str = "roomcast"
    region: str = field(default_factory=default_region)
    # An AWS endpoint that is already running (`python -m roomcast_local aws`): its state outlives
    # this process, so a restarted stack resumes where it stopped. None starts one in-process.
    aws_endpoint_url: str | None = None
    # DynamoDB (and its stream) elsewhere, DynamoDB Local for example.
    dynamodb_endpoint_url: str | None = None
    state_dir: Path = template.ROOT / ".roomcast"
    # The file clients read (ROOMCAST_LOCAL_STATE); None: local-stack.json in state_dir.
    state_file: Path | None = None
    # Lambda polls an idle stream shard four times a second (and reads a busy one back to back); here a
    # poll is a loopback call, so the idle wait is shorter: it was a quarter of a comment's latency.
    poll_interval: float = 0.05
    # A shard that had records is read again this long after its previous read began, not at once:
    # Lambda's next poll comes about 0.25 s after; a comment at 10/s still finds the shard idle.
    stream_batch_window: float = 0.1
    workers_per_function: int = 4
    # Lambda reads an SQS queue with five pollers at first, each handing its batches to an instance of
    # its own. None: 1 (a queue of unordered fan-out slices: see LocalStack._sqs_pollers). Several
    # apply different message groups in parallel, as on AWS, so alice's create and bob's join sent back
    # to back may apply in either order (docs/local.md).
    sqs_pollers: int | None = None
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    # Tests shorten SQS's visibility timeout to see redrive without waiting minutes.
    visibility_timeout: int | None = None
    # Save the embedded endpoint's tables in state_dir on stop and put them back on start (`up` does;
    # not with aws_endpoint_url or dynamodb_endpoint_url, whose endpoints keep their own state).
    keep_tables: bool = False
    fresh: bool = False  # discard the saved tables and start empty
    # Template parameters (up --parameter-overrides KEY=VALUE): the review function's word lists, say.
    parameters: dict[str, str] = field(default_factory=dict)
    # How long stop() lets in-flight invocations finish before it kills their workers.
    stop_grace_seconds: float = 1.0

    def busy_shard_wait(self, began: float, now: float) -> float:
        """The wait before a shard whose read begun at ``began`` had records is read again. Lambda reads it
        at its next poll; at once, a burst reached the StreamFunction one or two comments a batch, which
        cost it twice the CPU per comment (docs/local.md, "Speed of the local pipeline")."""
        return max(0.0, began + self.stream_batch_window - now)

    @property
    def state_path(self) -> Path:
        return self.state_file or self.state_dir / "local-stack.json"
