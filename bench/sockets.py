"""Real WebSocket clients, and the local API Gateway emulator, each in a process of its own.

One asyncio process holds every client socket, so 1,000 of them cost one interpreter, not 1,000
threads; and neither the clients nor the gateway compete for the interpreter lock of the process
whose code is being measured. Processes are spawned (not forked: the parent runs threads, moto's
and boto3's, that a fork would copy mid-flight) and talk to the parent over a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import re
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway

_SPAWN = multiprocessing.get_context("spawn")
_STAMP = re.compile(r"^bench (\d+) (\d+)$")  # a comment text the e2e driver writes: "bench <seq> <sent ns>"
_OPEN_AT_ONCE = 50  # handshakes in flight: the gateway invokes $connect for each
_SUBSCRIBE_TRIES = 60  # a subscribe refused for a reason a retry can fix is retried (see _subscribe)


def stamp(seq: int, sent_ns: int) -> str:
    return f"bench {seq} {sent_ns}"


@dataclass(frozen=True)
class Receipt:
    """One stamped comment as one client first received it."""

    seq: int
    sent_ns: int
    received_ns: int


@dataclass(frozen=True)
class Tally:
    frames: int
    comments: int


class _Child:
    """A spawned process with a pipe, stopped on exit whatever happened."""

    def __init__(self, target: Any, *args: Any) -> None:
        self._pipe, child = _SPAWN.Pipe()
        self._process: BaseProcess = _SPAWN.Process(target=target, args=(child, *args), daemon=True)

    def start(self, timeout: float) -> Any:
        self._process.start()
        return self.receive(timeout)

    def ask(self, command: str, timeout: float = 60) -> Any:
        self._pipe.send(command)
        return self.receive(timeout)

    def receive(self, timeout: float) -> Any:
        if not self._pipe.poll(timeout):
            raise TimeoutError(f"no answer from {self._process.name} in {timeout} s")
        answer = self._pipe.recv()
        if isinstance(answer, tuple) and answer and answer[0] == "error":
            raise RuntimeError(f"{self._process.name}: {answer[1]}")
        return answer

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
                self.ask("stop", timeout=30)
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        self._pipe.close()


# ---- the gateway -----------------------------------------------------------------------------


class Gateway:
    """roomcast_local's API Gateway WebSocket emulator with no routes and no authorizer: clients connect,
    functions (here, the benchmark) post to them through @connections."""

    def __init__(self) -> None:
        self._child = _Child(_serve_gateway)
        self.port = 0

    def __enter__(self) -> Gateway:
        try:
            self.port = int(self._child.start(timeout=60))
        except BaseException:
            self._child.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._child.stop()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_ids(self) -> list[str]:
        ids: list[str] = self._child.ask("ids")
        return ids


def _serve_gateway(pipe: Connection) -> None:
    logging.basicConfig(level=logging.WARNING)
    gateway = WebSocketGateway(routes={}, authorizer=None, config=GatewayConfig(port=0, identity_source=None))
    try:
        gateway.start_in_thread()
    except OSError as error:
        pipe.send(("error", str(error)))
        return
    pipe.send(gateway.port)
    while (command := pipe.recv()) != "stop":
        pipe.send(gateway.connection_ids() if command == "ids" else ("error", f"unknown command {command!r}"))
    gateway.stop_thread()
    pipe.send("stopped")


# ---- the clients -----------------------------------------------------------------------------


class Clients:
    """One WebSocket client per URL, all in one child process; with ``room``, each subscribes to it."""

    def __init__(self, urls: list[str], room: str | None = None, open_timeout: float = 180) -> None:
        self._child = _Child(_serve_clients, urls, room)
        self._open_timeout = open_timeout
        self.count = len(urls)

    def __enter__(self) -> Clients:
        try:
            self._child.start(timeout=self._open_timeout)
        except BaseException:
            self._child.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self._child.stop()

    def tally(self) -> Tally:
        tally: Tally = self._child.ask("tally")
        return tally

    def receipts(self) -> list[Receipt]:
        """Stamped comments received since the last call."""
        receipts: list[Receipt] = self._child.ask("receipts")
        return receipts

    def wait_for_comments(self, total: int, timeout: float) -> Tally:
        """Until the clients have received ``total`` comments in all (or the timeout): the last tally."""
        deadline = time.monotonic() + timeout
        while (tally := self.tally()).comments < total and time.monotonic() < deadline:
            time.sleep(0.05)
        return tally


@dataclass
class _State:
    frames: int = 0
    comments: int = 0
    receipts: list[Receipt] = field(default_factory=list)
    sockets: list[ClientConnection] = field(default_factory=list)


def _serve_clients(pipe: Connection, urls: list[str], room: str | None) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_clients(pipe, urls, room))


async def _clients(pipe: Connection, urls: list[str], room: str | None) -> None:
    state = _State()
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(_OPEN_AT_ONCE)
    try:
        opened = await asyncio.gather(*(_open(url, state, readers, gate) for url in urls))
        if room is not None:
            # One at a time: moto copies the whole table for every transaction and fails a copy that a
            # concurrent write changes under it (500), so concurrent subscribes mostly make retries.
            for socket, answers in opened:
                await _subscribe(socket, answers, room)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        pipe.send(("error", f"{type(error).__name__}: {error}"))
        await _close(state)
        return
    pipe.send(("ready", len(state.sockets)))
    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command == "tally":
            pipe.send(Tally(state.frames, state.comments))
        elif command == "receipts":
            receipts, state.receipts = state.receipts, []
            pipe.send(receipts)
        elif command == "stop":
            break
        else:
            pipe.send(("error", f"unknown command {command!r}"))
    await _close(state)
    for reader in readers:
        reader.cancel()
    pipe.send("stopped")


async def _open(
    url: str, state: _State, readers: list[asyncio.Task[None]], gate: asyncio.Semaphore
) -> tuple[ClientConnection, asyncio.Queue[dict[str, Any]]]:
    """A connected client, and the queue its reader puts every frame but comments on."""
    async with gate:
        # No proxy (loopback), no compression (API Gateway negotiates none), no size cap on frames.
        socket = await connect(url, proxy=None, compression=None, max_size=None, open_timeout=60, ping_interval=None)
    state.sockets.append(socket)
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    readers.append(asyncio.create_task(_read(socket, state, answers)))
    return socket, answers


async def _subscribe(socket: ClientConnection, answers: asyncio.Queue[dict[str, Any]], room: str) -> None:
    request = json.dumps({"action": "subscribe", "roomId": room, "requestId": "bench"})
    for _ in range(_SUBSCRIBE_TRIES):
        await socket.send(request)
        answer = await asyncio.wait_for(answers.get(), timeout=30)
        if answer.get("type") == "subscribed":
            return
        # NotAMember: the join may still be in the queue. API Gateway's "Internal server error": the
        # function failed on a transient error (a moto 500, say); a client retries both.
        if answer.get("code") != "NotAMember" and answer.get("message") != "Internal server error":
            raise RuntimeError(f"subscribe refused: {answer}")
        await asyncio.sleep(0.5)
    raise RuntimeError(f"still not subscribed to {room} after {_SUBSCRIBE_TRIES} tries")


async def _read(socket: ClientConnection, state: _State, answers: asyncio.Queue[dict[str, Any]]) -> None:
    seen: set[int] = set()  # delivery is at least once: a client keeps the first receipt of each comment
    with contextlib.suppress(ConnectionClosed):
        async for message in socket:
            received = time.time_ns()
            frame = json.loads(message)
            state.frames += 1
            if frame.get("type") != "comments":
                answers.put_nowait(frame)
                continue
            for comment in frame["comments"]:
                state.comments += 1
                match = _STAMP.match(comment["text"])
                if match and int(match[1]) not in seen:
                    seen.add(int(match[1]))
                    state.receipts.append(Receipt(int(match[1]), int(match[2]), received))


async def _close(state: _State) -> None:
    await asyncio.gather(*(socket.close() for socket in state.sockets), return_exceptions=True)
