"""The command contract: what producers may send, and the reason they get when it is wrong."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from roomcast.models import (
    MAX_TEXT_CHARS,
    AddComment,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    describe,
    parse_command,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"type": "createChatRoom", "roomId": "art", "userId": "alice"},
            CreateChatRoom(room_id="art", user_id="alice"),
        ),
        (
            {"type": "deleteChatRoom", "roomId": "art", "userId": "alice"},
            DeleteChatRoom(room_id="art", user_id="alice"),
        ),
        ({"type": "joinChatRoom", "roomId": "art", "userId": "bob"}, JoinChatRoom(room_id="art", user_id="bob")),
        ({"type": "leaveChatRoom", "roomId": "art", "userId": "bob"}, LeaveChatRoom(room_id="art", user_id="bob")),
        (
            {"type": "addComment", "roomId": "art", "userId": "bob", "text": "hello", "commandId": "c-1"},
            AddComment(room_id="art", user_id="bob", text="hello", command_id="c-1"),
        ),
    ],
)
def test_each_command_of_the_contract_parses(body: dict[str, str], expected: object) -> None:
    assert parse_command(json.dumps(body)) == expected


def test_a_command_serialises_back_to_the_contract() -> None:
    command = AddComment(room_id="art", user_id="bob", text="hello")

    assert json.loads(command.model_dump_json(by_alias=True, exclude_none=True)) == {
        "type": "addComment",
        "roomId": "art",
        "userId": "bob",
        "text": "hello",
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{", "body: Invalid JSON"),
        ("[]", "body: Input should be an object"),
        ('{"roomId": "art", "userId": "bob"}', "Unable to extract tag using discriminator 'type'"),
        ('{"type": "shout", "roomId": "art", "userId": "bob"}', "does not match any of the expected tags"),
        ('{"type": "joinChatRoom", "roomId": "art"}', "joinChatRoom.userId: Field required"),
        ('{"type": "joinChatRoom", "roomId": "", "userId": "bob"}', "joinChatRoom.roomId: String should match"),
        ('{"type": "joinChatRoom", "roomId": "a:b", "userId": "bob"}', "joinChatRoom.roomId"),
        ('{"type": "joinChatRoom", "roomId": "' + "r" * 65 + '", "userId": "b"}', "joinChatRoom.roomId"),
        ('{"type": "joinChatRoom", "roomId": "art", "userId": "bob", "extra": 1}', "joinChatRoom.extra: Extra"),
        ('{"type": "joinChatRoom", "roomId": "art", "userId": "bob", "commandId": "a b"}', "commandId"),
        ('{"type": "addComment", "roomId": "art", "userId": "bob", "text": "   "}', "text must not be blank"),
        ('{"type": "addComment", "roomId": "art", "userId": "bob", "text": "a\\u0000b"}', "control characters"),
        ('{"type": "addComment", "roomId": "art", "userId": "bob", "text": 42}', "addComment.text: Input should be"),
        # the wire contract is camelCase: Python's field names are not a second spelling of it
        ('{"type": "joinChatRoom", "room_id": "art", "userId": "bob"}', "joinChatRoom.roomId: Field required"),
    ],
)
def test_invalid_commands_are_refused_with_a_reason_naming_the_field(body: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_command(body)

    assert reason in describe(caught.value)


def test_text_limit_is_in_characters_and_fits_a_websocket_frame() -> None:
    longest = "€" * MAX_TEXT_CHARS  # 3 bytes each in UTF-8
    command = AddComment(room_id="art", user_id="bob", text=longest)
    assert len(command.model_dump_json(by_alias=True).encode()) < 32 * 1024
    with pytest.raises(ValidationError):
        AddComment(room_id="art", user_id="bob", text=longest + "€")


def test_newlines_and_tabs_are_allowed_in_text() -> None:
    assert AddComment(room_id="art", user_id="bob", text="line one\n\tline two").text.count("\n") == 1


@pytest.mark.parametrize(
    "text",
    [
        "pay \u202eexe.txt",  # right-to-left override: the example
        "a\u2066b\u2069",  # isolates
        "a\u200fb",  # right-to-left mark
        "a\u061cb",  # Arabic letter mark
        "a\u0085b",  # C1: next line
        "a\u009bb",  # C1: control sequence introducer, a terminal escape on its own
        "a\x1b[31mred",  # ESC
    ],
)
def test_text_with_control_or_bidi_characters_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="control characters other than tab, newline and carriage return"):
        AddComment(room_id="art", user_id="bob", text=text)


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200d\ufeff", "\u3164", "\u2800 \u2800", "\u0301", "\u00a0\u3000"])
def test_text_with_nothing_visible_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="nothing visible"):
        AddComment(room_id="art", user_id="bob", text=text)


@pytest.mark.parametrize("text", ["tab\there", "two\r\nlines", "e\u0301", "שלום", "👍🏽", "a\u200db"])
def test_text_in_any_script_with_tab_newline_and_joiners_is_accepted(text: str) -> None:
    assert AddComment(room_id="art", user_id="bob", text=text).text == text
