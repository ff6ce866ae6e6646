"""The local AWS endpoint keeps HTTP/1.1 connections open (roomcast_local/keepalive.py), over real sockets."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterable, Iterator

import boto3
import pytest
from moto import backends

from roomcast_local.aws_endpoint import AwsEndpoint
from roomcast_local.processes import free_port

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
# A SigV4 scope is all moto reads of the signature: it picks the service and the region.
HEADERS = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/eu-west-1/dynamodb/aws4_request, Signature=x",
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
}

CREDENTIALS = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}


@pytest.fixture
def endpoint() -> Iterator[AwsEndpoint]:
    server = AwsEndpoint("127.0.0.1", free_port(), REGION)
    server.start()
    yield server
    server.stop()


def connect(server: AwsEndpoint) -> http.client.HTTPConnection:
    host, port = server.get_host_and_port()
    return http.client.HTTPConnection(host, port, timeout=30)


def list_tables(connection: http.client.HTTPConnection) -> tuple[int, str | None, dict[str, object]]:
    connection.request("POST", "/", body=b"{}", headers=HEADERS)
    response = connection.getresponse()
    return response.status, response.getheader("Connection"), json.loads(response.read())


def test_requests_on_one_connection_are_answered_in_turn(endpoint: AwsEndpoint) -> None:
    connection = connect(endpoint)
    answers = [list_tables(connection) for _ in range(3)]
    assert connection.sock is not None
    local_port = connection.sock.getsockname()[1]
    answers.append(list_tables(connection))

    # Whatever tables an earlier test left in moto's shared state: the same answer, four times, in turn
    status, closing, body = answers[0]
    assert (status, closing) == (200, None) and "TableNames" in body  # no `Connection: close`
    assert answers == [answers[0]] * 4
    assert connection.sock.getsockname()[1] == local_port  # the same socket throughout


def test_a_request_body_the_app_leaves_unread_does_not_spill_into_the_next(endpoint: AwsEndpoint) -> None:
    connection = connect(endpoint)
    connection.request("GET", "/moto-api/data.json", body=b"x" * 50_000, headers={"Content-Length": "50000"})
    first = connection.getresponse()
    first.read()

    assert first.status == 200
    status, closing, body = list_tables(connection)
    assert (status, closing) == (200, None) and "TableNames" in body


def test_botocore_reuses_its_connection(endpoint: AwsEndpoint) -> None:
    host, port = endpoint.get_host_and_port()
    accepted: list[object] = []
    original = endpoint._server.get_request  # type: ignore[union-attr]

    def counting() -> tuple[socket.socket, object]:
        accepted.append(None)
        return original()

    endpoint._server.get_request = counting  # type: ignore[union-attr,method-assign]
    url = f"http://{host}:{port}"
    dynamodb = boto3.client("dynamodb", endpoint_url=url, region_name=REGION, **CREDENTIALS)
    for _ in range(5):
        dynamodb.list_tables()

    assert len(accepted) == 1


def test_stop_closes_the_connections_it_kept(endpoint: AwsEndpoint) -> None:
    connection = connect(endpoint)
    list_tables(connection)
    endpoint.stop()

    with pytest.raises((http.client.HTTPException, OSError)):
        list_tables(connection)


def test_the_backend_of_a_host_is_looked_up_once(endpoint: AwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[None] = []
    original = backends.list_of_moto_modules

    def listing() -> Iterable[str]:
        lookups.append(None)
        return original()

    monkeypatch.setattr(backends, "list_of_moto_modules", listing)
    connection = connect(endpoint)
    # Secrets Manager: DynamoDB's and SQS's JSON calls skip the dispatcher (fast_front.py).
    headers = {
        "Authorization": HEADERS["Authorization"].replace("/dynamodb/", "/secretsmanager/"),
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "secretsmanager.ListSecrets",
    }
    answers = []
    for _ in range(4):
        connection.request("POST", "/", body=b"{}", headers=headers)
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Connection"), json.loads(response.read())))

    # Whatever secrets an earlier test left in moto's shared state: the same answer, four times, in turn
    status, closing, body = answers[0]
    assert (status, closing) == (200, None) and "SecretList" in body  # no `Connection: close`
    assert answers == [answers[0]] * 4
    assert len(lookups) == 1  # moto 5.2.5 listed and stat'ed its package folder on every request
