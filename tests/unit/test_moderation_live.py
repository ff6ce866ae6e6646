"""docs/websocket.md, moderation frames: what moderation commands wrote, read back from the in-memory table's
stream and delivered by the production ``LiveProcessor``; Banned on the subscribe and history routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import (
    AddComment,
    BanUser,
    Command,
    DeleteComment,
    JoinChatRoom,
    UnbanUser,
)
from roomcast.domain.events import CommentAdded, Outcome
from roomcast.usecases.subscriptions import Caller
from support.memory import MemoryTable
from support.recording import RecordingPoster, feed_of

Apply = Callable[[Command], Outcome]
Send = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def subscribed(
    art: Room, apply: Apply, connect: Callable[..., Caller], send: Send, poster: RecordingPoster, table: MemoryTable
) -> Caller:
    """carol joined; alice (c-alice), bob (c-bob) and carol (c-carol) subscribed to art; the stream drained."""
    apply(JoinChatRoom(room_id="art", user_id="carol"))
    table.drain()
    callers = {}
    for user in ("alice", "bob", "carol"):
        callers[user] = connect(f"c-{user}", user)
        assert send(callers[user], {"action": "subscribe", "roomId": "art"})[0]["type"] == "subscribed"
    poster.clear()
    return callers["bob"]


def comment(apply: Apply, user_id: str, text: str = "hello") -> CommentView:
    event = apply(AddComment(room_id="art", user_id=user_id, text=text)).event
    assert isinstance(event, CommentAdded)
    return event.comment


def test_a_deleted_comment_reaches_every_subscriber_as_comment_deleted(
    subscribed: Caller, apply: Apply, poster: RecordingPoster, process_stream: Callable[[], Any]
) -> None:
    written = comment(apply, "bob", "oops")
    apply(DeleteComment(room_id="art", user_id="alice", comment_id=written.comment_id))

    process_stream()

    deleted = {"type": "commentDeleted", "roomId": "art", "commentId": written.comment_id, "position": written.position}
    for connection in ("c-alice", "c-bob", "c-carol"):
        frames = poster.frames(connection)
        assert [f["type"] for f in frames] == ["comments", "commentDeleted"]
        assert frames[1] == deleted


def test_a_banned_users_connections_get_banned_and_lose_the_feed_others_see_member_left(
    subscribed: Caller,
    apply: Apply,
    poster: RecordingPoster,
    process_stream: Callable[[], Any],
    table: MemoryTable,
    art: Room,
) -> None:
    apply(BanUser(room_id="art", user_id="alice", target_user_id="carol", reason="spam"))

    result = process_stream()
    comment(apply, "bob", "after the ban")
    process_stream()

    assert result.failed == []
    banned = {"type": "banned", "roomId": "art", "userId": "carol", "until": None, "reason": "spam"}
    assert poster.frames("c-carol") == [banned]
    for connection in ("c-alice", "c-bob"):
        assert [f["type"] for f in poster.frames(connection)] == ["memberLeft", "comments"]
        assert poster.frames(connection)[0]["userId"] == "carol"
    assert {c for (f, c) in table.subscribers if f == feed_of(art)} == {"c-alice", "c-bob"}


@pytest.mark.parametrize(
    "request_body",
    [{"action": "subscribe", "roomId": "art"}, {"action": "history", "roomId": "art", "mode": "all"}],
)
def test_a_banned_user_may_not_subscribe_or_read_history(
    subscribed: Caller, apply: Apply, send: Send, connect: Callable[..., Caller], request_body: dict[str, Any]
) -> None:
    apply(BanUser(room_id="art", user_id="alice", target_user_id="carol"))

    answer = send(connect("c-carol-2", "carol"), request_body)

    assert [(f["type"], f["code"]) for f in answer] == [("error", "Banned")]


def test_after_an_unban_a_user_who_has_not_joined_again_is_not_a_member(
    subscribed: Caller, apply: Apply, send: Send, connect: Callable[..., Caller]
) -> None:
    apply(BanUser(room_id="art", user_id="alice", target_user_id="carol"))
    apply(UnbanUser(room_id="art", user_id="alice", target_user_id="carol"))

    answer = send(connect("c-carol-2", "carol"), {"action": "subscribe", "roomId": "art"})

    assert answer[0]["code"] == "NotAMember"


def test_history_and_replay_show_a_tombstone_in_the_deleted_comments_place(
    subscribed: Caller, apply: Apply, send: Send, connect: Callable[..., Caller]
) -> None:
    first, doomed, last = comment(apply, "bob", "one"), comment(apply, "bob", "two"), comment(apply, "bob", "three")
    apply(DeleteComment(room_id="art", user_id="bob", comment_id=doomed.comment_id))
    tombstone = {"commentId": doomed.comment_id, "position": doomed.position, "deleted": True}

    page = send(subscribed, {"action": "history", "roomId": "art", "mode": "all"})[0]
    replay = send(connect("c-bob-2", "bob"), {"action": "subscribe", "roomId": "art", "since": first.position})

    assert page["comments"][1] == tombstone
    assert [c.get("text") for c in page["comments"]] == ["one", None, "three"]
    assert replay[0]["type"] == "comments"
    assert replay[0]["comments"] == [tombstone, last.model_dump(by_alias=True)]


def test_a_banned_user_still_gets_the_batchs_frames_from_before_the_ban_and_none_after(
    subscribed: Caller, apply: Apply, poster: RecordingPoster, process_stream: Callable[[], Any]
) -> None:
    before = comment(apply, "bob", "before the ban")
    apply(BanUser(room_id="art", user_id="alice", target_user_id="carol"))
    comment(apply, "bob", "after the ban")

    process_stream()

    carols = poster.frames("c-carol")
    assert [f["type"] for f in carols] == ["comments", "banned"]
    assert [c["commentId"] for c in carols[0]["comments"]] == [before.comment_id]
    assert [f["type"] for f in poster.frames("c-alice")] == ["comments", "memberLeft", "comments"]


def test_a_banned_user_unreachable_for_good_still_loses_the_feed_and_nobody_gets_a_duplicate(
    subscribed: Caller,
    apply: Apply,
    poster: RecordingPoster,
    process_stream: Callable[[], Any],
    table: MemoryTable,
    art: Room,
) -> None:
    poster.failing.add("c-carol")
    apply(BanUser(room_id="art", user_id="alice", target_user_id="carol"))

    result = process_stream()

    # The others have memberLeft: retrying the records would send it twice (docs/capacity.md, isolation).
    assert result.failed == []
    for connection in ("c-alice", "c-bob"):
        assert [f["type"] for f in poster.frames(connection)] == ["memberLeft"]
    # Whether or not the banned frame got through, the ban ends the feed.
    assert {c for (f, c) in table.subscribers if f == feed_of(art)} == {"c-alice", "c-bob"}
