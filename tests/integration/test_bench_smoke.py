"""The benchmark harness runs: `python -m bench --smoke` writes both result files with every figure.

Benchmarks are measurements, not tests: nothing here looks at a time or a rate, only at the shape
of what the harness wrote. It starts the local stack, WebSocket clients and moto (as `make bench`
does, at tiny sizes), hence the e2e marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

OPERATIONS = [
    "createChatRoom",
    "joinChatRoom",
    "addComment",
    "addComment+outcome",
    "addComment-room-check",
    "history-all",
    "history-latest",
    "history-after",
    "history-between",
    "subscribe",
    "fanout-batch",
    "leaveChatRoom",
    "deleteChatRoom",
    "cleanup-subscriptions-page",
    "cleanup-members-page",
    "cleanup-comments-page",
]
FUNCTIONS = [
    "AuthorizerFunction",
    "CommandFunction",
    "ConnectFunction",
    "DisconnectFunction",
    "MessageFunction",
    "StreamFunction",
]
EXPECTED = [
    *(f"dynamodb/{operation}/{metric}" for operation in OPERATIONS for metric in ("requests", "rcu", "wcu")),
    "fanout/C=2,M=2/posts",
    "fanout/C=2,M=2/seconds",
    "fanout/C=2,M=2/cpu-per-post",
    "tiers/C=6,M=2/seconds",
    "tiers/C=6,M=2/handoff-seconds",
    "tiers/C=6,M=2/slice-seconds",
    "e2e/burst/commands-per-second",
    "e2e/burst-one-author/commands-per-second",
    "e2e/rate=2/p50",
    "e2e/rate=2/p95",
    "e2e/rate=2/p99",
    "e2e/ceiling",
    "e2e/moto-addComment",
    *(f"coldstart/import/{function}" for function in FUNCTIONS),
    *(f"coldstart/size/{name}/{kind}" for name in ["SharedLayer", *FUNCTIONS] for kind in ("unzipped", "zipped")),
    *(f"shards/C={size}/{metric}" for size in (5, 20) for metric in ("wall-ms", "cpu-ms")),
    "cleanup/members=50/seconds",
    "cleanup/members=50/requests",
    "cleanup/members=50/wcu",
    "stop/sigint-to-all-gone",
    "stop/restore-at-start",
    "stop/ready",
    "local_dynamodb/comments=50/commands-per-second",
    "local_dynamodb/comments=50/rate-kept",
    "local_dynamodb/outside-endpoint/comments=50/commands-per-second",
    "local_dynamodb/cleanup/members=50/seconds",
    "moderation/addComment/requests",
    "moderation/addComment-slow-mode/wcu",
    "moderation/banUser/wcu",
    "moderation/deleteComment-moderator/requests",
    "review/addComment-reviewed/requests",
    "review/addComment-reviewed/p50",
    "review/invoke/p50",
    "ordering/authors=1/comments-per-s",
    "ordering/authors=10/comments-per-s",
    "cli/comment/wall",
    "cli/comment-console/wall",
    "cli/comment-console/wall-vs-before",
    "cli/comment-console/stack-cpu",
]


def test_the_smoke_run_writes_every_figure_with_its_workload_and_baseline(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        # local_dynamodb starts the local stack six times (three setups, a restart each); ordering ~20 s
        timeout=660,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    results = json.loads((tmp_path / "latest.json").read_text())
    markdown = (tmp_path / "latest.md").read_text()
    figures = {figure["name"]: figure for figure in results["figures"]}
    assert results["mode"] == "smoke"
    assert results["failures"] == []
    assert sorted(set(EXPECTED) - set(figures)) == []
    for name in EXPECTED:
        figure = figures[name]
        assert figure["workload"], name
        assert f"`{name.split('/', 1)[1]}`" in markdown, name
        # Sizes exist only after `sam build`; every other figure is measured even at smoke size,
        # and each against a baseline from the same run.
        if figure["value"] is None:
            assert name.startswith("coldstart/size/") and "sam-build" in figure["notes"], name
        else:
            assert figure["baseline"] is not None and figure["baseline_label"], name
