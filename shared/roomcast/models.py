"""The public shapes: commands producers send, events the system records, views it returns.

Producers, handlers and tests import these models; nobody shapes these dicts by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

# Ids end up inside keys ("Room:<id>", "<roomId>#<incarnation>"), so the separators are excluded.
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
COMMAND_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
# 2,000 characters are at most 8,000 bytes of UTF-8: one comment always fits a 32 KB WebSocket frame.
MAX_TEXT_CHARS = 2_000
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
CommandId = Annotated[str, StringConstraints(pattern=COMMAND_ID_PATTERN)]


def _check_text(text: str) -> str:
    if not text.strip():
        raise ValueError("text must not be blank")
    if _FORBIDDEN_CONTROL.search(text):
        raise ValueError("text must not contain control characters other than tab, newline and carriage return")
    return text


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_check_text)]


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class _Command(_Wire):
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


Command: TypeAlias = Annotated[
    CreateChatRoom | DeleteChatRoom | JoinChatRoom | LeaveChatRoom | AddComment,
    Field(discriminator="type"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(body: str | bytes) -> Command:
    """Parse one SQS message body; raises pydantic.ValidationError on anything malformed.

    By alias only and strictly typed: the wire contract is camelCase JSON, nothing looser."""
    return COMMAND_ADAPTER.validate_json(body, strict=True, by_alias=True, by_name=False)


def describe(error: ValidationError) -> str:
    """A one-line reason naming each bad field, for DLQ attributes and error frames."""
    parts = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(p) for p in detail["loc"]) or "body"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)


def command_from_data(data: Mapping[str, Any]) -> Command:
    """The same, from already decoded JSON."""
    return COMMAND_ADAPTER.validate_python(data)


# Events: what a command did, in the past tense. The command function logs them; the
# stream processor derives the same facts from the table's stream.


class ChatRoomCreated(_Wire):
    type: Literal["chatRoomCreated"] = "chatRoomCreated"
    room_id: str
    user_id: str
    incarnation: str


class ChatRoomDeleted(_Wire):
    type: Literal["chatRoomDeleted"] = "chatRoomDeleted"
    room_id: str
    user_id: str
    incarnation: str


class MemberJoined(_Wire):
    type: Literal["memberJoined"] = "memberJoined"
    room_id: str
    user_id: str


class MemberLeft(_Wire):
    type: Literal["memberLeft"] = "memberLeft"
    room_id: str
    user_id: str


class CommentAdded(_Wire):
    type: Literal["commentAdded"] = "commentAdded"
    room_id: str
    comment: CommentView


class Unchanged(_Wire):
    """The command was valid and asked for what already holds (joining twice, leaving a room one is not in)."""

    type: Literal["unchanged"] = "unchanged"
    room_id: str
    user_id: str
    reason: str


Event: TypeAlias = Annotated[
    ChatRoomCreated | ChatRoomDeleted | MemberJoined | MemberLeft | CommentAdded | Unchanged,
    Field(discriminator="type"),
]


class Outcome(_Wire):
    """What applying one command produced; cached by the idempotency layer as-is."""

    event: Event


# Views: what the read queries return.


class CommentView(_Wire):
    comment_id: str
    user_id: str
    text: str
    created_at: str
    position: str


class Room(_Wire):
    room_id: str
    created_by: str
    created_at: str
    incarnation: str


class Membership(_Wire):
    room_id: str
    user_id: str
    incarnation: str
    joined_at: str


class CommentPage(_Wire):
    """One page of history; ``cursor`` is opaque and absent on the last page."""

    room_id: str
    comments: list[CommentView]
    cursor: str | None = None


CommentAdded.model_rebuild()
Outcome.model_rebuild()


# ---- Live path: connections and subscriptions ------------------------------------------


class Connection(_Wire):
    connection_id: str
    user_id: str
    expires_at: int  # epoch seconds: just past API Gateway's 2-hour connection limit


class Subscription(_Wire):
    connection_id: str
    user_id: str
    room_id: str
    incarnation: str
    expires_at: int


# ---- WebSocket: what clients send, routed on "action" ---------------------------------

POSITION_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
Position = Annotated[str, StringConstraints(pattern=POSITION_PATTERN)]
RequestId = Annotated[str, StringConstraints(max_length=128)]


class _Request(_Wire):
    model_config = ConfigDict(extra="forbid")

    room_id: Id
    # Echoed in the answer so a client can match it; API Gateway's request id otherwise.
    request_id: RequestId | None = None


class SubscribeRequest(_Request):
    action: Literal["subscribe"]
    since: Position | None = None


class UnsubscribeRequest(_Request):
    action: Literal["unsubscribe"]


class HistoryRequest(_Request):
    action: Literal["history"]
    mode: Literal["all", "latest", "after", "between"] = "all"
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    limit: int | None = None
    cursor: str | None = None


ClientRequest: TypeAlias = Annotated[
    SubscribeRequest | UnsubscribeRequest | HistoryRequest, Field(discriminator="action")
]
CLIENT_REQUEST_ADAPTER: TypeAdapter[ClientRequest] = TypeAdapter(ClientRequest)


# ---- WebSocket: frames the server sends ------------------------------------------------


class CommentsFrame(_Wire):
    """New comments of one room, in position order; clients dedupe by commentId (delivery is at-least-once)."""

    type: Literal["comments"] = "comments"
    room_id: str
    comments: list[CommentView]


class RoomDeletedFrame(_Wire):
    type: Literal["roomDeleted"] = "roomDeleted"
    room_id: str


class SubscribedFrame(_Wire):
    """Sent after any replay of missed comments; a cursor means the replay stopped early (page on with history)."""

    type: Literal["subscribed"] = "subscribed"
    room_id: str
    replayed: int = 0
    cursor: str | None = None
    request_id: str | None = None


class UnsubscribedFrame(_Wire):
    type: Literal["unsubscribed"] = "unsubscribed"
    room_id: str
    request_id: str | None = None


class HistoryFrame(_Wire):
    type: Literal["history"] = "history"
    room_id: str
    mode: str
    comments: list[CommentView]
    cursor: str | None = None
    request_id: str | None = None


class ErrorFrame(_Wire):
    type: Literal["error"] = "error"
    code: str
    message: str
    request_id: str | None = None


Frame: TypeAlias = Annotated[
    CommentsFrame
    | MemberJoined  # presence frames are the events themselves
    | MemberLeft
    | RoomDeletedFrame
    | SubscribedFrame
    | UnsubscribedFrame
    | HistoryFrame
    | ErrorFrame,
    Field(discriminator="type"),
]
FRAME_ADAPTER: TypeAdapter[Frame] = TypeAdapter(Frame)


def encode_frame(frame: _Wire) -> bytes:
    return frame.model_dump_json(by_alias=True).encode()
