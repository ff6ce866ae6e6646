"""The small set of domain exceptions.

Adapters translate botocore's ClientError codes into these; each edge maps them to an
outcome once (command intake: DLQ reason, metric or retry; WebSocket: error frame; CLI: message).
"""

from __future__ import annotations


class RoomcastError(Exception):
    """Base of every domain error. ``code`` is stable and public (metrics, frames, DLQ)."""

    code = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCommand(RoomcastError):
    """A message that can never succeed: not JSON, unknown type, bad field. Goes to the DLQ at once."""

    code = "InvalidCommand"


class InvalidRequest(RoomcastError):
    """A query with bad arguments, such as a cursor that was not issued by Roomcast."""

    code = "InvalidRequest"


class Rejected(RoomcastError):
    """A valid command that the rules refuse. Logged and counted, never retried."""

    code = "Rejected"


class RoomAlreadyExists(Rejected):
    code = "RoomAlreadyExists"


class RoomNotFound(Rejected):
    code = "RoomNotFound"


class NotRoomCreator(Rejected):
    code = "NotRoomCreator"


class NotAMember(Rejected):
    code = "NotAMember"


class AlreadyRecorded(RoomcastError):
    """The command's outcome is already recorded: this delivery is a duplicate, and changes nothing."""

    code = "AlreadyRecorded"


class TransientError(RoomcastError):
    """Throttling, timeouts, conflicts: the same request may succeed later, so it is retried."""

    code = "Transient"


class Unauthorized(RoomcastError):
    """A caller without a valid Roomcast token: no token, bad signature, expired, wrong claims."""

    code = "Unauthorized"


class ConnectionGone(RoomcastError):
    """API Gateway answered 410 for a WebSocket connection: it is closed, so its items are removed."""

    code = "Gone"


class PostRefused(RoomcastError):
    """A post that no retry can fix (payload too large, forbidden): logged, never retried."""

    code = "PostRefused"


# ---- moderation (docs/moderation.md) ----------------------------------------------------


class NotModerator(Rejected):
    """A moderation command by someone who may not moderate the room, or one aimed at its creator."""

    code = "NotModerator"


class CommentNotFound(Rejected):
    code = "CommentNotFound"


class Banned(Rejected):
    """Join, comment, subscribe or history by a user banned from the room's current incarnation."""

    code = "Banned"


class Muted(Rejected):
    code = "Muted"


class SlowMode(Rejected):
    code = "SlowMode"


class Denied(Rejected):
    """The room's review function refused the comment."""

    code = "Denied"


class ReviewUnavailable(Rejected):
    """The review function failed or ran out of its budget in a failClosed room."""

    code = "ReviewUnavailable"
