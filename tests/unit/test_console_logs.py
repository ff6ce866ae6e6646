"""The console's ring of recent log lines (roomcast_local/console/logs.py)."""

from __future__ import annotations

import pytest

from roomcast_local.console.logs import LogRing


def test_lines_naming_any_needle_come_back_oldest_first() -> None:
    ring = LogRing()
    ring.add("CommandFunction", '{"message":"command applied","key":"cmd#p#c-1"}')
    ring.add("StreamFunction", '{"message":"delivered"}')
    ring.add("CommandFunction", '{"message":"command dead-lettered","messageId":"m-2"}')
    found = ring.matching(["c-1", "m-2"])
    assert [(line.source, line.line) for line in found] == [
        ("CommandFunction", '{"message":"command applied","key":"cmd#p#c-1"}'),
        ("CommandFunction", '{"message":"command dead-lettered","messageId":"m-2"}'),
    ]
    assert ring.matching(["", ""]) == []  # an empty needle would match every line


def test_the_ring_keeps_only_the_latest_lines_and_answers_the_latest_matches() -> None:
    ring = LogRing(capacity=3)
    for number in range(5):
        ring.add("CommandFunction", f"line {number} c-1")
    assert [line.line for line in ring.matching(["c-1"])] == ["line 2 c-1", "line 3 c-1", "line 4 c-1"]
    assert [line.line for line in ring.matching(["c-1"], limit=1)] == ["line 4 c-1"]


def test_tee_keeps_each_line_and_hands_it_on() -> None:
    ring, printed = LogRing(), []
    log = ring.tee(lambda source, line: printed.append((source, line)))
    log("CommandFunction", "c-1 applied")
    assert printed == [("CommandFunction", "c-1 applied")]
    assert [line.line for line in ring.matching(["c-1"])] == ["c-1 applied"]


def test_a_ring_must_hold_at_least_one_line() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        LogRing(capacity=0)
