"""Ports and processes of this machine, for stacks started side by side (tests, benchmarks)."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now: for stacks started side by side (tests, benchmarks)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def child_processes(pid: int) -> list[int]:
    """The ids of a process's children, from /proc (Linux): tests and benchmarks check what a stop leaves."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
    return found
