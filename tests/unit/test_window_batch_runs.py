"""Issue 10 point 4, the seventh review's M1: an exit reads the batch items of its held windows by one range
Query per run of them with no other window's batch items between (adapters/dynamodb/window_orphans.py)."""

from __future__ import annotations

from roomcast.adapters.dynamodb.window_orphans import batch_runs


def test_held_windows_among_the_heads_read_join_unless_a_head_not_held_lies_between() -> None:
    read = {start: {} for start in (10, 11, 12, 13, 15)}
    assert batch_runs([10, 11, 13, 15], read, {}) == [(10, 11), (13, 15)]  # 12 is handed over; 14 none


def test_held_windows_older_than_the_heads_read_join_only_when_adjacent() -> None:
    read = {start: {} for start in (100, 101)}
    seconds = {1: 1, 2: 1, 3: 2, 5: 2, 9: 2}
    runs = batch_runs([9, 1, 2, 3, 5, 100, 101], read, seconds)
    assert runs == [(1, 5), (9, 9), (100, 101)]  # 5 ends at 7, not 9; 9 ends long before 100


def test_no_held_window_is_no_query() -> None:
    assert batch_runs([], {}, {}) == []
