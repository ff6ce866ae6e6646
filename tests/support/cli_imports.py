"""`roomcast` run in a fresh interpreter that reports which of the libraries it watches the call imported
(tests/integration/test_cli_startup.py, tests/e2e/test_cli_console.py)."""

from __future__ import annotations

import json
import subprocess
import sys

# Runs the CLI, then reports which of these top-level packages it had imported.
PROBE = """
import sys
from roomcast_cli.main import main
status = main(sys.argv[1:])
watched = {"boto3", "botocore", "pydantic", "jwt", "websockets", "aiohttp", "moto", "yaml", "cfn_flip"}
watched.add("roomcast_local")
# Modules, by their full name: the facade and what only other verbs use.
watched |= {"roomcast.models", "roomcast.wire", "roomcast.domain.events", "roomcast_cli.watch"}
watched |= {"roomcast_cli.history", "roomcast_cli.invoke", "roomcast_cli.moderate", "botocore.client"}
loaded = {name.split(".")[0] for name in sys.modules} | set(sys.modules)
print(json.dumps(sorted(watched & loaded)), file=sys.stderr)
sys.exit(status)
"""


def probe(environment: dict[str, str], *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import json\n{PROBE}", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def imported(environment: dict[str, str], *argv: str, timeout: float = 120) -> tuple[int, str, list[str]]:
    """Exit status, stdout, and the watched modules the call imported."""
    done = probe(environment, *argv, timeout=timeout)
    *_, report = done.stderr.splitlines()
    return done.returncode, done.stdout, json.loads(report)
