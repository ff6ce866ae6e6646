"""People using the running local stack in e2e tests: commands on its queue, rooms watched over real WebSockets,
outcomes read back from its table."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import boto3
from websockets.sync.client import ClientConnection, connect

from roomcast.auth import issue_token
from roomcast.models import FRAME_ADAPTER, Command, CommentsFrame, CreateChatRoom, JoinChatRoom, SubscribedFrame
from support import fifo
from support.local_stack import RunningStack, wait_until

__all__ = ["User", "distinct_texts", "frames_until", "in_room", "outcome", "send", "subscribed", "texts", "wait_until"]


class User:
    """Someone using the stack: sends commands to the queue, watches rooms over WebSocket."""

    def __init__(self, stack: RunningStack, name: str, sockets: ExitStack) -> None:
        self.stack, self.name, self.sockets = stack, name, sockets
        self.sqs = boto3.client("sqs")

    def send(self, command: Command | str) -> str:
        queue = self.stack.state.outputs["CommandQueueUrl"]
        message_id: str = self.sqs.send_message(QueueUrl=queue, **fifo.message(command))["MessageId"]
        return message_id

    def watch(self, room: str, since: str | None = None) -> ClientConnection:
        secret_arn = self.stack.state.outputs["JwtSecretArn"]
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        url = f"{self.stack.state.ws_url}?token={issue_token(self.name, secret)}"
        client = self.sockets.enter_context(connect(url, open_timeout=10))
        client.send(json.dumps({"action": "subscribe", "roomId": room, **({"since": since} if since else {})}))
        return client


def frames_until(client: ClientConnection, done: Callable[[list[Any]], bool], timeout: float = 15) -> list[Any]:
    frames: list[Any] = []
    deadline = time.monotonic() + timeout
    while not done(frames):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only got {frames}"
        frames.append(FRAME_ADAPTER.validate_json(client.recv(timeout=remaining)))
    return frames


def texts(frames: list[Any]) -> list[str]:
    return [c.text for f in frames if isinstance(f, CommentsFrame) for c in f.comments]


def distinct_texts(frames: list[Any]) -> list[str]:
    """Each comment once: delivery is at-least-once, so a comment may come by replay and live (clients dedupe)."""
    by_id = {c.comment_id: c.text for f in frames if isinstance(f, CommentsFrame) for c in f.comments}
    return sorted(by_id.values())


def subscribed(client: ClientConnection) -> None:
    frames = frames_until(client, lambda f: any(isinstance(x, SubscribedFrame) for x in f))
    assert isinstance(frames[-1], SubscribedFrame)


def in_room(stack: RunningStack, room: str, sockets: ExitStack, *members: str) -> list[User]:
    users = [User(stack, m, sockets) for m in members]
    users[0].send(CreateChatRoom(room_id=room, user_id=members[0]))
    for user in users[1:]:
        user.send(JoinChatRoom(room_id=room, user_id=user.name))
    history = boto3.client("dynamodb")
    table = stack.state.outputs["ChatTableName"]
    wait_until(
        lambda: all(
            "Item" in history.get_item(TableName=table, Key={"PK": {"S": f"User:{m}"}, "SK": {"S": f"Join:{room}"}})
            for m in members
        ),
        what="joins applied",
    )
    return users


def outcome(stack: RunningStack, command_id: str) -> dict[str, Any]:
    """The recorded outcome of one command, whoever the local producer is (polls until it is recorded)."""
    table = boto3.resource("dynamodb").Table(stack.state.outputs["ChatTableName"])

    def find() -> dict[str, Any] | None:
        items = table.scan(
            FilterExpression="begins_with(PK, :outcome) AND contains(PK, :id)",
            ExpressionAttributeValues={":outcome": "Outcome:cmd#", ":id": f"#{command_id}"},
            ConsistentRead=True,
        )["Items"]
        return items[0] if items else None

    found: dict[str, Any] = wait_until(find, what=f"the outcome of {command_id}")
    return found


def send(user: User, command: Any) -> str:
    command_id = f"e2e-{uuid.uuid4().hex[:12]}"
    user.send(command.model_copy(update={"command_id": command_id}))
    return command_id
