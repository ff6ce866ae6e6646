"""Issue 10 point 4 on the local stack: a paced room's comments held in its frame window by the StreamFunction
and posted once per window by the FanoutFunction, when the window's delayed flush message comes out of the
fan-out queue (SQS DelaySeconds, honoured by the stack's moto), to real sockets.

The stack runs with the budget and threshold lowered (`up --parameter-overrides`): rooms above 2 live
subscribers are paced at 1 post/s, so a room of 4 sockets gets a window of 4 s.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from test_second_tier_local import comments_to_sockets, members_of

from roomcast.auth import issue_token
from support.local_stack import RunningStack, start_up

pytestmark = pytest.mark.e2e

SOCKETS = 4
COMMENTS = 5


@pytest.fixture(scope="module")
def paced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_up(
        tmp_path_factory.mktemp("paced"), "--parameter-overrides", "PaceThreshold=2", "RoomFrameBudget=1"
    )
    yield running
    running.up.stop()
    assert running.up.process is not None and running.up.process.returncode == 0, running.up.log.read_text()


def test_a_paced_room_gets_each_comment_once_in_order_in_one_frame_per_window(paced: RunningStack) -> None:
    # Given a room of 4 members, each with a socket subscribed
    room = f"paced-{uuid.uuid4().hex[:8]}"
    users = [f"{room}-u{n}" for n in range(SOCKETS)]
    members_of(paced, room, users)
    secret = paced.client("secretsmanager").get_secret_value(SecretId=paced.state.outputs["JwtSecretArn"])
    urls = [f"{paced.state.ws_url}?token={issue_token(user, secret['SecretString'])}" for user in users]
    log_offset = paced.up.log.stat().st_size

    # When one author writes five comments
    texts = [f"paced {n}" for n in range(COMMENTS)]
    received = comments_to_sockets(paced, room, users[0], texts, urls, timeout=120)

    # Then every socket has every comment exactly once, in position order
    assert received == [texts] * SOCKETS
    # ... posted by the FanoutFunction's window flushes: one frame per socket per window, no comment twice
    flushes = flushed(paced.up.output(log_offset))
    assert flushes and sum(comments for comments, _ in flushes) == COMMENTS
    assert all(posts == SOCKETS for _, posts in flushes)


def flushed(output: str) -> list[tuple[int, int]]:
    """The FanoutFunction's "window flushed" log lines in the stack's output: (comments, posts) each."""
    lines = [line for line in output.splitlines() if "FanoutFunction" in line and "window flushed" in line]
    return [
        (int(counted["comments"]), int(counted["posts"]))
        for counted in (dict(re.findall(r"(comments|posts)=(\d+)", line)) for line in lines)
    ]
