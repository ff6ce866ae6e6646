"""The bench's results file: a partial run (`--only`) keeps the figures of the benchmarks it did not run."""

from __future__ import annotations

import json
from pathlib import Path

from bench.results import Figure, Run


def figure(name: str, value: float) -> Figure:
    return Figure(name=name, workload="w", value=value, unit="s", baseline=2 * value, baseline_label="naive")


def test_a_partial_run_replaces_its_own_benchmarks_and_keeps_the_others(tmp_path: Path) -> None:
    # Given a full run's results
    full = Run(mode="full")
    full.add("fanout", [figure("fanout/C=10/seconds", 1.0)], "2026-11-30T10:00:00+00:00")
    full.add("tiers", [figure("tiers/C=2000/seconds", 3.0), figure("tiers/C=2000/slice-seconds", 0.5)], "t1")
    full.write(tmp_path)

    # When only the tiers are measured again
    partial = Run(mode="full")
    partial.keep_others(tmp_path / "latest.json", ["tiers"])
    partial.add("tiers", [figure("tiers/C=5000/seconds", 7.0)], "2026-11-30T21:00:00+00:00")
    partial.write(tmp_path)

    # Then the fan-out's figures and their date are kept, and the tiers' are only the new ones
    written = json.loads((tmp_path / "latest.json").read_text())
    assert [f["name"] for f in written["figures"]] == ["fanout/C=10/seconds", "tiers/C=5000/seconds"]
    assert written["figures"][0]["baseline"] == 2.0
    assert written["measured_at"] == {"fanout": "2026-11-30T10:00:00+00:00", "tiers": "2026-11-30T21:00:00+00:00"}
    markdown = (tmp_path / "latest.md").read_text()
    assert "Measured 2026-11-30T10:00:00+00:00." in markdown
    assert "tiers/C=2000" not in markdown


def test_results_of_an_older_harness_without_dates_take_the_run_start(tmp_path: Path) -> None:
    old = {"started_at": "2026-11-29T08:00:00+00:00", "figures": [{**figure("cli/x/wall", 1.0).__dict__}]}
    (tmp_path / "latest.json").write_text(json.dumps(old))

    run = Run(mode="full")
    run.keep_others(tmp_path / "latest.json", ["tiers"])

    assert [f.name for f in run.figures] == ["cli/x/wall"]
    assert run.measured_at == {"cli": "2026-11-29T08:00:00+00:00"}


def test_no_earlier_results_keep_nothing(tmp_path: Path) -> None:
    run = Run(mode="full")
    run.keep_others(tmp_path / "latest.json", ["tiers"])
    assert run.figures == [] and run.measured_at == {}
