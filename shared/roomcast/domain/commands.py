"""Commands producers send, named as orders. One JSON object per SQS message, camelCase."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, model_validator

from roomcast.domain.chat import ReviewMode
from roomcast.domain.ids import CommandId, Id, Position
from roomcast.domain.shapes import Shape

# 2,000 characters are at most 8,000 bytes of UTF-8: one comment always fits a 32 KB WebSocket frame.
MAX_TEXT_CHARS = 2_000
# Every Unicode control (Cc: C0, DEL and C1) but tab, newline and carriage return, and the bidi
# controls (marks, embeddings, overrides, isolates): a U+202E in a comment reverses what others read.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Categories that draw nothing: separators, format characters (zero-width space, joiners), marks
# with no base, unassigned and private use.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me", "Cn", "Co"})
# Letters and symbols that render blank (Hangul fillers, the braille blank).
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(char: str) -> bool:
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES and char not in _BLANK_CHARACTERS


def _check_text(text: str) -> str:
    if _FORBIDDEN_CONTROL.search(text):
        raise ValueError(
            "text must not contain control characters other than tab, newline and carriage return, "
            "nor bidirectional controls"
        )
    if not any(_visible(char) for char in text):
        raise ValueError("text must not be blank (it has nothing visible)")
    return text


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_check_text)]


class _Command(Shape):
    model_config = ConfigDict(extra="forbid")

    room_id: Id
    user_id: Id
    command_id: CommandId | None = None


class CreateChatRoom(_Command):
    type: Literal["createChatRoom"] = "createChatRoom"


class DeleteChatRoom(_Command):
    type: Literal["deleteChatRoom"] = "deleteChatRoom"


class JoinChatRoom(_Command):
    type: Literal["joinChatRoom"] = "joinChatRoom"


class LeaveChatRoom(_Command):
    type: Literal["leaveChatRoom"] = "leaveChatRoom"


class AddComment(_Command):
    type: Literal["addComment"] = "addComment"
    text: Text


# ---- moderation (docs/moderation.md) ----------------------------------------------------

# A ban or mute lasts at most a year when timed; leave durationSeconds out for a permanent one.
MAX_SANCTION_SECONDS = 366 * 86_400
MAX_REASON_CHARS = 500
Duration = Annotated[int, Field(ge=1, le=MAX_SANCTION_SECONDS)]


class DeleteComment(_Command):
    type: Literal["deleteComment"] = "deleteComment"
    comment_id: Position


class _Targeted(_Command):
    target_user_id: Id


class AddModerator(_Targeted):
    type: Literal["addModerator"] = "addModerator"


class RemoveModerator(_Targeted):
    type: Literal["removeModerator"] = "removeModerator"


class BanUser(_Targeted):
    type: Literal["banUser"] = "banUser"
    duration_seconds: Duration | None = None
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS), AfterValidator(_check_text)] | None = None


class UnbanUser(_Targeted):
    type: Literal["unbanUser"] = "unbanUser"


class MuteUser(_Targeted):
    type: Literal["muteUser"] = "muteUser"
    duration_seconds: Duration | None = None


class UnmuteUser(_Targeted):
    type: Literal["unmuteUser"] = "unmuteUser"


class SetRoomPolicy(_Command):
    """Changes what it names; leaves the rest of the policy as it is."""

    type: Literal["setRoomPolicy"] = "setRoomPolicy"
    slow_mode_seconds: Annotated[int, Field(ge=0, le=120)] | None = None
    review_mode: ReviewMode | None = None

    @model_validator(mode="after")
    def _names_something(self) -> SetRoomPolicy:
        if self.slow_mode_seconds is None and self.review_mode is None:
            raise ValueError("setRoomPolicy needs slowModeSeconds or reviewMode")
        return self


ModerationCommand: TypeAlias = (
    DeleteComment | AddModerator | RemoveModerator | BanUser | UnbanUser | MuteUser | UnmuteUser | SetRoomPolicy
)

Command: TypeAlias = Annotated[
    CreateChatRoom | DeleteChatRoom | JoinChatRoom | LeaveChatRoom | AddComment | ModerationCommand,
    Field(discriminator="type"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(body: str | bytes) -> Command:
    """Parse one SQS message body; raises pydantic.ValidationError on anything malformed.

    By alias only and strictly typed: the wire contract is camelCase JSON, nothing looser."""
    return COMMAND_ADAPTER.validate_json(body, strict=True, by_alias=True, by_name=False)


def command_from_data(data: Mapping[str, Any]) -> Command:
    """The same, from already decoded JSON."""
    return COMMAND_ADAPTER.validate_python(data)
