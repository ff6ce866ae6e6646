"""History cursors: opaque to clients, naming the last comment of a page (its author and position).

The next page starts strictly after it, so pages neither overlap nor skip, also when many
comments share a timestamp (positions are unique).

A cursor is ``<body>.<tag>``: the tag is an HMAC-SHA256 (128 bits) of the body, so a cursor a client
made or changed is refused. The key is the stack's (``use_cursor_key``, from CURSOR_SECRET_ARN, so every
container agrees); without one, a random key of this process (the CLI pages within one process).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re

from pydantic import BaseModel, ValidationError

from roomcast.domain.chat import CommentView, FeedEntry
from roomcast.domain.errors import InvalidRequest
from roomcast.domain.ids import ID_PATTERN, POSITION_PATTERN

_POSITION = re.compile(POSITION_PATTERN)
_ID = re.compile(ID_PATTERN)


_TAG_BYTES = 16
_keys: list[bytes] = []


def use_cursor_key(key: str | bytes) -> None:
    """Sign and check cursors with this key from now on (bootstrap, from the stack's secret)."""
    if not key:
        raise ValueError("the cursor key is empty")
    _keys[:] = [key.encode() if isinstance(key, str) else key]


def _key() -> bytes:
    if not _keys:
        _keys.append(os.urandom(32))  # on first use, not at import: no I/O at import time
    return _keys[0]


def _tag(body: str) -> str:
    digest = hmac.new(_key(), body.encode(), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _CursorBody(BaseModel):
    u: str
    p: str


def encode_cursor(comment: FeedEntry) -> str:
    raw = json.dumps({"u": comment.user_id, "p": comment.position}, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{body}.{_tag(body)}"


def decode_cursor(cursor: str) -> CommentView:
    """The comment a cursor points at, as far as paging needs it (author and position)."""
    body, _, tag = cursor.partition(".")
    if not hmac.compare_digest(tag.encode(), _tag(body).encode()):
        raise InvalidRequest("cursor is not one Roomcast issued")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        named = _CursorBody.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as error:
        raise InvalidRequest("cursor is not one Roomcast issued") from error
    # fullmatch: with match, the patterns' "$" would let a trailing newline through.
    if not _ID.fullmatch(named.u) or not _POSITION.fullmatch(named.p):
        raise InvalidRequest("cursor is not one Roomcast issued")
    return CommentView(comment_id=named.p, user_id=named.u, text="", created_at="", position=named.p)


def check_position(position: str, name: str = "position") -> str:
    if not _POSITION.fullmatch(position):
        raise InvalidRequest(f"{name} {position!r} is not a Roomcast position")
    return position
