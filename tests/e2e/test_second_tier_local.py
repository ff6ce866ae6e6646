"""Issue 10's second fan-out tier on the local stack: a room of 2,000 live sockets gets every comment exactly
once through the FanoutFunction (the template's FanoutQueue mapping, run by the stack), in position order:
within a stream batch (one slice holds the batch's frames), and across batches (docs/websocket.md,
"Ordering": the FIFO fan-out queue keeps a connection's slices in one message group, posted in turn).

The stack runs with a low FanoutThreshold and FanoutSliceSize (`up --parameter-overrides`), so each stream
batch of the room is handed over in slices; one client process holds every socket (bench/room_sockets.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from bench.room_sockets import RoomSockets
from roomcast.auth import issue_token
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from support.local_stack import RunningStack, start_up, wait_until

pytestmark = pytest.mark.e2e

SOCKETS = 2000
CONNECTIONS_PER_USER = 10  # template.yaml's CONNECTIONS_PER_USER
SLICE_SIZE = 250
COMMENTS = 5


@pytest.fixture(scope="module")
def tiered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_up(
        tmp_path_factory.mktemp("tiered"),
        "--parameter-overrides",
        "FanoutThreshold=100",
        f"FanoutSliceSize={SLICE_SIZE}",
    )
    yield running
    running.up.stop()
    assert running.up.process is not None and running.up.process.returncode == 0, running.up.log.read_text()


def members_of(stack: RunningStack, room: str, users: list[str]) -> None:
    """``users[0]`` creates ``room`` and the others join it; returns once every join is applied."""
    stack.send(CreateChatRoom(room_id=room, user_id=users[0]))
    for user in users[1:]:
        stack.send(JoinChatRoom(room_id=room, user_id=user))
    store = stack.store()
    incarnation = wait_until(lambda: (r := store.rooms.get_room(room)) and r.incarnation, what="room created")
    wait_until(
        lambda: store.rooms.members_among(room, incarnation, set(users)) == set(users),
        timeout=180,
        what="joins applied",
    )


def test_a_room_of_2000_sockets_gets_every_comment_once_through_the_second_tier(
    tiered: RunningStack,
) -> None:
    # The template's visibility timeout for slices, not the suite's 2 s: on a loaded machine a slice may take
    # longer than 2 s to post, and SQS would hand it to a second poller meanwhile (Lambda requires the
    # queue's timeout to be at least the function's, 10 s).
    tiered.client("sqs").set_queue_attributes(
        QueueUrl=tiered.state.outputs["FanoutQueueUrl"], Attributes={"VisibilityTimeout": "30"}
    )
    # Given a room of 200 members, each with 10 connections subscribed: 2,000 sockets
    room = f"big-{uuid.uuid4().hex[:8]}"
    users = [f"{room}-u{n:03d}" for n in range(SOCKETS // CONNECTIONS_PER_USER)]
    members_of(tiered, room, users)
    secret = tiered.client("secretsmanager").get_secret_value(SecretId=tiered.state.outputs["JwtSecretArn"])
    # A user's connections far apart in the list: its quota's slots are taken one at a time.
    urls = [
        f"{tiered.state.ws_url}?token={issue_token(user, secret['SecretString'])}"
        for _ in range(CONNECTIONS_PER_USER)
        for user in users
    ]
    log_offset = tiered.up.log.stat().st_size

    # When one author writes five comments (one message group: applied, and positioned, in order)
    texts = [f"tier {n}" for n in range(COMMENTS)]
    received = comments_to_sockets(tiered, room, users[0], texts, urls, timeout=300)

    # Then every socket has every comment exactly once, in position order across the stream batches: a
    # socket's slices of consecutive batches share its bucket's message group, posted one after the other
    # (before message groups, 750 of 2,000 sockets once got "tier 0" after "tier 1" to "tier 3")
    assert len(received) == SOCKETS
    wrong = [n for n, got in enumerate(received) if sorted(got) != texts]
    assert not wrong, f"{len(wrong)} sockets got something else, the first: {received[wrong[0]]}"
    output = tiered.up.output(log_offset)
    # The one promise made without order: a slice's rest handed on at its invocation's deadline goes
    # behind its group's slices already queued (docs/websocket.md); none is expected here, and if the
    # machine was slow enough for one, only exactly-once holds.
    if "rest handed on" not in output:
        disordered = [n for n, got in enumerate(received) if got != texts]
        assert not disordered, f"{len(disordered)} sockets got comments out of order: {received[disordered[0]]}"
    # ... posted by the second tier: slices of at most 250, every socket in one slice per stream batch (a rest
    # handed on carries connections its parent's line counted already: left out of the sum)
    slices = [int(m) for m in re.findall(r'connections"?[:=] ?(\d+)', fanout_lines(output))]
    assert slices and max(slices) <= SLICE_SIZE
    assert sum(slices) % SOCKETS == 0 and sum(slices) >= SOCKETS


def comments_to_sockets(
    stack: RunningStack, room: str, author: str, texts: list[str], urls: list[str], timeout: float
) -> list[list[str]]:
    """Every URL's socket subscribed to ``room``, then ``texts`` written by ``author``; once every socket got
    as many comments as were written and the fan-out queue is empty, what each socket received."""
    with RoomSockets(urls, room) as sockets:
        for text in texts:
            stack.send(AddComment(room_id=room, user_id=author, text=text))
        sockets.wait_for_comments(len(urls) * len(texts), timeout=timeout)
        wait_until(lambda: queue_empty(stack, "FanoutQueueUrl"), timeout=60, what="the fan-out queue drained")
        return sockets.received()


def queue_empty(stack: RunningStack, output: str) -> bool:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.state.outputs[output],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def fanout_lines(output: str) -> str:
    """The FanoutFunction's "slice delivered" log lines in the stack's output, but a rest's handed on at a
    deadline (its ``batch`` is "rest:<parent's digest>"): its parent's line counted its connections."""
    return "\n".join(
        line
        for line in output.splitlines()
        if "FanoutFunction" in line and "slice delivered" in line and '"rest:' not in line
    )
