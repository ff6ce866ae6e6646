"""Issue 11, point 5 on the fake: a reconnect with ``since`` misses nothing although positions, taken from
the writers' clocks before commit, do not follow commit order. Eight writers' comments commit up to 200 ms
after their positions were taken, in commit order; a client reconnects at every point of that order."""

from __future__ import annotations

import random
from collections.abc import Callable

from roomcast.domain.chat import CommentView, Room
from roomcast.domain.commands import AddComment, JoinChatRoom
from roomcast.domain.events import CommentAdded
from roomcast.usecases import commands
from roomcast.usecases.ports import Store
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.frames import FRAME_ADAPTER, CommentsFrame, HistoryFrame, SubscribedFrame
from roomcast.wire.requests import HistoryRequest, SubscribeRequest
from support.memory import MemoryTable
from support.resume import Collected, resume_everywhere

WRITERS, EACH, START_MS, MAX_COMMIT_DELAY_MS = 8, 40, 1_764_097_541_000, 200


def write_out_of_order(store: Store, seed: int) -> list[CommentView]:
    """Each writer's comments in its own order (FIFO group), positioned at ``taken`` and committed at
    ``taken`` + a delay: applied in commit order with a clock that says ``taken``. Returns commit order."""
    rng = random.Random(seed)
    planned: list[tuple[int, int, str]] = []  # (commit ms, taken ms, author)
    for writer in range(WRITERS):
        committed = START_MS
        for _ in range(EACH):
            taken = committed + rng.randrange(1, 30)
            committed = taken + rng.randrange(0, MAX_COMMIT_DELAY_MS)
            planned.append((committed, taken, f"w{writer}"))
    written = []
    for n, (_, taken, author) in enumerate(sorted(planned)):
        event = commands.apply(AddComment(room_id="art", user_id=author, text=f"m{n}"), store, lambda t=taken: t)
        assert isinstance(event.event, CommentAdded)
        written.append(event.event.comment)
    return written


def test_positions_do_not_follow_commit_order_here(art: Room, store: Store, table: MemoryTable) -> None:
    for writer in range(WRITERS):
        commands.apply(JoinChatRoom(room_id="art", user_id=f"w{writer}"), store)
    written = write_out_of_order(store, seed=11)

    late = sum(1 for n, c in enumerate(written) if any(c.position < e.position for e in written[:n]))
    assert late > WRITERS * EACH // 10  # the precondition of the tests below


def _routes(store: Store, window_ms: int) -> Callable[[Collected], Routes]:
    return lambda poster: Routes(store, poster, 7_500, 32 * 1024, replay_window_ms=window_ms)


def test_without_a_window_a_reconnect_misses_comments_committed_late(art: Room, store: Store) -> None:
    for writer in range(WRITERS):
        commands.apply(JoinChatRoom(room_id="art", user_id=f"w{writer}"), store)
    written = write_out_of_order(store, seed=11)

    result = resume_everywhere(_routes(store, 0), "art", "w0", written, stop_at_first_miss=True)

    assert result.missed_at


def test_with_the_window_a_reconnect_at_any_point_misses_nothing(art: Room, store: Store) -> None:
    for writer in range(WRITERS):
        commands.apply(JoinChatRoom(room_id="art", user_id=f"w{writer}"), store)
    written = write_out_of_order(store, seed=11)

    result = resume_everywhere(_routes(store, 1_000), "art", "w0", written)

    assert (result.points, result.missed_at) == (WRITERS * EACH, [])


def test_the_window_is_one_page_nearest_since_and_the_cursor_still_pages_after_since(
    art: Room, store: Store, write: Callable[..., list[CommentView]]
) -> None:
    written = write(300)  # 1 ms apart: all within the window
    poster = Collected()
    routes = Routes(store, poster, 7_500, 32 * 1024, replay_window_ms=35_000)
    caller = Caller("c-bob", "bob", 0, "r")

    routes.subscribe(caller, SubscribeRequest(action="subscribe", room_id="art", since=written[149].position), "s")
    *replay, subscribed = [FRAME_ADAPTER.validate_json(d) for d in poster.received["c-bob"]]
    assert isinstance(subscribed, SubscribedFrame) and subscribed.replayed == 200
    assert [c for f in replay if isinstance(f, CommentsFrame) for c in f.comments] == written[50:250]

    routes.history(
        caller,
        HistoryRequest.model_validate(
            {
                "action": "history",
                "roomId": "art",
                "mode": "after",
                "from": written[149].position,
                "cursor": subscribed.cursor,
            }
        ),
        "h",
    )
    page = FRAME_ADAPTER.validate_json(poster.received["c-bob"][-1])
    assert isinstance(page, HistoryFrame) and page.comments == written[250:300]
