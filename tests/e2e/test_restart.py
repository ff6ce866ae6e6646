"""The stack killed mid-batch and restarted loses no accepted command, and applies none twice."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.domain.ordering import fifo_message
from roomcast.models import AddComment, Command, CreateChatRoom, JoinChatRoom
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from support.local_stack import RunningStack, StackProcess, free_port, stack_environment, start_up

pytestmark = pytest.mark.e2e

COMMENTS = 60


@pytest.fixture
def aws_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An AWS endpoint of its own process: what survives the stack, as AWS survives a Lambda fleet."""
    port = free_port()
    endpoint = StackProcess(["aws", "--aws-port", str(port)], tmp_path / "aws.log", stack_environment(tmp_path, port))
    endpoint.start("AWS endpoint ready")
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    endpoint.stop()


def comments(store: Store, room: str) -> list[str]:
    texts: list[str] = []
    cursor = None
    while True:
        page = history(store, room, "all", limit=100, cursor=cursor)
        texts += [c.text for c in page.comments]
        cursor = page.cursor
        if cursor is None:
            return texts


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.1)


def test_a_stack_killed_mid_batch_loses_no_accepted_command(tmp_path: Path, aws_endpoint: str) -> None:
    first: RunningStack = start_up(tmp_path, aws_endpoint=aws_endpoint)
    try:
        _kill_mid_batch_and_restart(tmp_path, aws_endpoint, first)
    finally:
        first.up.kill()


def _kill_mid_batch_and_restart(tmp_path: Path, aws_endpoint: str, first: RunningStack) -> None:
    state = first.state
    sqs, queue = boto3.client("sqs"), state.outputs["CommandQueueUrl"]
    store = dynamodb_store(state.outputs["ChatTableName"])

    def send(command: Command) -> None:
        sqs.send_message(QueueUrl=queue, **fifo_message(command))

    send(CreateChatRoom(room_id="art", user_id="alice"))
    send(JoinChatRoom(room_id="art", user_id="bob"))
    # generous: the first commands pay the workers' cold start, slow on a loaded machine
    wait_for(lambda: store.rooms.get_room_and_membership("art", "bob")[1] is not None, 60, "bob joined")

    # Given commands the queue has accepted
    for n in range(COMMENTS):
        send(AddComment(room_id="art", user_id="bob", text=f"c{n:03d}"))
    # When the stack dies while it is applying them
    wait_for(lambda: len(comments(store, "art")) > 0, 60, "the first comments applied")
    first.up.kill()
    applied_before_restart = len(comments(store, "art"))

    # Then a restarted stack applies every one of them, and none twice
    second = start_up(tmp_path, aws_endpoint=aws_endpoint)
    try:
        wait_for(lambda: len(comments(store, "art")) >= COMMENTS, 90, "every comment applied")
        time.sleep(3)  # redeliveries after the visibility timeout would show up here
        texts = comments(store, "art")
        assert sorted(texts) == [f"c{n:03d}" for n in range(COMMENTS)]
        assert applied_before_restart < COMMENTS, "the kill came too late to be mid-batch"
    finally:
        second.up.stop()


def test_endpoint_url_puts_the_table_on_another_dynamodb(tmp_path: Path) -> None:
    """--endpoint-url: the table and its stream live elsewhere (DynamoDB Local, say); the rest stays."""
    other = free_port()
    dynamodb = StackProcess(
        ["aws", "--aws-port", str(other)], tmp_path / "dynamodb.log", stack_environment(tmp_path, other)
    )
    dynamodb.start("AWS endpoint ready")
    elsewhere = f"http://127.0.0.1:{other}"
    stack = start_up(tmp_path, "--endpoint-url", elsewhere)
    try:
        state = stack.state
        tables_there = boto3.client("dynamodb", endpoint_url=elsewhere).list_tables()["TableNames"]
        tables_here = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url).list_tables()["TableNames"]
        assert state.outputs["ChatTableName"] in tables_there
        assert tables_here == []

        sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint_url)
        command = CreateChatRoom(room_id="art", user_id="alice")
        sqs.send_message(QueueUrl=state.outputs["CommandQueueUrl"], **fifo_message(command))
        table = boto3.resource("dynamodb", endpoint_url=elsewhere).Table(state.outputs["ChatTableName"])
        # generous, as above: the first command pays the workers' cold start (missed 20 s at load 12)
        wait_for(lambda: "Item" in table.get_item(Key={"PK": "Room:art", "SK": "meta"}), 60, "room created there")
    finally:
        stack.up.stop()
        dynamodb.stop()
