"""The public shapes, in one import: commands producers send, events, views, WebSocket requests and frames.

Producers, handlers and tests import these models (``from roomcast.models import AddComment``);
nobody shapes these dicts by hand. They are defined in ``roomcast.domain`` and ``roomcast.wire``.
"""

from __future__ import annotations

from roomcast.domain.chat import CommentPage, CommentView, Connection, Membership, Room, Subscription
from roomcast.domain.commands import (
    COMMAND_ADAPTER,
    MAX_TEXT_CHARS,
    AddComment,
    Command,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    Text,
    command_from_data,
    parse_command,
)
from roomcast.domain.events import (
    ChatRoomCreated,
    ChatRoomDeleted,
    CleanupScheduled,
    CommentAdded,
    Event,
    MemberJoined,
    MemberLeft,
    Outcome,
    Unchanged,
)
from roomcast.domain.ids import COMMAND_ID_PATTERN, ID_PATTERN, POSITION_PATTERN, CommandId, Id, Position
from roomcast.domain.shapes import describe
from roomcast.wire.frames import (
    FRAME_ADAPTER,
    CommentsFrame,
    ErrorFrame,
    Frame,
    HistoryFrame,
    RoomDeletedFrame,
    SubscribedFrame,
    UnsubscribedFrame,
    encode_frame,
)
from roomcast.wire.requests import (
    CLIENT_REQUEST_ADAPTER,
    ClientRequest,
    HistoryRequest,
    RequestId,
    SubscribeRequest,
    UnsubscribeRequest,
)

__all__ = [
    "CLIENT_REQUEST_ADAPTER",
    "COMMAND_ADAPTER",
    "COMMAND_ID_PATTERN",
    "FRAME_ADAPTER",
    "ID_PATTERN",
    "MAX_TEXT_CHARS",
    "POSITION_PATTERN",
    "AddComment",
    "ChatRoomCreated",
    "ChatRoomDeleted",
    "CleanupScheduled",
    "ClientRequest",
    "Command",
    "CommandId",
    "CommentAdded",
    "CommentPage",
    "CommentView",
    "CommentsFrame",
    "Connection",
    "CreateChatRoom",
    "DeleteChatRoom",
    "ErrorFrame",
    "Event",
    "Frame",
    "HistoryFrame",
    "HistoryRequest",
    "Id",
    "JoinChatRoom",
    "LeaveChatRoom",
    "MemberJoined",
    "MemberLeft",
    "Membership",
    "Outcome",
    "Position",
    "RequestId",
    "Room",
    "RoomDeletedFrame",
    "SubscribeRequest",
    "SubscribedFrame",
    "Subscription",
    "Text",
    "Unchanged",
    "UnsubscribeRequest",
    "UnsubscribedFrame",
    "command_from_data",
    "describe",
    "encode_frame",
    "parse_command",
]
