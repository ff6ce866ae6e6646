"""Issue 10 point 4, the third review of the frame window, on the windows' fake (tests/support/memory_windows.py)
as on DynamoDB (tests/integration/test_window_recovery.py): what an exit reads, and a batch alone over the byte
limit."""

from __future__ import annotations

from roomcast.adapters.dynamodb.windows import HANDED_RUN, OPEN_WINDOW_HORIZON_SECONDS, SETTLED_SECONDS, unposted
from roomcast.domain.chat import CommentView
from roomcast.usecases.pacing import Appended
from support.memory_windows import MemoryWindows

NOW = 1_800_000_000


def views(*texts: str) -> list[CommentView]:
    return [
        CommentView(comment_id=t, user_id="u1", text=t, created_at="2026-11-30T23:00:00.000Z", position=f"{i:09d}")
        for i, t in enumerate(texts)
    ]


def test_an_exit_reads_back_to_a_run_of_settled_windows_handed_over() -> None:
    windows = MemoryWindows(clock=lambda: NOW)
    feed = "big#i1"
    # Given a room paced at 1 s, its windows handed over but one still retrying, one closed and one dead-lettered
    for start in range(NOW - 600, NOW):
        windows.append(feed, start, views(f"w{start}"), NOW + 3600)
        windows.close(feed, start)
        windows.mark_handed(feed, start)
    windows.items[(feed, NOW - 30)].handed = False  # its flush reached nobody: retried
    windows.items[(feed, NOW - 500)].handed = False  # its flush dead-lettered long ago
    windows.append(feed, NOW, views("open"), NOW + 3600)

    assert sorted(c.text for c in windows.held(feed).comments) == ["open", f"w{NOW - 30}"]


def test_the_read_stops_only_at_a_full_run_of_settled_heads_handed_over() -> None:
    settled = NOW - SETTLED_SECONDS
    young = [(NOW - 1, True), (NOW - 2, False)]
    broken_run = [(settled - n, True) for n in range(HANDED_RUN - 1)] + [(settled - 10, False)]
    run = [(settled - 20 - n, True) for n in range(HANDED_RUN)] + [(settled - 40, False)]

    assert unposted(young + broken_run + run, NOW) == [NOW - 2, settled - 10]


def test_a_batch_alone_over_the_byte_limit_is_refused_without_sealing_the_window() -> None:
    windows = MemoryWindows(max_bytes=2_000)
    feed = "art#i1"
    assert windows.append(feed, NOW, views("a"), NOW + 3600) is Appended.FIRST
    windows.mark_sent(feed, NOW)

    assert windows.append(feed, NOW, views("x" * 3_000), NOW + 3600) is Appended.REFUSED
    assert windows.append(feed, NOW, views("b"), NOW + 3600) is Appended.JOINED


def test_an_exit_reads_no_window_older_than_the_horizon_as_dynamo_windows() -> None:
    windows = MemoryWindows(clock=lambda: NOW)
    feed = "big#i1"
    # Given a window never handed over (its flush dead-lettered) just past the horizon, and one just within
    for start in (NOW - OPEN_WINDOW_HORIZON_SECONDS - 1, NOW - OPEN_WINDOW_HORIZON_SECONDS):
        windows.append(feed, start, views(f"w{start}"), NOW + 3600)

    assert [c.text for c in windows.held(feed).comments] == [f"w{NOW - OPEN_WINDOW_HORIZON_SECONDS}"]
