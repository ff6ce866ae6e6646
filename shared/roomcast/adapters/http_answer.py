"""An HTTP/1.1 answer read off a socket by llhttp (httptools): its status, its error type, and whether the
connection stays open.

The lean poster needs three things from each answer to a post and no more. ``http.client.HTTPResponse``
reads them through a buffered file per answer and ``email``'s header parser, about a fifth of a post's
CPU (profiled in bench/fanout.py's cpu-per-post way); llhttp, the parser Node.js ships, does the
same work in C. Failures keep ``http.client``'s exceptions, which the poster already tells apart: an
answer that never began is ``RemoteDisconnected`` (a kept connection the server has closed), any other
truncated or malformed answer an ``HTTPException``.
"""

from __future__ import annotations

import http.client
import socket

import httptools

# An @connections answer is a few hundred bytes; a larger one is read in several receives.
_RECEIVE_BYTES = 16 * 1024
_ERROR_TYPE = b"x-amzn-errortype"


class _Answer:
    """httptools' callbacks: what the poster reads of the first answer, and where that answer ends."""

    __slots__ = ("answers", "complete", "error_type", "headers_read", "keep_alive", "parser", "status")

    def __init__(self) -> None:
        self.answers = 0
        self.complete = False
        self.headers_read = False
        self.keep_alive = False
        self.status = 0
        self.error_type = ""
        self.parser: httptools.HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        self.answers += 1
        if self.answers > 1:
            # Bytes past the answer to a request that was not pipelined: the connection is out of step.
            self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.answers == 1 and name.lower() == _ERROR_TYPE:
            # API Gateway's value may carry a URL after a colon, as botocore's parser also drops it.
            self.error_type = value.decode("latin-1").split(":")[0].strip()

    def on_headers_complete(self) -> None:
        if self.answers == 1 and self.parser is not None:
            self.headers_read = True
            # Asked now: once the answer is complete, llhttp has reset them for the next one.
            self.status = self.parser.get_status_code()
            self.keep_alive = self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        self.complete = True


def read_answer(sock: socket.socket) -> tuple[int, str, bool]:
    """The next answer on ``sock``, read whole: its status, its x-amzn-ErrorType (or ""), and whether the
    connection may carry another request."""
    answer = _Answer()
    parser = answer.parser = httptools.HttpResponseParser(answer)
    received = False
    try:
        while not answer.complete:
            data = sock.recv(_RECEIVE_BYTES)
            if not data:
                if not received:
                    raise http.client.RemoteDisconnected("Remote end closed connection without response")
                if answer.headers_read:
                    # The status stands (a body without a length runs to the connection's end, and a cut
                    # body changes no status); the connection is not kept.
                    return answer.status, answer.error_type, False
                raise http.client.IncompleteRead(b"", None)
            received = True
            parser.feed_data(data)
    except httptools.HttpParserError as error:
        raise http.client.HTTPException(f"malformed HTTP answer: {error}") from error
    finally:
        answer.parser = None  # the two refer to each other: freed at once, not by the garbage collector
    return answer.status, answer.error_type, answer.keep_alive
