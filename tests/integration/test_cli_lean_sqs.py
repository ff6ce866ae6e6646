"""The CLI's SendMessage without botocore's client (roomcast_cli/lean_sqs.py), against moto's server over HTTP:
what it sends is what botocore's client sends, and every failure is None (the caller then sends through
botocore's client, which says what went wrong)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from roomcast.domain.commands import AddComment
from roomcast.domain.ordering import fifo_message
from roomcast_cli.lean_sqs import _credentials, send_message
from roomcast_local.processes import free_port

pytestmark = pytest.mark.integration

COMMENT = AddComment(room_id="art", user_id="bob", text='hé "quoted" ✓', command_id="c-1")


@pytest.fixture
def sqs(moto_server: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_server)


def fifo_queue(sqs: Any, name: str) -> str:
    attributes = {"FifoQueue": "true"}
    return str(sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"])


def received(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    names = ["MessageGroupId", "MessageDeduplicationId"]
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=names)
    return [
        {"id": m["MessageId"], "body": m["Body"], **{k: m["Attributes"][k] for k in names}}
        for m in answer.get("Messages", [])
    ]


def test_a_command_arrives_as_botocore_would_send_it(moto_server: str, sqs: Any) -> None:
    lean, client = fifo_queue(sqs, "lean"), fifo_queue(sqs, "client")

    message_id = send_message(moto_server, sqs.meta.region_name, lean, fifo_message(COMMENT))
    sent = sqs.send_message(QueueUrl=client, **fifo_message(COMMENT))

    (by_lean,), (by_client,) = received(sqs, lean), received(sqs, client)
    assert by_lean.pop("id") == message_id
    assert by_client.pop("id") == sent["MessageId"]
    assert by_lean == by_client
    assert by_lean["body"] == COMMENT.model_dump_json(by_alias=True, exclude_none=True)
    assert json.loads(by_lean["body"])["text"] == 'hé "quoted" ✓'
    assert by_lean["MessageGroupId"] == "art#bob"


def test_a_queue_that_does_not_exist_is_none(moto_server: str, sqs: Any) -> None:
    missing = fifo_queue(sqs, "gone")
    sqs.delete_queue(QueueUrl=missing)

    assert send_message(moto_server, sqs.meta.region_name, missing, fifo_message(COMMENT)) is None


def test_nothing_listening_is_none(sqs: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    assert send_message(dead, "eu-west-1", f"{dead}/123456789012/q.fifo", fifo_message(COMMENT)) is None


def test_an_answer_that_is_not_sendmessages_is_none(moto_server: str, sqs: Any) -> None:
    # moto's dashboard answers 200 with HTML: not a MessageId.
    queue_url = fifo_queue(sqs, "html")

    assert send_message(f"{moto_server}/moto-api", sqs.meta.region_name, queue_url, fifo_message(COMMENT)) is None
    assert received(sqs, queue_url) == []


def test_it_signs_with_the_environments_credentials_else_the_emulators_fake_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    assert _credentials() == ("AKIDEXAMPLE", "secret", "token")

    monkeypatch.delenv("AWS_SESSION_TOKEN")
    assert _credentials() == ("AKIDEXAMPLE", "secret", None)

    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")  # one without the other is none, as for target.Target
    assert _credentials() == ("local", "local", None)
