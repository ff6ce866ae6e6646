"""History cursors: opaque to clients, naming the last comment of a page (its author and position).

The next page starts strictly after it, so pages neither overlap nor skip, also when many
comments share a timestamp (positions are unique).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from pydantic import BaseModel, ValidationError

from roomcast.domain.chat import CommentView
from roomcast.domain.errors import InvalidRequest
from roomcast.domain.ids import ID_PATTERN, POSITION_PATTERN

_POSITION = re.compile(POSITION_PATTERN)
_ID = re.compile(ID_PATTERN)


class _CursorBody(BaseModel):
    u: str
    p: str


def encode_cursor(comment: CommentView) -> str:
    raw = json.dumps({"u": comment.user_id, "p": comment.position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> CommentView:
    """The comment a cursor points at, as far as paging needs it (author and position)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = _CursorBody.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as error:
        raise InvalidRequest("cursor is not one Roomcast issued") from error
    # fullmatch: with match, the patterns' "$" would let a trailing newline through.
    if not _ID.fullmatch(body.u) or not _POSITION.fullmatch(body.p):
        raise InvalidRequest("cursor is not one Roomcast issued")
    return CommentView(comment_id=body.p, user_id=body.u, text="", created_at="", position=body.p)


def check_position(position: str, name: str = "position") -> str:
    if not _POSITION.fullmatch(position):
        raise InvalidRequest(f"{name} {position!r} is not a Roomcast position")
    return position
