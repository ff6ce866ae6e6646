"""A room of real WebSocket clients in one child process (one asyncio loop), each recording what it received.

For the second fan-out tier (issue 10): every client keeps the texts of the comments it received, in the
order received, so a caller can check that each connection got every comment exactly once and in position
order, whichever tier posted it. Used by the e2e test of the local stack and by ``bench/tiers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.sockets import Clients, Tally, _Child

_OPEN_AT_ONCE = 50  # handshakes in flight: the gateway invokes the authorizer and $connect for each
_SUBSCRIBE_AT_ONCE = 8
_SUBSCRIBE_TRIES = 60
_RETRYABLE = ("NotAMember", "Internal server error", "MessageRateExceeded")


class RoomSockets(Clients):
    """``with RoomSockets(urls, room) as room:`` every URL connected and subscribed to ``room`` (with ``room``
    None, connected only: the caller subscribes them, as bench/tiers.py does on a gateway without routes);
    ``tally`` and ``wait_for_comments`` as Clients has them, and what each client received."""

    def __init__(self, urls: list[str], room: str | None, open_timeout: float = 600) -> None:
        # Not Clients.__init__: a child process of its own, which keeps what each client received.
        self._child = _Child(_serve, urls, room)
        self._open_timeout = open_timeout
        self.count = len(urls)

    def __enter__(self) -> RoomSockets:
        super().__enter__()
        return self

    def received(self) -> list[list[str]]:
        """Per client, in the order of ``urls``: the comment texts it received so far, in arrival order."""
        texts: list[list[str]] = self._child.ask("received", timeout=120)
        return texts


def _serve(pipe: Connection, urls: list[str], room: str | None) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_clients(pipe, urls, room))


async def _clients(pipe: Connection, urls: list[str], room: str | None) -> None:
    texts: list[list[str]] = [[] for _ in urls]
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    opening, subscribing = asyncio.Semaphore(_OPEN_AT_ONCE), asyncio.Semaphore(_SUBSCRIBE_AT_ONCE)

    async def join(n: int) -> None:
        async with opening:
            # No keep-alive pings: thousands of idle clients would ping the gateway being measured.
            socket = await connect(
                urls[n], proxy=None, compression=None, max_size=None, open_timeout=120, ping_interval=None
            )
        sockets.append(socket)
        answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        readers.append(asyncio.create_task(_read(socket, texts[n], answers)))
        if room is None:
            return
        async with subscribing:
            await _subscribe(socket, answers, room)

    try:
        await asyncio.gather(*(join(n) for n in range(len(urls))))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        pipe.send(("error", f"{type(error).__name__}: {error}"))
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        return
    pipe.send(("ready", len(sockets)))
    while (command := await asyncio.to_thread(pipe.recv)) != "stop":
        if command == "received":
            pipe.send([list(t) for t in texts])
        elif command == "tally":
            comments = sum(len(t) for t in texts)
            pipe.send(Tally(comments, comments))  # frames: not counted here
        else:
            pipe.send(("error", f"unknown command {command!r}"))
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    for reader in readers:
        reader.cancel()
    pipe.send("stopped")


async def _subscribe(socket: ClientConnection, answers: asyncio.Queue[dict[str, Any]], room: str) -> None:
    request = json.dumps({"action": "subscribe", "roomId": room})
    for _ in range(_SUBSCRIBE_TRIES):
        await socket.send(request)
        answer = await asyncio.wait_for(answers.get(), timeout=60)
        if answer.get("type") == "subscribed":
            return
        # A join still queued, a transient function failure, or the quota's pace: a client retries them.
        if answer.get("code") not in _RETRYABLE and answer.get("message") not in _RETRYABLE:
            raise RuntimeError(f"subscribe refused: {answer}")
        await asyncio.sleep(0.5)
    raise RuntimeError(f"still not subscribed to {room} after {_SUBSCRIBE_TRIES} tries")


async def _read(socket: ClientConnection, texts: list[str], answers: asyncio.Queue[dict[str, Any]]) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in socket:
            frame = json.loads(message)
            if frame.get("type") == "comments":
                texts.extend(comment["text"] for comment in frame["comments"])
            else:
                answers.put_nowait(frame)
