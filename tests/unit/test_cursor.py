from __future__ import annotations

import base64
import json

import pytest

from roomcast.domain import ids
from roomcast.domain.errors import InvalidRequest
from roomcast.models import CommentView
from roomcast.wire import cursor as cursor_module
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
    ["", "!!!", "bm90IGpzb24", "eyJ1IjoiYm9iIn0", "eyJ1IjoiYSNiIiwicCI6IjAxS0IwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIn0", "."],
)
def test_a_cursor_roomcast_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidRequest, match="cursor"):
        decode_cursor(cursor)


def body_of(user: str, position: str) -> str:
    raw = json.dumps({"u": user, "p": position}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("user", "trail"), [("bob\n", ""), ("bob", "\n")])
def test_a_cursor_with_a_trailing_newline_is_refused_even_when_signed(user: str, trail: str) -> None:
    body = body_of(user, ids.new_ulid() + trail)
    with pytest.raises(InvalidRequest, match="cursor"):
        decode_cursor(f"{body}.{cursor_module._tag(body)}")


def test_a_cursor_made_or_changed_by_a_client_is_refused() -> None:
    position = ids.new_ulid()
    issued = encode_cursor(CommentView(comment_id=position, user_id="bob", text="", created_at="", position=position))
    other = body_of("alice", ids.new_ulid())

    for forged in (other, f"{other}.{issued.split('.')[1]}", issued + "x", issued.split(".")[0]):
        with pytest.raises(InvalidRequest, match="cursor is not one Roomcast issued"):
            decode_cursor(forged)


def test_a_cursor_signed_with_another_key_is_refused() -> None:
    position = ids.new_ulid()
    comment = CommentView(comment_id=position, user_id="bob", text="", created_at="", position=position)
    cursor_module.use_cursor_key("key-of-one-stack")
    issued = encode_cursor(comment)
    assert decode_cursor(issued).position == position
    cursor_module.use_cursor_key("key-of-another")
    with pytest.raises(InvalidRequest, match="cursor is not one Roomcast issued"):
        decode_cursor(issued)
    with pytest.raises(ValueError, match="empty"):
        cursor_module.use_cursor_key("")


def test_a_position_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="is not a Roomcast position"):
        check_position(ids.new_ulid() + "\n")
