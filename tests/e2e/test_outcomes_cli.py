"""Outcomes a producer can read, through the `roomcast` CLI on the running local stack (FIFO queue)."""

from __future__ import annotations

import subprocess
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from roomcast.models import CreateChatRoom
from support import fifo
from support.cli_local import roomcast
from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e
APPLIED, ERROR, REJECTED, DEAD_LETTERED = 0, 1, 3, 4


def run(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return roomcast(stack, *args, timeout=120)


def test_wait_prints_applied_unchanged_and_rejected_outcomes(stack: RunningStack) -> None:
    room = f"wait-{uuid.uuid4().hex[:8]}"

    created = run(stack, "create-room", room, "--user", "alice", "--command-id", f"{room}-1", "--wait")
    again = run(stack, "join", room, "--user", "alice", "--wait")
    taken = run(stack, "create-room", room, "--user", "bob", "--wait")
    # bob never joined: refused once the last delivery gives up waiting for a join (2 + 4 + 8 + 16 s)
    outsider = run(stack, "comment", room, "hello?", "--user", "bob", "--wait", "--timeout", "100")

    assert (created.returncode, created.stdout) == (APPLIED, f"{room}-1 applied chatRoomCreated\n")
    assert again.returncode == APPLIED and again.stdout.endswith(" unchanged AlreadyMember\n")
    assert taken.returncode == REJECTED
    assert taken.stdout.endswith(f" rejected RoomAlreadyExists: room {room!r} already exists\n")
    assert outsider.returncode == REJECTED and " rejected NotAMember: " in outsider.stdout


def test_status_reads_an_outcome_again_and_says_when_there_is_none(stack: RunningStack) -> None:
    room = f"status-{uuid.uuid4().hex[:8]}"
    assert run(stack, "create-room", room, "--user", "alice", "--command-id", f"{room}-c", "--wait").returncode == 0

    found = run(stack, "status", f"{room}-c")
    missing = run(stack, "status", f"{room}-never-sent")

    assert (found.returncode, found.stdout) == (APPLIED, f"{room}-c applied chatRoomCreated\n")
    assert missing.returncode == ERROR and "no outcome recorded for" in missing.stderr


def test_status_reports_a_dead_letter_with_its_reason(stack: RunningStack) -> None:
    sqs, queue = boto3.client("sqs"), stack.state.outputs["CommandQueueUrl"]
    room = f"dead-{uuid.uuid4().hex[:8]}"
    # A command in another group than its own room and author: it could overtake their commands
    command = CreateChatRoom(room_id=room, user_id="alice", command_id=f"{room}-g")
    sqs.send_message(QueueUrl=queue, **{**fifo.message(command), "MessageGroupId": room})
    sqs.send_message(QueueUrl=queue, **fifo.message(f'{{"type": "addComment", "commandId": "{room}-x"}}'))

    wrong_group = run(stack, "status", f"{room}-g", "--wait", "60")
    invalid = run(stack, "status", f"{room}-x", "--wait", "60")

    assert wrong_group.returncode == DEAD_LETTERED
    assert wrong_group.stdout == (
        f"{room}-g deadLettered WrongMessageGroup: MessageGroupId {room!r} is not the command's group '{room}#alice'\n"
    )
    assert invalid.returncode == DEAD_LETTERED and " deadLettered InvalidCommand: " in invalid.stdout


def test_a_producer_sending_the_old_way_is_refused_by_sqs(stack: RunningStack) -> None:
    body = CreateChatRoom(room_id="old-way", user_id="alice").model_dump_json(by_alias=True, exclude_none=True)

    with pytest.raises(ClientError, match="MessageGroupId"):
        boto3.client("sqs").send_message(QueueUrl=stack.state.outputs["CommandQueueUrl"], MessageBody=body)
