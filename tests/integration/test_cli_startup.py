"""What `roomcast` imports for each kind of call: its start-up is mostly imports, so each verb loads only
what it uses (how long that takes is measured in bench/cli.py, not here).

Each call runs in a fresh interpreter against a queue on moto's server, found through a state file as
`make run` publishes it; with the ``console`` fixture, the stack's console answers at the state file's
callback_url too, as it does on a running stack.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError

from roomcast_local.state import LocalState
from support.cli_imports import imported, probe
from support.console_gateway import RecordingConsole, console_gateway

pytestmark = pytest.mark.integration


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


class WithConsole(NamedTuple):
    queue: Queue
    console: RecordingConsole


@pytest.fixture
def console(queue: Queue) -> Iterator[WithConsole]:
    """The same queue, and the local stack's console in front of it, named by the state file."""
    state_file = Path(queue.environment["ROOMCAST_LOCAL_STATE"])
    with console_gateway(state_file) as (url, recording):
        state = LocalState(**json.loads(state_file.read_text()))
        dataclasses.replace(state, callback_url=url).save(state_file)
        yield WithConsole(queue, recording)


def test_a_publish_through_the_stacks_console_imports_neither_pydantic_nor_botocore(console: WithConsole) -> None:
    queue = console.queue
    status, out, modules = imported(queue.environment, "comment", "art", "hello", "--user", "bob")

    assert (status, modules) == (0, [])
    messages = queue.sqs.receive_message(QueueUrl=queue.url).get("Messages", [])
    assert [json.loads(message["Body"])["commandId"] for message in messages] == [out.strip()]
    assert [body["commandId"] for body in console.console.bodies] == [out.strip()]


def test_a_moderation_verb_through_the_console_imports_neither_either(console: WithConsole) -> None:
    status, out, modules = imported(console.queue.environment, "ban", "art", "carol", "--user", "bob", "--for", "60")

    assert (status, modules) == (0, ["roomcast_cli.moderate"])
    [body] = console.console.bodies
    assert body == {
        "type": "banUser",
        "roomId": "art",
        "userId": "bob",
        "targetUserId": "carol",
        "durationSeconds": 60,
        "commandId": out.strip(),
    }


def test_a_command_the_console_refuses_is_one_line_and_loads_no_pydantic_here(console: WithConsole) -> None:
    done = probe(console.queue.environment, "join", "a#b", "--user", "bob")

    *message, report = done.stderr.splitlines()
    assert (done.returncode, done.stdout, json.loads(report)) == (1, "", [])
    assert message == ["roomcast: invalid command: roomId: String should match pattern '^[A-Za-z0-9_.-]{1,64}$'"]
    assert console.queue.sqs.receive_message(QueueUrl=console.queue.url).get("Messages", []) == []
