"""The CLI never writes a control character a terminal would act on: comments stored before the text rule,
or frames from any server, are shown with those characters escaped."""

from __future__ import annotations

import json

import pytest

from roomcast.models import CommentView
from roomcast_cli.common import printable
from roomcast_cli.history import comment_line
from roomcast_cli.watch import Watch

HOSTILE = "hi\x1b[2J\x1b]0;owned\x07\r\u202eevil\x9b31m"


def comment(text: str) -> CommentView:
    return CommentView(
        comment_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        user_id="mallory",
        text=text,
        created_at="2026-11-30T12:00:00.000Z",
        position="01JABCDEFGHJKMNPQRSTVWXYZ0",
    )


def test_printable_escapes_what_a_terminal_acts_on_and_keeps_tab_and_newline() -> None:
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable(HOSTILE) == "hi\\u001b[2J\\u001b]0;owned\\u0007\\u000d\\u202eevil\\u009b31m"


def test_a_history_line_never_carries_a_control_character() -> None:
    line = comment_line(comment(HOSTILE), "%H:%M:%S", positions=True)
    assert not any(ch in line for ch in "\x1b\x07\r\u202e\x9b")


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_output_never_carries_a_control_character(as_json: bool, capsys: pytest.CaptureFixture[str]) -> None:
    watch = Watch("art", "bob", as_json=as_json, positions=False)
    frame = {"type": "comments", "roomId": "art", "comments": [comment(HOSTILE).model_dump(by_alias=True)]}

    watch.frame(json.dumps(frame, ensure_ascii=False))
    watch.frame(json.dumps({"type": "error", "code": "X", "message": "\x1b[31mred", "requestId": "r"}))

    out, err = capsys.readouterr()
    assert "evil" in out
    assert not any(ch in out + err for ch in "\x1b\x07\r\u202e\x9b")
