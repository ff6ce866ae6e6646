"""The lean poster's answer reader on a real socket pair: status, error type, keep-alive, and the failures
the poster retries (RemoteDisconnected for a kept connection the server closed, HTTPException otherwise)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from roomcast.adapters.http_answer import read_answer

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: Mon, 30 Nov 2026 23:17:23 GMT\r\n\r\n"
GONE_BODY = b'{"message": "The connection is gone"}'
GONE = (
    b"HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\nx-amzn-ErrorType: GoneException\r\n"
    b"Content-Length: " + str(len(GONE_BODY)).encode() + b"\r\n\r\n" + GONE_BODY
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(10)
    yield ours, theirs
    ours.close()
    theirs.close()


def answer_with(theirs: socket.socket, *pieces: bytes, close: bool = False) -> None:
    """The server's side: the answer in separate writes (so separate receives), then maybe a hang-up."""
    for piece in pieces:
        theirs.sendall(piece)
    if close:
        theirs.shutdown(socket.SHUT_WR)


def test_a_200_on_a_kept_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(theirs, OK)

    assert read_answer(ours) == (200, "", True)


def test_an_error_answer_names_its_type_and_its_body_is_read_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(theirs, GONE)

    assert read_answer(ours) == (410, "GoneException", True)
    answer_with(theirs, OK)
    assert read_answer(ours) == (200, "", True)  # nothing of the first answer was left behind


def test_bytes_past_the_answer_leave_the_connection_unkept(pair: tuple[socket.socket, socket.socket]) -> None:
    # One request, two answers: the connection is out of step, the first answer is the one that counts
    ours, theirs = pair
    answer_with(theirs, GONE + OK[:30])

    assert read_answer(ours) == (410, "GoneException", False)


def test_the_error_type_drops_what_follows_a_colon(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(
        theirs,
        b"HTTP/1.1 429 Too Many Requests\r\nX-Amzn-ErrorType: LimitExceededException:http://internal/\r\n"
        b"Content-Length: 0\r\n\r\n",
    )

    assert read_answer(ours) == (429, "LimitExceededException", True)


def test_an_answer_in_pieces_and_chunks_is_read_to_its_end(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    head = b"HTTP/1.1 403 Forbidden\r\nx-amzn-ErrorType: ForbiddenException\r\nTransfer-Encoding: chunked\r\n\r\n"
    writer = threading.Thread(target=answer_with, args=(theirs, head[:20], head[20:], b"5\r\nhello\r\n", b"0\r\n\r\n"))
    writer.start()

    assert read_answer(ours) == (403, "ForbiddenException", True)
    writer.join()


def test_connection_close_is_not_kept(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(theirs, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

    assert read_answer(ours) == (200, "", False)


def test_a_body_that_runs_to_the_end_of_the_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(theirs, b"HTTP/1.1 502 Bad Gateway\r\n\r\nupstream failed", close=True)

    assert read_answer(ours) == (502, "", False)


def test_a_connection_closed_before_any_answer_is_remote_disconnected(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    answer_with(theirs, close=True)

    with pytest.raises(http.client.RemoteDisconnected):
        read_answer(ours)


def test_an_answer_cut_in_its_headers_is_an_http_error(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(theirs, b"HTTP/1.1 200 OK\r\nContent-Len", close=True)

    with pytest.raises(http.client.HTTPException):
        read_answer(ours)


def test_a_malformed_answer_is_an_http_error(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    answer_with(theirs, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    with pytest.raises(http.client.HTTPException, match="malformed HTTP answer"):
        read_answer(ours)
