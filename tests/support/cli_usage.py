"""The `roomcast` CLI called in-process, and the one line it prints when no local stack answers."""

from __future__ import annotations

import pytest

from roomcast_cli.main import main

NOT_RUNNING = "roomcast: the local stack is not running: start it with `make run`"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err
