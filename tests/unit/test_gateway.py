"""Posting to @connections: Gone is final, throttling is retried with backoff, the rest is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from roomcast.adapters.connections_api import ConnectionsApi
from roomcast.domain.errors import ConnectionGone, PostRefused, TransientError
from support.fakes import management_client


@pytest.fixture
def stubbed() -> Iterator[tuple[ConnectionsApi, Stubber, list[float]]]:
    client = management_client()
    sleeps: list[float] = []
    with Stubber(client) as stubber:
        yield ConnectionsApi(client, max_attempts=4, sleep=sleeps.append), stubber, sleeps
        stubber.assert_no_pending_responses()


def expect_post(stubber: Stubber, connection: str = "c1") -> None:
    stubber.add_response("post_to_connection", {}, {"ConnectionId": connection, "Data": b"frame"})


def expect_error(stubber: Stubber, code: str, status: int, connection: str = "c1") -> None:
    stubber.add_client_error(
        "post_to_connection",
        service_error_code=code,
        http_status_code=status,
        expected_params={"ConnectionId": connection, "Data": b"frame"},
    )


def test_a_post_is_one_request(stubbed: tuple[ConnectionsApi, Stubber, list[float]]) -> None:
    gateway, stubber, sleeps = stubbed
    expect_post(stubber)

    gateway.post("c1", b"frame")

    assert (gateway.attempts, sleeps) == (1, [])


def test_gone_is_final_and_not_retried(stubbed: tuple[ConnectionsApi, Stubber, list[float]]) -> None:
    gateway, stubber, _ = stubbed
    expect_error(stubber, "GoneException", 410)

    with pytest.raises(ConnectionGone):
        gateway.post("c1", b"frame")
    assert gateway.attempts == 1


def test_throttling_is_retried_with_backoff(stubbed: tuple[ConnectionsApi, Stubber, list[float]]) -> None:
    gateway, stubber, sleeps = stubbed
    expect_error(stubber, "LimitExceededException", 429)
    expect_error(stubber, "LimitExceededException", 429)
    expect_post(stubber)

    gateway.post("c1", b"frame")

    assert gateway.attempts == 3
    assert len(sleeps) == 2
    assert all(0 <= delay <= 0.05 * 2**n for n, delay in enumerate(sleeps, start=1))


def test_throttling_that_never_ends_is_transient(stubbed: tuple[ConnectionsApi, Stubber, list[float]]) -> None:
    gateway, stubber, sleeps = stubbed
    for _ in range(4):
        expect_error(stubber, "LimitExceededException", 429)

    with pytest.raises(TransientError):
        gateway.post("c1", b"frame")
    assert (gateway.attempts, len(sleeps)) == (4, 3)


def test_server_errors_are_retried(stubbed: tuple[ConnectionsApi, Stubber, list[float]]) -> None:
    gateway, stubber, _ = stubbed
    expect_error(stubber, "InternalServerErrorException", 500)
    expect_post(stubber)

    gateway.post("c1", b"frame")

    assert gateway.attempts == 2


@pytest.mark.parametrize(("code", "status"), [("PayloadTooLargeException", 413), ("ForbiddenException", 403)])
def test_a_post_no_retry_can_fix_is_refused_at_once(
    stubbed: tuple[ConnectionsApi, Stubber, list[float]], code: str, status: int
) -> None:
    gateway, stubber, _ = stubbed
    expect_error(stubber, code, status)

    with pytest.raises(PostRefused):
        gateway.post("c1", b"frame")
    assert gateway.attempts == 1
