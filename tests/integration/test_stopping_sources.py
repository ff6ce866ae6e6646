"""What an SQS event source does with messages it holds as the stack stops: they go back on the queue at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from roomcast.models import CreateChatRoom
from roomcast_local.sqs_source import BatchResult, SqsEventSource
from roomcast_local.workers import FunctionError
from support.stack import Stack

pytestmark = pytest.mark.integration


def source(stack: Stack, invoke: Any, stopping: threading.Event) -> SqsEventSource:
    arn = stack.provisioned.attrs[("CommandQueue", "Arn")]
    return SqsEventSource(stack.sqs, stack.url("CommandQueue"), arn, invoke, stopping=stopping)


def visible_now(stack: Stack) -> int:
    """Messages receivable at once: the template's 180 s visibility timeout hides any other."""
    found = stack.sqs.receive_message(QueueUrl=stack.url("CommandQueue"), MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return len(found.get("Messages", []))


def test_a_batch_received_once_stopping_is_not_invoked_and_goes_back(stack: Stack) -> None:
    stack.send(CreateChatRoom(room_id="art", user_id="alice"))
    stopping = threading.Event()
    stopping.set()
    invoked: list[dict[str, Any]] = []

    result = source(stack, invoked.append, stopping).poll_once()

    assert (result, invoked) == (BatchResult(received=1, failed=1), [])
    assert visible_now(stack) == 1


def test_a_batch_failed_as_the_stack_stops_goes_back_at_once(stack: Stack) -> None:
    stack.send(CreateChatRoom(room_id="art", user_id="alice"), CreateChatRoom(room_id="music", user_id="bob"))
    stopping = threading.Event()

    def stopped_under_it(event: dict[str, Any]) -> Any:
        stopping.set()
        raise FunctionError("CommandFunction: the stack is stopping")

    result = source(stack, stopped_under_it, stopping).poll_once()

    assert result.failed == result.received > 0
    assert visible_now(stack) == 2


def test_a_batch_failed_while_running_waits_for_the_visibility_timeout(stack: Stack) -> None:
    stack.send(CreateChatRoom(room_id="art", user_id="alice"))

    def fails(event: dict[str, Any]) -> Any:
        raise FunctionError("CommandFunction: boom")

    assert source(stack, fails, threading.Event()).poll_once() == BatchResult(received=1, failed=1)
    assert visible_now(stack) == 0
