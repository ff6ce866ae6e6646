"""The local stack enforces the quotas of docs/websocket.md with the same handlers: one client floods and is
throttled, then closed, while another client in the same room keeps receiving."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from roomcast.models import FRAME_ADAPTER, AddComment, ErrorFrame
from support.chat_users import frames_until, in_room, subscribed, texts
from support.local_stack import RunningStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def flood(client: ClientConnection, room: str, deadline: float) -> list[Any]:
    """History requests as fast as the socket takes them, until the server closes it; the frames received."""
    received: list[Any] = []
    n = 0
    try:
        while time.monotonic() < deadline:
            client.send(
                json.dumps({"action": "history", "roomId": room, "mode": "latest", "limit": 1, "requestId": f"f{n}"})
            )
            n += 1
            while (raw := _poll(client)) is not None:
                received.append(FRAME_ADAPTER.validate_json(raw))
    except ConnectionClosed:
        return received
    pytest.fail(f"the flooding connection was not closed after {n} messages")


def _poll(client: ClientConnection) -> str | bytes | None:
    try:
        return client.recv(timeout=0.005)
    except TimeoutError:
        return None


def test_a_flooding_client_is_throttled_and_closed_while_the_room_goes_on(
    stack: RunningStack, sockets: ExitStack
) -> None:
    room = f"flood-{uuid.uuid4().hex[:8]}"
    alice, bob = in_room(stack, room, sockets, "alice", "bob")
    calm, noisy = alice.watch(room), bob.watch(room)
    subscribed(calm)
    subscribed(noisy)

    alice.send(AddComment(room_id=room, user_id="alice", text="during"))
    frames = flood(noisy, room, deadline=time.monotonic() + 120)
    alice.send(AddComment(room_id=room, user_id="alice", text="after"))

    refusals = [f.code for f in frames if isinstance(f, ErrorFrame)]
    assert refusals and set(refusals) == {"Throttled"}
    got = frames_until(calm, lambda f: "after" in texts(f), timeout=30)
    assert texts(got) == ["during", "after"]
