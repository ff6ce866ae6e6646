"""The command function reads a batch's outcome records in one BatchGetItem, on each backend (issue 13).

The read ahead replaces a GetItem before each command; what it must keep: a command delivered again
changes nothing, a duplicate within the batch is applied once, and a failed read ahead costs only
speed (each command then reads its own record).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from roomcast.adapters import aws_clients
from roomcast.adapters.dynamodb.keys import OUTCOME_PREFIX
from roomcast.models import AddComment, CreateChatRoom
from roomcast.usecases.history import history
from support.stack import Stack

pytestmark = pytest.mark.integration


class OutcomeReads:
    """Counts the requests that read outcome records, by operation; ``refuse`` fails the batch reads."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.refuse = False

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if OUTCOME_PREFIX not in json.dumps(json.loads(params["body"] or b"{}")):
            return None
        self.calls[model.name] = self.calls.get(model.name, 0) + 1
        if self.refuse and model.name == "BatchGetItem":
            error = {"Error": {"Code": "ValidationException", "Message": "refused by the test"}}
            return AWSResponse("https://dynamodb", 400, {}, None), error
        return None


@pytest.fixture
def room(stack: Stack) -> Stack:
    """Given room art, created by alice, through the function itself (which builds its clients)."""
    stack.send(CreateChatRoom(room_id="art", user_id="alice"))
    assert stack.invoke("CommandFunction", stack.receive_event(1)) == {"batchItemFailures": []}
    return stack


@pytest.fixture
def reads(room: Stack) -> Iterator[OutcomeReads]:
    state = OutcomeReads()
    events = aws_clients.dynamodb().meta.events
    for operation in ("GetItem", "BatchGetItem"):
        events.register(f"before-call.dynamodb.{operation}", state.hook)
    yield state
    for operation in ("GetItem", "BatchGetItem"):
        events.unregister(f"before-call.dynamodb.{operation}", state.hook)


def texts(stack: Stack) -> list[str]:
    return [c.text for c in history(stack.store, "art").comments]


def comments(count: int) -> list[AddComment]:
    return [AddComment(room_id="art", user_id="alice", text=f"c{n}", command_id=f"ra-{n}") for n in range(count)]


def test_a_batch_reads_its_outcome_records_in_one_request(room: Stack, reads: OutcomeReads) -> None:
    room.send(*comments(10))
    event = room.receive_event(10)

    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}
    assert reads.calls == {"BatchGetItem": 1}
    assert texts(room) == [f"c{n}" for n in range(10)]

    # Delivered again: the records read ahead are the applied ones, and nothing is written twice
    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}
    assert texts(room) == [f"c{n}" for n in range(10)]


def test_a_duplicate_in_the_batch_reads_its_record_again(room: Stack, reads: OutcomeReads) -> None:
    # Past SQS's deduplication: the same command twice in one batch, the outcome record decides
    [once] = comments(1)
    room.send(once, once, fresh=True)

    assert room.invoke("CommandFunction", room.receive_event(2)) == {"batchItemFailures": []}
    assert texts(room) == ["c0"]
    assert reads.calls == {"BatchGetItem": 1, "GetItem": 1}


def test_a_failed_read_ahead_falls_back_to_a_read_per_command(room: Stack, reads: OutcomeReads) -> None:
    reads.refuse = True
    room.send(*comments(3))
    event = room.receive_event(3)

    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}
    assert texts(room) == ["c0", "c1", "c2"]
    assert reads.calls == {"BatchGetItem": 1, "GetItem": 3}
    # and a delivery again still finds every record
    assert room.invoke("CommandFunction", event) == {"batchItemFailures": []}
    assert texts(room) == ["c0", "c1", "c2"]
