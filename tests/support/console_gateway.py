"""The local stack's console on a gateway of its own, for tests of the CLI's way through it
(roomcast_cli/via_console.py) without starting the whole stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from roomcast_local.console import Console, LogRing
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway


class RecordingConsole(Console):
    """The real console, which also keeps each command body it was asked to publish (a test tells by
    them which way the CLI went)."""

    def __init__(self, state_path: Path) -> None:
        super().__init__(state_path, LogRing(), "v1")
        self.bodies: list[dict[str, Any]] = []

    def publish(self, body: dict[str, Any]) -> dict[str, str]:
        self.bodies.append(dict(body))
        return super().publish(body)


@contextmanager
def console_gateway(state_path: Path) -> Iterator[tuple[str, RecordingConsole]]:
    """A gateway on a free port serving only the console of the stack ``state_path`` describes: its
    base URL (what a state file's callback_url names) and the console."""
    console = RecordingConsole(state_path)
    gateway = WebSocketGateway(routes={}, authorizer=None, config=GatewayConfig(port=0, identity_source=None))
    gateway.subapps["/console"] = console.app
    gateway.start_in_thread()
    try:
        yield gateway.callback_url, console
    finally:
        gateway.stop_thread()
