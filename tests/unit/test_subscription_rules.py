"""docs/websocket.md sections 2-4: who may subscribe, register-then-replay, the subscribed frame,
unsubscribe and error frames, through ``edges/websocket.handle_message`` on the in-memory table."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from roomcast.domain.chat import CommentView, Room, Subscription
from roomcast.domain.commands import Command, CreateChatRoom, DeleteChatRoom, JoinChatRoom, LeaveChatRoom
from roomcast.domain.events import Outcome
from roomcast.edges.websocket import handle_message
from roomcast.usecases import subscriptions
from roomcast.usecases.ports import Store
from roomcast.usecases.subscriptions import Routes
from support.memory import MemoryTable
from support.recording import RecordingPoster, feed_of, positions

Apply = Callable[[Command], Outcome]
Send = Callable[..., list[dict[str, Any]]]
Write = Callable[..., list[CommentView]]


# ---- who may subscribe ------------------------------------------------------------------


def test_a_member_subscribes_and_is_answered_subscribed(
    art: Room, connect: Any, send: Send, store: Store, routes: Routes
) -> None:
    bob = connect("c-bob", "bob")

    frames = send(bob, {"action": "subscribe", "roomId": "art", "requestId": "s1"})

    assert frames == [{"type": "subscribed", "roomId": "art", "replayed": 0, "cursor": None, "requestId": "s1"}]
    subscription = store.connections.all_subscribers(feed_of(art))[0]
    assert subscription == Subscription(
        connection_id="c-bob",
        user_id="bob",
        room_id="art",
        incarnation=art.incarnation,
        expires_at=bob.connected_at_ms // 1000 + routes.ttl_seconds,
    )


@pytest.mark.parametrize("action", ["subscribe", "history"])
@pytest.mark.parametrize(
    ("user_id", "room_id", "code"),
    # One answer for both: the socket does not tell which rooms exist.
    [("carol", "art", "NotAMember"), ("bob", "music", "NotAMember")],
)
def test_only_a_member_of_an_existing_room_may_subscribe_or_read(
    art: Room, connect: Any, send: Send, table: MemoryTable, user_id: str, room_id: str, code: str, action: str
) -> None:
    caller = connect("c1", user_id)

    frames = send(caller, {"action": action, "roomId": room_id, "requestId": "s1"})

    assert [(f["type"], f["code"], f["requestId"]) for f in frames] == [("error", code, "s1")]
    assert table.subscriptions == {} and table.subscribers == {}


LOST_MEMBERSHIP: dict[str, list[Command]] = {
    "left": [LeaveChatRoom(room_id="art", user_id="bob")],
    "joined-a-deleted-room": [
        DeleteChatRoom(room_id="art", user_id="alice"),
        CreateChatRoom(room_id="art", user_id="alice"),
    ],
}


@pytest.mark.parametrize("action", ["subscribe", "history"])
@pytest.mark.parametrize("how", list(LOST_MEMBERSHIP))
def test_one_who_left_or_joined_a_deleted_room_of_the_same_id_may_not_subscribe_or_read(
    art: Room, apply: Apply, connect: Any, send: Send, how: str, action: str
) -> None:
    for command in LOST_MEMBERSHIP[how]:
        apply(command)

    frames = send(connect("c-bob", "bob"), {"action": action, "roomId": "art"})

    assert [(f["type"], f["code"]) for f in frames] == [("error", "NotAMember")]


# ---- replay -----------------------------------------------------------------------------


def test_subscribe_with_since_replays_strictly_after_it_then_answers(
    art: Room, write: Write, connect: Any, send: Send
) -> None:
    written = write(7)

    frames = send(connect("c-bob", "bob"), {"action": "subscribe", "roomId": "art", "since": written[2].position})

    assert positions(frames) == [c.position for c in written[3:]]
    assert frames[-1] == {"type": "subscribed", "roomId": "art", "replayed": 4, "cursor": None, "requestId": "apigw-1"}


def test_since_need_not_name_a_comment(art: Room, write: Write, connect: Any, send: Send) -> None:
    written = write(3)

    frames = send(connect("c-bob", "bob"), {"action": "subscribe", "roomId": "art", "since": "0" * 26})

    assert positions(frames) == [c.position for c in written]


def test_subscribe_without_since_replays_nothing(art: Room, write: Write, connect: Any, send: Send) -> None:
    write(3)

    frames = send(connect("c-bob", "bob"), {"action": "subscribe", "roomId": "art"})

    assert [f["type"] for f in frames] == ["subscribed"]


def test_the_subscription_is_registered_before_the_replay(
    art: Room, write: Write, store: Store, routes: Routes, connect: Any
) -> None:
    written = write(2)
    seen: list[bool] = []
    recording = RecordingPoster(
        observe=lambda cid, _: seen.append(bool(store.connections.all_subscribers(feed_of(art))))
    )
    routes.poster = recording

    handle_message(
        routes, connect("c-bob", "bob"), json.dumps({"action": "subscribe", "roomId": "art", "since": "0" * 26})
    )

    assert positions(recording.frames("c-bob")) == [c.position for c in written]
    assert seen and all(seen)


def test_a_replay_that_reaches_the_cap_stops_with_a_cursor_to_page_on(
    art: Room, write: Write, connect: Any, send: Send
) -> None:
    written = write(151)
    since = written[0].position
    bob = connect("c-bob", "bob")

    frames = send(bob, {"action": "subscribe", "roomId": "art", "since": since})

    subscribed = frames[-1]
    assert positions(frames) == [c.position for c in written[1:101]]
    assert subscribed["replayed"] == subscriptions.MAX_REPLAY_COMMENTS == 100 and subscribed["cursor"] is not None
    rest = send(
        bob, {"action": "history", "roomId": "art", "mode": "after", "from": since, "cursor": subscribed["cursor"]}
    )
    assert [c["position"] for c in rest[0]["comments"]] == [c.position for c in written[101:]]
    assert rest[0]["cursor"] is None


def test_a_replay_that_ends_exactly_at_the_cap_has_no_cursor(art: Room, write: Write, connect: Any, send: Send) -> None:
    written = write(101)

    frames = send(connect("c-bob", "bob"), {"action": "subscribe", "roomId": "art", "since": written[0].position})

    assert (frames[-1]["replayed"], frames[-1]["cursor"]) == (100, None)


def test_subscribing_again_rewrites_the_same_subscription_and_replays_again(
    art: Room, write: Write, connect: Any, send: Send, store: Store
) -> None:
    written = write(2)
    bob = connect("c-bob", "bob")
    send(bob, {"action": "subscribe", "roomId": "art", "since": "0" * 26})

    frames = send(bob, {"action": "subscribe", "roomId": "art", "since": "0" * 26})

    assert positions(frames) == [c.position for c in written]
    assert [s.connection_id for s in store.connections.all_subscribers(feed_of(art))] == ["c-bob"]


def test_a_subscriber_gone_during_the_replay_is_forgotten(
    art: Room, write: Write, connect: Any, routes: Routes, table: MemoryTable
) -> None:
    write(2)
    bob = connect("c-bob", "bob")
    gone = RecordingPoster()
    gone.gone.add("c-bob")
    routes.poster = gone

    handle_message(routes, bob, json.dumps({"action": "subscribe", "roomId": "art", "since": "0" * 26}))

    assert gone.posts == []
    assert table.connections == {} and table.subscriptions == {} and table.subscribers == {}


# ---- unsubscribe ------------------------------------------------------------------------


def test_unsubscribe_removes_every_incarnation_of_the_room_and_keeps_other_rooms(
    art: Room, apply: Apply, connect: Any, send: Send, store: Store, table: MemoryTable
) -> None:
    apply(CreateChatRoom(room_id="music", user_id="bob"))
    bob = connect("c-bob", "bob")
    send(bob, {"action": "subscribe", "roomId": "art"})
    send(bob, {"action": "subscribe", "roomId": "music"})
    # A subscription to the deleted art's feed is left until its cleanup runs; bob subscribes to the new art too.
    for command in LOST_MEMBERSHIP["joined-a-deleted-room"] + [JoinChatRoom(room_id="art", user_id="bob")]:
        apply(command)
    send(bob, {"action": "subscribe", "roomId": "art"})
    assert len(table.subscriptions) == 3

    frames = send(bob, {"action": "unsubscribe", "roomId": "art", "requestId": "u1"})

    assert frames == [{"type": "unsubscribed", "roomId": "art", "requestId": "u1"}]
    assert store.connections.all_subscribers(feed_of(art)) == []
    assert [feed for _, feed in table.subscriptions] == [feed for feed, _ in table.subscribers]
    assert [feed.split("#")[0] for _, feed in table.subscriptions] == ["music"]


def test_unsubscribe_without_a_subscription_or_membership_is_answered(connect: Any, send: Send) -> None:
    frames = send(connect("c-eve", "eve"), {"action": "unsubscribe", "roomId": "nowhere"})

    assert frames == [{"type": "unsubscribed", "roomId": "nowhere", "requestId": "apigw-1"}]


def test_disconnect_removes_the_connection_and_its_subscriptions(
    art: Room, connect: Any, send: Send, routes: Routes, table: MemoryTable
) -> None:
    bob = connect("c-bob", "bob")
    send(bob, {"action": "subscribe", "roomId": "art"})

    routes.disconnect("c-bob")

    assert table.connections == {} and table.subscriptions == {} and table.subscribers == {}


# ---- error frames -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        {"action": "ping", "roomId": "art"},
        {"roomId": "art"},
        {"action": "subscribe"},
        {"action": "subscribe", "roomId": "art", "roomID": "art"},
        {"action": "subscribe", "roomId": "a#b"},
        {"action": "subscribe", "roomId": "art", "since": "yesterday"},
        {"action": "subscribe", "room_id": "art"},  # Python's field names are not the wire's
        {"action": "unsubscribe", "roomId": "art", "requestId": "r" * 129},
    ],
)
def test_a_malformed_message_is_answered_invalid_request_with_api_gateways_id(
    art: Room, connect: Any, send: Send, table: MemoryTable, body: dict[str, Any] | str
) -> None:
    if isinstance(body, dict):
        body = {"requestId": "mine", **body}

    frames = send(connect("c-bob", "bob"), body)

    assert len(frames) == 1 and frames[0]["type"] == "error"
    assert (frames[0]["code"], frames[0]["requestId"]) == ("InvalidRequest", "apigw-1")
    assert "\n" not in frames[0]["message"] and frames[0]["message"]
    assert table.subscriptions == {}


def test_a_refused_request_echoes_the_clients_request_id(art: Room, connect: Any, send: Send) -> None:
    frames = send(connect("c-eve", "eve"), {"action": "history", "roomId": "art", "requestId": "h9"})

    assert frames == [
        {"type": "error", "code": "NotAMember", "message": "'eve' is not a member of room 'art'", "requestId": "h9"}
    ]


@pytest.mark.parametrize(
    ("race", "code"),
    [
        (DeleteChatRoom(room_id="art", user_id="alice"), "NotAMember"),
        (LeaveChatRoom(room_id="art", user_id="bob"), "NotAMember"),
    ],
    ids=["delete", "leave"],
)
def test_a_delete_or_leave_racing_the_subscribe_refuses_it(
    art: Room,
    apply: Apply,
    connect: Any,
    send: Send,
    store: Store,
    table: MemoryTable,
    monkeypatch: pytest.MonkeyPatch,
    race: Command,
    code: str,
) -> None:
    read = store.rooms.get_room_and_membership

    def read_then_race(room_id: str, user_id: str) -> Any:
        found = read(room_id, user_id)
        apply(race)  # lands between the membership check and the subscription's transaction
        return found

    monkeypatch.setattr(store.rooms, "get_room_and_membership", read_then_race)

    frames = send(connect("c-bob", "bob"), {"action": "subscribe", "roomId": "art"})

    assert [(f["type"], f["code"]) for f in frames] == [("error", code)]
    assert table.subscriptions == {} and table.subscribers == {}


def test_an_answer_api_gateway_refuses_is_logged_not_raised_and_the_replay_stops(
    art: Room, write: Write, connect: Any, send: Send, poster: RecordingPoster, table: MemoryTable
) -> None:
    write(3)
    bob = connect("c-bob", "bob")
    poster.refused.add("c-bob")

    frames = send(bob, {"action": "subscribe", "roomId": "art", "since": "0" * 26})

    assert frames == [] and poster.attempts == 2  # the first replay frame, then the subscribed frame
    assert [c for c, _ in table.subscriptions] == ["c-bob"]  # refused is not gone: the connection stays


@pytest.mark.parametrize("action", ["subscribe", "history"])
def test_a_missing_room_and_a_room_one_is_not_in_get_the_same_answer(
    art: Room, connect: Any, send: Send, action: str
) -> None:
    eve = connect("c-eve", "eve")

    not_in = send(eve, {"action": action, "roomId": "art", "requestId": "r"})
    missing = send(eve, {"action": action, "roomId": "nowhere", "requestId": "r"})

    assert [f["message"] for f in not_in] == ["'eve' is not a member of room 'art'"]
    assert [f["message"] for f in missing] == ["'eve' is not a member of room 'nowhere'"]
    assert [f["code"] for f in not_in + missing] == ["NotAMember", "NotAMember"]
