"""The live path with real sockets: the local gateway in front of the real functions, on each backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from roomcast import auth, service
from roomcast.models import FRAME_ADAPTER, CreateChatRoom, ErrorFrame, JoinChatRoom, SubscribedFrame
from roomcast_local import template
from roomcast_local.ws_gateway import GatewayConfig, WebSocketGateway
from support.stack import Stack

pytestmark = pytest.mark.integration


class Live:
    def __init__(self, stack: Stack, gateway: WebSocketGateway, stage: str) -> None:
        self.stack, self.gateway, self.stage = stack, gateway, stage
        secret_arn = stack.provisioned.refs["JwtSecret"]
        self.secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]

    def url(self, token: str | None) -> str:
        query = f"?token={token}" if token is not None else ""
        return f"{self.gateway.ws_url}/{self.stage}{query}"

    def connect(self, user: str) -> ClientConnection:
        return connect(self.url(auth.issue_token(user, self.secret)), open_timeout=5)


def receive(client: ClientConnection) -> Any:
    return FRAME_ADAPTER.validate_json(client.recv(timeout=5))


@pytest.fixture
def live(stack: Stack) -> Iterator[Live]:
    api = template.websocket_api()
    gateway = WebSocketGateway(
        routes={key: (lambda event, fn=fn: stack.invoke(fn, event)) for key, fn in api.routes.items()},
        authorizer=(lambda event: stack.invoke(api.authorizer, event)) if api.authorizer else None,
        config=GatewayConfig(
            port=0,
            stage=api.stage,
            route_selection_expression=api.route_selection_expression,
            identity_source=api.identity_source,
        ),
    )
    gateway.start_in_thread()
    stack.provisioned.environment["WEBSOCKET_CALLBACK_URL"] = gateway.callback_url
    yield Live(stack, gateway, api.stage)
    gateway.stop_thread()


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (None, 401),
        ("not-a-jwt", 403),
        ("signed-with-another-secret", 403),
        ("expired", 403),
    ],
)
def test_connections_without_a_valid_token_are_refused(live: Live, token: str | None, status: int) -> None:
    if token == "signed-with-another-secret":
        token = auth.issue_token("bob", "x" * 64)
    elif token == "expired":
        token = auth.issue_token("bob", live.secret, ttl_seconds=60, now=int(time.time()) - 3_600)

    with pytest.raises(InvalidStatus) as refused:
        connect(live.url(token), open_timeout=5)

    assert refused.value.response.status_code == status
    assert live.gateway.connection_ids() == []


def test_a_member_subscribes_and_a_stranger_is_refused(live: Live) -> None:
    service.apply(CreateChatRoom(room_id="art", user_id="alice"), live.stack.repo)
    service.apply(JoinChatRoom(room_id="art", user_id="bob"), live.stack.repo)

    with live.connect("bob") as bob, live.connect("mallory") as mallory:
        bob.send(json.dumps({"action": "subscribe", "roomId": "art"}))
        mallory.send(json.dumps({"action": "subscribe", "roomId": "art", "requestId": "m-1"}))

        confirmation = receive(bob)
        refusal = receive(mallory)

    assert isinstance(confirmation, SubscribedFrame)
    assert confirmation.room_id == "art"
    assert confirmation.request_id  # API Gateway's request id, since bob sent none

    assert isinstance(refusal, ErrorFrame)
    assert (refusal.code, refusal.request_id) == ("NotAMember", "m-1")
