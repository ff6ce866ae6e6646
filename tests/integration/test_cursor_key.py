"""History cursors through MessageFunction on each backend: signed with the stack's key, so a cursor
issued by one container pages on in another, and one a client forged is refused."""

from __future__ import annotations

import pytest

from roomcast import bootstrap
from roomcast.models import AddComment, CreateChatRoom, ErrorFrame, HistoryFrame
from roomcast.usecases import commands
from roomcast.wire import cursor
from support.fakes import RecordingApi
from support.stack import Stack
from support.ws_invoke import connect, frames, send

pytestmark = pytest.mark.integration


def test_a_cursor_pages_on_in_a_new_container_and_a_forged_one_is_refused(
    stack: Stack, connections_api: RecordingApi
) -> None:
    commands.apply(CreateChatRoom(room_id="art", user_id="bob"), stack.store)
    for n in range(3):
        commands.apply(AddComment(room_id="art", user_id="bob", text=f"c{n}"), stack.store)
    assert connect(stack, "c-bob", "bob") == 200

    send(stack, "c-bob", "bob", action="history", roomId="art", limit=2)
    [first] = frames(connections_api, "c-bob")
    assert isinstance(first, HistoryFrame) and first.cursor is not None
    bootstrap.reset()
    cursor._keys.clear()  # a container started since: no key until it reads the stack's
    send(stack, "c-bob", "bob", action="history", roomId="art", limit=2, cursor=first.cursor)
    body = first.cursor.split(".")[0]
    send(stack, "c-bob", "bob", action="history", roomId="art", limit=2, cursor=f"{body}.AAAAAAAAAAAAAAAAAAAAAA")

    _, second, forged = frames(connections_api, "c-bob")
    assert isinstance(second, HistoryFrame) and [c.text for c in second.comments] == ["c2"]
    assert isinstance(forged, ErrorFrame) and forged.message.endswith("cursor is not one Roomcast issued")
