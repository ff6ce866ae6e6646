"""The WebSocket functions invoked on a backend as API Gateway would call them, and what they posted back."""

from __future__ import annotations

import json
import time
from typing import Any

from roomcast.models import FRAME_ADAPTER
from roomcast_local import events
from support.fakes import RecordingApi
from support.stack import Stack


def context(name: str, connection_id: str, user: str) -> dict[str, Any]:
    event = events.load(events.EVENTS / name)
    ctx: dict[str, Any] = event["requestContext"]
    ctx.update(connectionId=connection_id, connectedAt=int(time.time() * 1000), authorizer={"userId": user})
    return event


def connect(stack: Stack, connection_id: str, user: str) -> int:
    return int(stack.invoke("ConnectFunction", context("connect-1-connect.json", connection_id, user))["statusCode"])


def disconnect(stack: Stack, connection_id: str, user: str) -> None:
    stack.invoke("DisconnectFunction", context("disconnect-1-client-closed.json", connection_id, user))


def send(stack: Stack, connection_id: str, user: str, **body: Any) -> None:
    event = context("message-1-subscribe-since.json", connection_id, user)
    event["body"] = json.dumps(body)
    stack.invoke("MessageFunction", event)


def frames(api: RecordingApi, connection_id: str) -> list[Any]:
    return [FRAME_ADAPTER.validate_json(data) for data in api.received[connection_id]]
