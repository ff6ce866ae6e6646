"""moto's WSGI app served over HTTP/1.1 keep-alive connections.

werkzeug's development server, which moto's own server runs on, answers ``Connection: close`` to every
request (it cannot drain a request body it did not read before the next request line), so every
botocore call to the local endpoint opened a new TCP connection and paid a new handler thread and a
10 ms drain wait on the server's side; a comment makes three such calls. Here the request body is
read through a stream limited to its ``Content-Length`` and drained to that length after the app has
answered, the answer is buffered and sent with its length, and the connection stays open for the
next request of the client's pool. Requests whose body has no length (chunked, or waiting on
``Expect: 100-continue``) are served by werkzeug's own code, which closes the connection after them.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import IO, Any, cast

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import ThreadedWSGIServer
from werkzeug.wsgi import LimitedStream

# An idle client connection is closed after this long: botocore's pool notices and opens another.
IDLE_SECONDS = 120.0
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


class KeepAliveServer(ThreadedWSGIServer):
    """A threaded WSGI server that knows its open connections, to close them when it stops."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Ends every kept connection: its handler thread reads end-of-stream and returns."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class KeepAliveHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    # Headers and body are two writes: on a kept connection Nagle's algorithm would hold the body back
    # until the client's delayed ACK of the headers (up to 40 ms); a closed connection flushed at once.
    disable_nagle_algorithm = True
    # Buffered: the headers and a small body leave in one send, one GIL release and reacquisition fewer
    # per request on a server whose threads contend for it.
    wbufsize = 64 * 1024
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or self.headers.get("Expect"):
            super().run_wsgi()  # werkzeug's own handling, which closes the connection after it
            return
        self.environ = environ = self.make_environ()
        body = LimitedStream(cast(IO[bytes], self.rfile), int(self.headers.get("Content-Length") or 0))
        environ["wsgi.input"] = body
        status, headers, payload = self._call_app(environ)
        body.exhaust()  # what the app left unread, so that the next request line is where we read next
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        head = self.command == "HEAD"
        for key, value in headers:
            if head or key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        if not head:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not head:
            self.wfile.write(payload)
        self.wfile.flush()

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return chunks.append

        try:
            answer = self.server.app(environ, start_response)
            try:
                chunks.extend(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
        except Exception as error:  # noqa: BLE001 - the client gets a 500, as from werkzeug, and the log says why
            self.server.log("error", f"Error on request {self.command} {self.path}: {type(error).__name__}: {error}")
            return "500 Internal Server Error", [("Content-Type", "text/plain")], b"Internal Server Error"
        return started[0], started[1], b"".join(chunks)
