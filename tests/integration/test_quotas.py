"""Limits per client on each backend, through the WebSocket functions as template.yaml configures them.

Each test first does what issue 11 did unguarded (many connections for one token, a replay of the
whole room, a flood of messages), then shows the limit: the (N+1)th refused, the replay capped, the
flood throttled and its connection closed, while other clients go on.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from roomcast.adapters.dynamodb.quotas import DynamoLimiter
from roomcast.domain.quotas import MessageRate
from roomcast.models import AddComment, CreateChatRoom, ErrorFrame, JoinChatRoom, SubscribedFrame
from roomcast.usecases import commands
from support.fakes import RecordingApi
from support.stack import Stack
from support.ws_invoke import connect, disconnect, frames, send

pytestmark = pytest.mark.integration


def configure(stack: Stack, monkeypatch: pytest.MonkeyPatch, logical_id: str, **environment: str) -> None:
    """The function's environment as template.yaml gives it, with these variables changed."""
    spec_of = stack.spec

    def spec(name: str) -> Any:
        found = spec_of(name)
        if name == logical_id:
            found.environment.update(environment)
        return found

    monkeypatch.setattr(stack, "spec", spec)


@pytest.fixture
def art(stack: Stack) -> str:
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), stack.store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), stack.store)
    return "art"


def test_the_eleventh_connection_of_a_user_is_refused_until_one_closes(stack: Stack) -> None:
    assert [connect(stack, f"c{n}", "bob") for n in range(10)] == [200] * 10

    assert connect(stack, "c10", "bob") == 429
    assert connect(stack, "other", "alice") == 200  # another user's quota is its own
    disconnect(stack, "c3", "bob")
    assert connect(stack, "c11", "bob") == 200
    assert connect(stack, "c12", "bob") == 429
    assert connect(stack, "c11", "bob") == 200  # the same connection again takes no second slot


def test_a_subscribe_replays_at_most_100_comments_and_hands_over_to_history(
    stack: Stack, art: str, connections_api: RecordingApi
) -> None:
    for n in range(130):
        commands.apply(AddComment(room_id=art, user_id="bob", text=f"c{n}"), stack.store)
    assert connect(stack, "c-bob", "bob") == 200

    send(stack, "c-bob", "bob", action="subscribe", roomId=art, since="0" * 26)

    *replay, subscribed = frames(connections_api, "c-bob")
    assert isinstance(subscribed, SubscribedFrame)
    assert subscribed.replayed == 100 and subscribed.cursor is not None
    assert sum(len(frame.comments) for frame in replay) == 100


def test_the_21st_room_of_one_connection_is_refused(
    stack: Stack, connections_api: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A burst this large takes the message rate out of the test: only the subscription quota is at stake.
    configure(stack, monkeypatch, "MessageFunction", MESSAGE_BURST="1000")
    for n in range(21):
        commands.apply(CreateChatRoom(room_id=f"r{n}", user_id="bob"), stack.store)
    assert connect(stack, "c-bob", "bob") == 200

    for n in range(21):
        send(stack, "c-bob", "bob", action="subscribe", roomId=f"r{n}", requestId=f"s{n}")

    answers = frames(connections_api, "c-bob")
    assert [type(frame).__name__ for frame in answers[:20]] == ["SubscribedFrame"] * 20
    assert isinstance(answers[20], ErrorFrame) and (answers[20].code, answers[20].request_id) == (
        "QuotaExceeded",
        "s20",
    )
    send(stack, "c-bob", "bob", action="subscribe", roomId="r0", requestId="again")  # already held: not one more
    assert isinstance(frames(connections_api, "c-bob")[-1], SubscribedFrame)


def test_a_flood_is_throttled_then_closed_while_another_client_is_served(
    stack: Stack, art: str, connections_api: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One message per 1,000 s: the bucket does not refill during the test, however slow the backend.
    configure(stack, monkeypatch, "MessageFunction", MESSAGE_RATE_PER_SECOND="0.001")
    assert connect(stack, "c-flood", "bob") == 200
    assert connect(stack, "c-calm", "alice") == 200

    for n in range(40):
        send(stack, "c-flood", "bob", action="history", roomId=art, requestId=f"h{n}")
    send(stack, "c-calm", "alice", action="history", roomId=art, requestId="calm")

    codes = [getattr(frame, "code", "ok") for frame in frames(connections_api, "c-flood")]
    # The burst of 10, then 20 refusals; the last closed the connection, so the rest were never answered.
    assert codes == ["ok"] * 10 + ["Throttled"] * 20
    assert set(connections_api.deleted) == {"c-flood"}  # messages already in flight close it again: no harm
    assert [getattr(frame, "request_id", None) for frame in frames(connections_api, "c-calm")] == ["calm"]


def test_the_bucket_refills_at_its_rate_and_forgives_strikes(stack: Stack) -> None:
    limiter = DynamoLimiter(stack.table_name)
    rate = MessageRate(per_second=5, burst=10, strikes=20)
    assert connect(stack, "c-bob", "bob") == 200
    start = int(time.time() * 1000)

    assert [limiter.take("c-bob", start, rate) for _ in range(12)] == [0] * 10 + [1, 2]
    assert limiter.take("c-bob", start + 199, rate) == 3  # not quite one interval later
    assert limiter.take("c-bob", start + 200, rate) == 0  # one message's worth has come back
    assert limiter.take("c-bob", start + 60_000, rate) == 0  # full again: strikes forgiven
    assert [limiter.take("c-bob", start + 60_000, rate) for _ in range(10)] == [0] * 9 + [1]
    assert limiter.take("c-unknown", start, rate) == rate.strikes  # no connection item: nothing to admit
