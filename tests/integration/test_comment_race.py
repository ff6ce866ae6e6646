"""Issue 10 point 6 on each backend: addComment checks the author's join item only (no ConditionCheck on the
room). A comment racing its room's delete is written into the deleted incarnation, reaches nobody and is
swept by the cleanup; its refusals still answer RoomNotFound once the room is gone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.domain.chat import room_feed, split_feed
from roomcast.domain.errors import NotAMember, RoomNotFound
from roomcast.edges.websocket import handle_message
from roomcast.models import (
    FRAME_ADAPTER,
    AddComment,
    CommentAdded,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
    RoomDeletedFrame,
)
from roomcast.usecases import commands
from roomcast.usecases.cleanup import clean_up_room
from roomcast.usecases.history import history
from roomcast.usecases.stream import Change, LiveProcessor
from roomcast.usecases.subscriptions import Caller, Routes
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


class Art:
    """Room art of alice (creator) and bob, both subscribed; the changes commands make, in commit order."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.store, self.api = stack, stack.store, RecordingApi()
        commands.apply(CreateChatRoom(room_id="art", user_id="alice"), self.store)
        commands.apply(JoinChatRoom(room_id="art", user_id="bob"), self.store)
        room = self.store.rooms.get_room("art")
        assert room is not None
        self.feed = room_feed("art", room.incarnation)
        routes = Routes(self.store, ConnectionsApi(RecordingApi()), 7_500, 32 * 1024)
        for user_id in ("alice", "bob"):
            caller = Caller(f"conn-{user_id}", user_id, time.time_ns() // 1_000_000, "r")
            handle_message(routes, caller, json.dumps({"action": "subscribe", "roomId": "art"}))
        self.changes: list[Change] = []

    def apply(self, command: Any) -> Any:
        outcome = commands.apply(command, self.store)
        self.changes.append(Change(f"{len(self.changes):06d}", self.feed, outcome.event))
        return outcome.event

    def comment_racing(self, monkeypatch: pytest.MonkeyPatch, *between: Any) -> Any:
        """bob's comment, its command reading the room and his membership before ``between`` happen."""
        read = self.store.rooms.get_room_and_membership

        def read_then(room_id: str, user_id: str) -> Any:
            found = read(room_id, user_id)
            for command in between:
                self.apply(command)
            return found

        monkeypatch.setattr(self.store.rooms, "get_room_and_membership", read_then)
        try:
            return self.apply(AddComment(room_id="art", user_id="bob", text="late"))
        finally:
            monkeypatch.setattr(self.store.rooms, "get_room_and_membership", read)

    def process(self) -> None:
        """One stream batch of the changes, as the StreamFunction runs it: delivery, then each record."""
        live = LiveProcessor(self.store, ConnectionsApi(self.api, sleep=lambda _: None), 32 * 1024, 4, lambda: False)
        report = live.deliver(self.changes)
        for change in self.changes:
            live.handle(change, report.failed_sequences)
        self.changes = []

    def leftovers(self) -> list[dict[str, Any]]:
        _, incarnation = split_feed(self.feed)
        return [i for i in self.stack.items() if i.get("RoomID") == self.feed or i.get("Incarnation") == incarnation]


@pytest.fixture
def art(stack: Stack) -> Art:
    return Art(stack)


def test_a_comment_racing_the_delete_reaches_nobody_and_the_cleanup_leaves_nothing_of_it(
    art: Art, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bob's join item of this incarnation still stands after alice's delete: the comment is written
    event = art.comment_racing(monkeypatch, DeleteChatRoom(room_id="art", user_id="alice"))
    assert isinstance(event, CommentAdded)
    assert any(i.get("Position") == event.comment.position for i in art.leftovers())

    art.process()

    for user_id in ("alice", "bob"):
        frames = [FRAME_ADAPTER.validate_json(d) for d in art.api.received[f"conn-{user_id}"]]
        assert frames == [RoomDeletedFrame(room_id="art")]
    assert art.leftovers() == []
    with pytest.raises(RoomNotFound):
        history(art.store, "art")


def test_the_cleanup_sweeps_a_racing_comment_the_index_did_not_show_yet(
    art: Art, monkeypatch: pytest.MonkeyPatch
) -> None:
    art.comment_racing(monkeypatch, DeleteChatRoom(room_id="art", user_id="alice"))
    # The index lags: its first page after the members are gone comes back empty.
    pages = art.store.cleanup.delete_comments_page
    answers = iter([0])
    monkeypatch.setattr(art.store.cleanup, "delete_comments_page", lambda f, n: next(answers, None) or pages(f, n))
    now, slept = [0.0], []  # a clock only the cleanup's sleep moves

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    report = clean_up_room(
        art.store, ConnectionsApi(art.api), art.feed, lambda: False, clock=lambda: now[0], sleep=sleep
    )

    assert report.done and report.comments == 1
    assert slept == [art.store.cleanup.index_settle_ms / 1000]
    assert art.leftovers() == []


def test_a_comment_racing_the_delete_and_its_cleanup_is_refused_as_room_not_found(
    art: Art, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cleanup() -> None:
        clean_up_room(art.store, ConnectionsApi(art.api), art.feed, lambda: False)

    read = art.store.rooms.get_room_and_membership

    def read_then(room_id: str, user_id: str) -> Any:
        found = read(room_id, user_id)
        commands.apply(DeleteChatRoom(room_id="art", user_id="alice"), art.store)
        cleanup()
        return found

    monkeypatch.setattr(art.store.rooms, "get_room_and_membership", read_then)

    with pytest.raises(RoomNotFound):
        commands.apply(AddComment(room_id="art", user_id="bob", text="late"), art.store)
    assert art.leftovers() == []


def test_a_comment_racing_a_room_created_again_is_refused_as_room_not_found(
    art: Art, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RoomNotFound):
        art.comment_racing(
            monkeypatch,
            DeleteChatRoom(room_id="art", user_id="alice"),
            CreateChatRoom(room_id="art", user_id="alice"),
            JoinChatRoom(room_id="art", user_id="bob"),
        )


def test_a_comment_racing_a_leave_is_still_refused_as_not_a_member(art: Art, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotAMember):
        art.comment_racing(monkeypatch, LeaveChatRoom(room_id="art", user_id="bob"))
