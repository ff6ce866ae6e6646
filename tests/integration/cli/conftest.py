"""The local stack the CLI's tests talk to (tests/support/cli_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli_stack import Local, local_stack


@pytest.fixture
def local(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Local]:
    yield from local_stack(moto_server, monkeypatch, tmp_path)
