"""The results model: one figure, the workload that produced it, and its baseline from the same run."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``ratio`` is always value / baseline, so below 1 means "less than the baseline"."""

    name: str  # stable id, "<benchmark>/<case>/<metric>"; docs/capacity.md refers to figures by it
    workload: str
    value: float | None  # None: not measured in this run, and ``notes`` says why
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    notes: str = ""

    @property
    def benchmark(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Run:
    """Everything one `python -m bench` wrote: the figures and the machine they were measured on."""

    mode: str  # "full" or "smoke"
    figures: list[Figure] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    # benchmark -> when its figures were measured: a `--only` run keeps the other benchmarks' figures
    # of the last run, each still beside the baseline of its own run
    measured_at: dict[str, str] = field(default_factory=dict)

    def add(self, benchmark: str, figures: Sequence[Figure], measured_at: str) -> None:
        """One benchmark's figures, replacing any it had (from an earlier run kept by ``keep_others``)."""
        self.figures = [f for f in self.figures if f.benchmark != benchmark] + list(figures)
        self.measured_at[benchmark] = measured_at

    def keep_others(self, earlier: Path, running: Sequence[str]) -> None:
        """The figures of benchmarks this run does not measure, from the results file it replaces."""
        if not earlier.exists():
            return
        data = json.loads(earlier.read_text())
        fields = Figure.__dataclass_fields__
        kept = [Figure(**{k: v for k, v in f.items() if k in fields}) for f in data.get("figures", [])]
        for benchmark in dict.fromkeys(f.benchmark for f in kept):
            if benchmark not in running:
                when = data.get("measured_at", {}).get(benchmark, data.get("started_at", "?"))
                self.add(benchmark, [f for f in kept if f.benchmark == benchmark], when)

    def machine(self) -> dict[str, Any]:
        return {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 1),
            "machine": self.machine(),
            "failures": self.failures,
            "measured_at": self.measured_at,
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
        }

    def as_markdown(self) -> str:
        machine = self.machine()
        lines = [
            "# Roomcast benchmark results",
            "",
            f"`python -m bench` ({self.mode}), started {self.started_at}, took {self.seconds:.0f} s on "
            f"{machine['cpus']} CPUs, Python {machine['python']} ({machine['platform']}).",
            "Ratio is value / baseline. The same figures are in `latest.json`; what they mean for production "
            "is in [docs/capacity.md](../../docs/capacity.md).",
            "",
        ]
        if self.failures:
            lines += ["**Failed benchmarks:**", "", *[f"- {failure}" for failure in self.failures], ""]
        for benchmark in dict.fromkeys(f.benchmark for f in self.figures):
            lines += [
                f"## {benchmark}",
                "",
                *([f"Measured {self.measured_at[benchmark]}.", ""] if benchmark in self.measured_at else []),
                "| figure | workload | value | baseline | ratio | notes |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            for figure in (f for f in self.figures if f.benchmark == benchmark):
                baseline = (
                    f"{_number(figure.baseline)} {figure.unit} ({figure.baseline_label})"
                    if figure.baseline is not None
                    else figure.baseline_label or "—"
                )
                cells = [
                    f"`{figure.name.split('/', 1)[1]}`",
                    figure.workload,
                    f"{_number(figure.value)} {figure.unit}" if figure.value is not None else "not measured",
                    baseline,
                    f"{figure.ratio:.3g}" if figure.ratio is not None else "—",
                    figure.notes,
                ]
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
            lines.append("")
        return "\n".join(lines)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """latest.json and latest.md, each replaced whole so a reader never sees half a file."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in (
            ("latest.json", json.dumps(self.as_json(), indent=2) + "\n"),
            ("latest.md", self.as_markdown()),
        ):
            target = directory / name
            temporary = directory / f"{name}.tmp"
            temporary.write_text(text)
            temporary.replace(target)
            written.append(target)
        return written[0], written[1]


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _cell(text: str) -> str:
    """Markdown table cells cannot hold pipes or line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]
