"""What WebSocket clients send, routed on ``action``."""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter

from roomcast.domain.ids import Id, Position
from roomcast.domain.shapes import Shape

RequestId = Annotated[str, StringConstraints(max_length=128)]


class _Request(Shape):
    model_config = ConfigDict(extra="forbid")

    room_id: Id
    # Echoed in the answer so a client can match it; API Gateway's request id otherwise.
    request_id: RequestId | None = None


class SubscribeRequest(_Request):
    action: Literal["subscribe"]
    since: Position | None = None


class UnsubscribeRequest(_Request):
    action: Literal["unsubscribe"]


class HistoryRequest(_Request):
    action: Literal["history"]
    mode: Literal["all", "latest", "after", "between"] = "all"
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    limit: int | None = None
    cursor: str | None = None


ClientRequest: TypeAlias = Annotated[
    SubscribeRequest | UnsubscribeRequest | HistoryRequest, Field(discriminator="action")
]
CLIENT_REQUEST_ADAPTER: TypeAdapter[ClientRequest] = TypeAdapter(ClientRequest)


def parse_request(body: str | None) -> ClientRequest:
    """By alias only and strictly typed: the wire contract is camelCase JSON, nothing looser."""
    return CLIENT_REQUEST_ADAPTER.validate_json(body or "", strict=True, by_alias=True, by_name=False)
