"""Order per author: which FIFO message group a command travels in, and how a producer sends one.

The command queue is a FIFO queue. One author's commands in one room share a message group
(``<roomId>#<userId>``, the acting user), so SQS and Lambda hand them over in the order they were
sent, one batch in flight per group; other authors and rooms run in parallel. ``#`` cannot occur in
an id (domain/ids.py), so the group names one room and one author only.
"""

from __future__ import annotations

import uuid
from typing import Any

from roomcast.domain.commands import Command
from roomcast.domain.ids import lowest_ulid, ulid_ms

# SQS FIFO limit on MessageGroupId and MessageDeduplicationId: 128 characters. Two ids of at most 64
# and the separator fit; a commandId (at most 128) fits as a deduplication id.
MAX_GROUP_ID_CHARS = 128


def message_group(command: Command) -> str:
    """The FIFO message group of a command: its room and its acting user."""
    return f"{command.room_id}#{command.user_id}"


def fifo_message(command: Command) -> dict[str, Any]:
    """SendMessage's arguments for a command, but for the queue URL: body, group and deduplication id.

    The deduplication id is the commandId, so SQS drops a re-send within its 5-minute window (the
    outcome record covers every later one). A command without a commandId gets a fresh one: two equal
    comments must not be taken for one."""
    return {
        "MessageBody": command.model_dump_json(by_alias=True, exclude_none=True),
        "MessageGroupId": message_group(command),
        "MessageDeduplicationId": command.command_id or uuid.uuid4().hex,
    }


def group_mismatch(command: Command, group_id: str | None) -> str | None:
    """Why a message travelled in the wrong group (a reason for the DLQ), or None when it did not.

    A command in another group than its own could overtake, or be overtaken by, its author's other
    commands: applying it would break the order silently, so it is refused."""
    expected = message_group(command)
    if group_id == expected:
        return None
    if group_id is None:
        return f"no MessageGroupId: a {command.type} must be sent in group {expected!r}"
    return f"MessageGroupId {group_id!r} is not the command's group {expected!r}"


def replay_floor(since: str, window_ms: int) -> str:
    """The lowest position ``window_ms`` before ``since``: a resume replays from here, because a comment
    can commit (and reach a client) after one positioned later (docs/websocket.md, gapless resume)."""
    return lowest_ulid(max(0, ulid_ms(since) - window_ms))


def position_time(now_ms: int, last_position: str | None) -> int:
    """The millisecond a member's next comment is positioned at: now, but always after their last one.

    Instances' clocks differ: a comment handled on a slower clock than the author's previous one
    would otherwise sort before it. A millisecond past the last is enough, since a ULID's time comes
    before its random part; the write checks it against the stored last position (adapters)."""
    if last_position is None:
        return now_ms
    return max(now_ms, ulid_ms(last_position) + 1)
