"""`python -m bench [--smoke] [--out DIR] [--only NAME ...]`: run the benchmarks, write latest.md and latest.json.

Full size (what `make bench` runs) writes bench/results/, the figures docs/capacity.md builds on, in
about half an hour on two cores, rewritten after each benchmark. ``--only NAME`` measures those benchmarks
and keeps the other benchmarks' figures of the results it replaces, each section dated. ``--smoke``
runs every benchmark at a tiny size, in well under a minute, into a temporary directory unless ``--out``
says otherwise: the test suite uses it to check that the harness works, never how fast anything is.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import local, meter
from bench.results import Figure, Run

RESULTS = Path(__file__).resolve().parent / "results"
# In this order: the import timings first, on a machine nothing else has warmed or loaded yet.
BENCHMARKS = (
    "coldstart",
    "cli",
    "dynamodb",
    "moderation",
    "review",
    "cleanup",
    "fanout",
    "tiers",
    "e2e",
    "stop",
    "local_dynamodb",
    "ordering",
    "shards",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness, measures nothing")
    parser.add_argument("--out", type=Path, help="where to write latest.md and latest.json")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    arguments = parser.parse_args(argv)
    out: Path = arguments.out or (Path(tempfile.mkdtemp(prefix="roomcast-bench-")) if arguments.smoke else RESULTS)

    # moto's server and the WebSocket gateway log a line per request otherwise.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    local.isolate_aws()
    # Before any botocore session exists, so that every client this process builds is metered.
    meter.install()

    run = Run(mode="smoke" if arguments.smoke else "full")
    chosen = arguments.only or BENCHMARKS
    if arguments.only and not arguments.smoke:
        run.keep_others(out / "latest.json", chosen)
    began = time.monotonic()
    for name in chosen:
        print(f"bench: {name}...", flush=True)
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        try:
            figures: list[Figure] = module.run(arguments.smoke)
        except Exception:  # noqa: BLE001 - one failed benchmark must not lose the others' figures
            traceback.print_exc()
            run.failures.append(f"{name}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
            continue
        run.add(name, figures, datetime.now(UTC).isoformat(timespec="seconds"))
        run.seconds = time.monotonic() - began
        # After every benchmark, so that a run stopped half-way keeps what it measured
        run.write(out)
        print(f"bench: {name} done in {time.monotonic() - started:.0f} s ({len(figures)} figures)", flush=True)
    run.seconds = time.monotonic() - began
    json_path, markdown_path = run.write(out)
    print(f"bench: wrote {markdown_path} and {json_path}", flush=True)
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
