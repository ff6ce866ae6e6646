"""The command function reads its comments' rooms and memberships once a batch, on each backend (issue 13).

A batch of comments costs two reads (outcome records, rooms and joins) and a transaction each, where
each comment read its room and membership before. The read ahead must change nothing but the count:
the same batch with the read ahead refused (each comment then reads its own) comes out the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from roomcast.adapters import aws_clients
from roomcast.adapters.dynamodb.keys import JOIN_PREFIX
from roomcast.domain.commands import Command
from roomcast.edges import batch_rooms
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom, LeaveChatRoom, MuteUser
from roomcast.usecases.history import history
from support.stack import Stack

pytestmark = pytest.mark.integration

AUTHORS = [f"u{n}" for n in range(10)]
OPERATIONS = ("GetItem", "BatchGetItem", "TransactWriteItems", "PutItem", "UpdateItem", "Query")


class Requests:
    """The function's DynamoDB requests, by operation; ``refuse_ahead`` fails the next read of several joins."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.refuse_ahead = False
        self.watched: list[Any] = []

    def watch(self) -> None:
        events = aws_clients.dynamodb().meta.events
        for operation in OPERATIONS:
            events.register(f"before-call.dynamodb.{operation}", self.hook)
        self.watched.append(events)

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1
        if self.refuse_ahead and model.name == "BatchGetItem" and JOIN_PREFIX in (params["body"] or b"").decode():
            self.refuse_ahead = False
            error = {"Error": {"Code": "ValidationException", "Message": "refused by the test"}}
            return AWSResponse("https://dynamodb", 400, {}, None), error
        return None


@pytest.fixture
def requests(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Requests]:
    """Counted from ``requests.watch()`` on: once the function has built its clients (by a first invoke).
    A pair read ahead does not age here: the counts must not depend on the machine's speed."""
    monkeypatch.setattr(batch_rooms, "HELD_MS", 10**9)
    state = Requests()
    yield state
    for events in state.watched:
        for operation in OPERATIONS:
            events.unregister(f"before-call.dynamodb.{operation}", state.hook)


def run(stack: Stack, *commands: Command) -> list[str]:
    """One batch through the function; the failed message ids."""
    stack.send(*commands)
    answer = stack.invoke("CommandFunction", stack.receive_event(len(commands)))
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def open_room(stack: Stack, room: str, *members: str) -> None:
    assert run(stack, CreateChatRoom(room_id=room, user_id="alice")) == []
    if members:
        assert run(stack, *(JoinChatRoom(room_id=room, user_id=member) for member in members)) == []


def texts(stack: Stack, room: str) -> list[str]:
    return [c.text for c in history(stack.store, room).comments]


@pytest.mark.parametrize("authors", [["alice"] * 10, AUTHORS], ids=["one-author", "ten-authors"])
def test_a_batch_of_ten_comments_makes_twelve_requests(stack: Stack, requests: Requests, authors: list[str]) -> None:
    open_room(stack, "art", *(a for a in set(authors) if a != "alice"))
    requests.watch()

    assert run(stack, *(AddComment(room_id="art", user_id=a, text=f"c{n}") for n, a in enumerate(authors))) == []

    assert requests.calls == {"BatchGetItem": 2, "TransactWriteItems": 10}
    assert sorted(texts(stack, "art")) == sorted(f"c{n}" for n in range(10))


def scenario(room: str) -> list[Command]:
    """Comments around a mute and a leave, in one batch: what each comment may see changes within it."""
    return [
        AddComment(room_id=room, user_id="alice", text="a0"),
        AddComment(room_id=room, user_id="alice", text="a1"),
        AddComment(room_id=room, user_id="bob", text="b0"),
        MuteUser(room_id=room, user_id="alice", target_user_id="bob"),
        AddComment(room_id=room, user_id="bob", text="b1"),  # muted: rejected
        AddComment(room_id=room, user_id="carol", text="c0"),
        LeaveChatRoom(room_id=room, user_id="carol"),
        AddComment(room_id=room, user_id="carol", text="c1"),  # no longer a member: retried, as maybe early
        AddComment(room_id=room, user_id="alice", text="a2"),
    ]


def test_a_mixed_batch_comes_out_as_with_a_read_per_comment(stack: Stack, requests: Requests) -> None:
    open_room(stack, "art", "bob", "carol")
    open_room(stack, "bee", "bob", "carol")
    requests.watch()

    ahead = run(stack, *scenario("art"))
    requests.refuse_ahead = True
    per_command = run(stack, *scenario("bee"))

    assert requests.refuse_ahead is False  # the second batch's read ahead was refused: each comment read its own
    assert texts(stack, "art") == texts(stack, "bee") == ["a0", "a1", "b0", "c0", "a2"]
    assert len(ahead) == len(per_command) == 1


def test_a_failed_read_ahead_falls_back_to_a_read_per_comment(stack: Stack, requests: Requests) -> None:
    open_room(stack, "art", "bob")
    requests.watch()
    requests.refuse_ahead = True

    assert run(stack, *(AddComment(room_id="art", user_id="bob", text=f"c{n}") for n in range(3))) == []

    # the outcome records and the refused read ahead, then per comment its read and its transaction
    assert requests.calls == {"BatchGetItem": 5, "TransactWriteItems": 3}
    assert texts(stack, "art") == ["c0", "c1", "c2"]


def test_a_room_deleted_elsewhere_is_seen_once_the_pair_read_ahead_is_too_old(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The comment's transaction checks the join item only, and a deletion leaves the joins to the
    # cleanup: a pair read ahead longer than HELD_MS ago is read again (here: any, however recent).
    open_room(stack, "art", "bob")
    monkeypatch.setattr(batch_rooms, "HELD_MS", -1)
    other = boto3.client("dynamodb")  # another invocation's delete, between the batch's two comments
    written: list[str] = []

    def after(**_: Any) -> None:
        written.append("comment")
        if len(written) == 1:
            other.delete_item(TableName=stack.table_name, Key={"PK": {"S": "Room:art"}, "SK": {"S": "meta"}})

    events = aws_clients.dynamodb().meta.events
    events.register("after-call.dynamodb.TransactWriteItems", after)
    try:
        failed = run(
            stack,
            AddComment(room_id="art", user_id="bob", text="before"),
            AddComment(room_id="art", user_id="bob", text="after"),
        )
    finally:
        events.unregister("after-call.dynamodb.TransactWriteItems", after)

    assert len(failed) == 1 and written == ["comment"]  # the second is retried as maybe early: no room
