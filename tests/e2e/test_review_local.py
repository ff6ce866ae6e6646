"""The review hook end to end on the local stack (issue 12's "Done when"): the CommandFunction invokes
the sample ReviewFunction through the local endpoint's Lambda Invoke, in its own worker process.

A stack of this module's own, with the sample's word lists and a budget given as template parameters:
500 ms, so that a loaded machine still answers in time, where the slow word's answer comes 1 s late."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from roomcast.models import AddComment, SetRoomPolicy
from support.chat_users import User, frames_until, in_room, outcome, send, subscribed, texts
from support.cli_local import roomcast
from support.local_stack import RunningStack, start_up

pytestmark = pytest.mark.e2e
REJECTED = 3
PARAMETERS = [
    "ReviewBlockedWords=spam",
    "ReviewMaskedWords=darn",
    "ReviewSlowWords=sloth",
    "ReviewBudgetMs=500",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_up(tmp_path_factory.mktemp("review"), "--parameter-overrides", *PARAMETERS)
    yield running
    running.up.stop()
    assert running.up.process is not None and running.up.process.returncode == 0, running.up.log.read_text()


def reviewed_room(stack: RunningStack, sockets: ExitStack, room: str, mode: str) -> list[User]:
    """Room ``room`` by alice, bob a member, in review mode ``mode``."""
    users = in_room(stack, room, sockets, "alice", "bob")
    policy = SetRoomPolicy.model_validate({"roomId": room, "userId": "alice", "reviewMode": mode})
    assert outcome(stack, send(users[0], policy))["Status"] == "applied"
    return users


def test_a_denied_word_is_refused_with_its_reason_and_a_masked_one_is_written_masked(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    alice, bob = reviewed_room(stack, sockets, room, "failClosed")
    watch = alice.watch(room)
    subscribed(watch)

    denied = send(bob, AddComment(room_id=room, user_id="bob", text="buy spam here"))
    masked = send(bob, AddComment(room_id=room, user_id="bob", text="oh darn it"))

    assert outcome(stack, denied)["Status"] == "rejected"
    status = roomcast(stack, "status", denied)
    assert (status.returncode, status.stdout) == (REJECTED, f"{denied} rejected Denied: blocked word: spam\n")
    assert outcome(stack, masked)["Status"] == "applied"
    assert texts(frames_until(watch, lambda f: bool(texts(f)))) == ["oh **** it"]


def test_a_fail_closed_room_refuses_while_the_hook_times_out_and_a_fail_open_room_accepts(
    stack: RunningStack, sockets: ExitStack, room: str
) -> None:
    _, closed_bob = reviewed_room(stack, sockets, f"{room}-closed", "failClosed")
    _, open_bob = reviewed_room(stack, sockets, f"{room}-open", "failOpen")

    refused = send(closed_bob, AddComment(room_id=f"{room}-closed", user_id="bob", text="a sloth writes"))
    accepted = send(open_bob, AddComment(room_id=f"{room}-open", user_id="bob", text="a sloth writes"))

    found = outcome(stack, refused)
    assert (found["Status"], '"code":"ReviewUnavailable"' in found["Outcome"]) == ("rejected", True)
    assert outcome(stack, accepted)["Status"] == "applied"
