"""What `roomcast` imports for each kind of call: its start-up is mostly imports, so each verb loads only
what it uses (how long that takes is measured in bench/cli.py, not here).

Each call runs in a fresh interpreter against a queue on moto's server, found through a state file as
`make run` publishes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError

from roomcast_local.state import LocalState

pytestmark = pytest.mark.integration

# Runs the CLI, then reports which of these top-level packages it had imported.
PROBE = """
import sys
from roomcast_cli.main import main
status = main(sys.argv[1:])
watched = {"boto3", "botocore", "pydantic", "jwt", "websockets", "aiohttp", "moto", "yaml", "cfn_flip"}
watched.add("roomcast_local")
# Modules, by their full name: the facade and what only other verbs use.
watched |= {"roomcast.models", "roomcast.wire", "roomcast.domain.events", "roomcast_cli.watch"}
watched |= {"roomcast_cli.history", "roomcast_cli.invoke", "roomcast_cli.moderate", "botocore.client"}
loaded = {name.split(".")[0] for name in sys.modules} | set(sys.modules)
print(json.dumps(sorted(watched & loaded)), file=sys.stderr)
sys.exit(status)
"""


class Queue(NamedTuple):
    url: str
    environment: dict[str, str]  # the test's, with the state file that leads the CLI to the queue
    sqs: Any


@pytest.fixture
def queue(moto_server: str, tmp_path: Path) -> Queue:
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    queue_url = sqs.create_queue(QueueName=f"startup-{tmp_path.name}")["QueueUrl"]
    state = tmp_path / "local-stack.json"
    LocalState(
        aws_endpoint_url=moto_server,
        ws_url="ws://127.0.0.1:1/v1",
        callback_url="http://127.0.0.1:1/@connections",
        region="eu-west-1",
        refs={},
        attrs={},
        environment={},
        outputs={"CommandQueueUrl": queue_url},
    ).save(state)
    return Queue(queue_url, {**os.environ, "ROOMCAST_LOCAL_STATE": str(state)}, sqs)


def probe(environment: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import json\n{PROBE}", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def imported(environment: dict[str, str], *argv: str) -> tuple[int, str, list[str]]:
    done = probe(environment, *argv)
    *_, report = done.stderr.splitlines()
    return done.returncode, done.stdout, json.loads(report)


def test_help_imports_none_of_the_verbs_libraries(queue: Queue) -> None:
    status, out, modules = imported(queue.environment, "--help")

    # It lists every verb, so it loads every verb's module, but none of what they import when they run.
    verbs = ["roomcast_cli.history", "roomcast_cli.invoke", "roomcast_cli.moderate", "roomcast_cli.watch"]
    assert (status, modules) == (0, verbs)
    assert out.startswith("usage: roomcast")


def test_a_publish_imports_its_command_model_and_botocore_only(queue: Queue) -> None:
    status, out, modules = imported(queue.environment, "comment", "art", "hello", "--user", "bob")

    assert (status, modules) == (0, ["botocore", "pydantic"])
    messages = queue.sqs.receive_message(QueueUrl=queue.url).get("Messages", [])
    assert [json.loads(message["Body"])["commandId"] for message in messages] == [out.strip()]


def test_a_refused_command_sends_nothing_and_loads_no_aws_client(queue: Queue) -> None:
    status, _, modules = imported(queue.environment, "join", "a#b", "--user", "bob")

    assert (status, modules) == (1, ["pydantic"])


def test_a_moderation_verb_loads_its_module_and_no_other_verbs(queue: Queue) -> None:
    status, out, modules = imported(queue.environment, "mute", "art", "carol", "--user", "bob")

    assert (status, modules) == (0, ["botocore", "pydantic", "roomcast_cli.moderate"])
    messages = queue.sqs.receive_message(QueueUrl=queue.url).get("Messages", [])
    assert [json.loads(message["Body"])["commandId"] for message in messages] == [out.strip()]


def test_a_refused_send_is_sent_again_by_botocores_client_and_worded_as_its_error(queue: Queue) -> None:
    queue.sqs.delete_queue(QueueUrl=queue.url)
    with pytest.raises(ClientError) as refused:
        queue.sqs.send_message(QueueUrl=queue.url, MessageBody="{}")
    error = refused.value.response["Error"]

    done = probe(queue.environment, "join", "art", "--user", "bob")

    *message, report = done.stderr.splitlines()
    assert (done.returncode, done.stdout, json.loads(report)) == (1, "", ["botocore", "botocore.client", "pydantic"])
    assert message == [f"roomcast: {error['Code']}: {error['Message']}"]
