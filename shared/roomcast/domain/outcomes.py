"""What became of a command: the record a producer reads back by its commandId.

Every command delivered to the command function ends in exactly one recorded outcome:
``applied`` (with its event, ``unchanged`` included), ``rejected`` (with the rule's code and
message) or ``deadLettered`` (with the reason). The record is written in the same transaction
as the command's effect, so the two can never disagree, and a command delivered again returns
its first outcome instead of acting twice.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from roomcast.domain.events import Event
from roomcast.domain.shapes import Shape

Status = Literal["applied", "rejected", "deadLettered"]

# Records outlive every way a command can come back: the queue keeps messages 4 days, the DLQ 14,
# and a redrive may follow two more weeks later.
OUTCOME_TTL_SECONDS = 30 * 86_400


class CommandOutcome(Shape):
    """One command's outcome, as stored and as ``roomcast status`` prints it."""

    producer: str
    command_id: str | None = None
    message_id: str
    command_type: str | None = None
    room_id: str | None = None
    user_id: str | None = None
    status: Status
    event: Event | None = None
    code: str | None = None
    message: str | None = None
    recorded_at: str

    def summary(self) -> str:
        """One line: ``applied commentAdded``, ``unchanged AlreadyMember``, ``rejected NotAMember: ...``."""
        if self.status == "applied" and self.event is not None:
            if self.event.type == "unchanged":
                return f"unchanged {self.event.reason}"
            return f"applied {self.event.type}"
        return f"{self.status} {self.code}: {self.message}"


def producer_of(sender_id: str) -> str:
    """The producer a command belongs to: the IAM principal that sent it, without the session name
    (every task or instance of one service shares its role, so they share one commandId space)."""
    return sender_id.split(":", 1)[0] or "unknown"


def outcome_key(producer: str, command_id: str | None, message_id: str) -> str:
    """commandIds are scoped per producer; a command without one is known by its SQS message only."""
    if command_id:
        return f"cmd#{producer}#{command_id}"
    return f"sqs#{message_id}"


def fingerprint(command_json: str) -> str:
    """Tells the same command from another one that reuses its commandId."""
    return hashlib.sha256(command_json.encode()).hexdigest()[:32]
