from __future__ import annotations

import base64
import json

import pytest

from roomcast.domain import ids
from roomcast.domain.errors import InvalidRequest
from roomcast.models import CommentView
from roomcast.wire.cursor import check_position, decode_cursor, encode_cursor


def test_a_cursor_round_trips_to_the_comment_it_names() -> None:
    position = ids.new_ulid()
    comment = CommentView(comment_id=position, user_id="bob", text="x", created_at="t", position=position)

    cursor = encode_cursor(comment)
    decoded = decode_cursor(cursor)

    assert (decoded.user_id, decoded.position, decoded.comment_id) == ("bob", position, position)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # URL-safe, opaque


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "bm90IGpzb24", "eyJ1IjoiYm9iIn0", "eyJ1IjoiYSNiIiwicCI6IjAxS0IwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIn0"],
)
def test_a_cursor_roomcast_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidRequest, match="cursor"):
        decode_cursor(cursor)


@pytest.mark.parametrize(("user", "trail"), [("bob\n", ""), ("bob", "\n")])
def test_a_cursor_with_a_trailing_newline_is_refused(user: str, trail: str) -> None:
    raw = json.dumps({"u": user, "p": ids.new_ulid() + trail}).encode()
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidRequest, match="cursor"):
        decode_cursor(forged)


def test_a_position_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="is not a Roomcast position"):
        check_position(ids.new_ulid() + "\n")
