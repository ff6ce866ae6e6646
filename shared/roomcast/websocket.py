"""The WebSocket routes' use cases. Answers go back on the connection through @connections.

Every refusal is one error frame, ``{"type": "error", "code", "message", "requestId"}``:
domain errors keep their code, malformed requests are ``InvalidRequest``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import APIGatewayWebSocketEvent
from pydantic import ValidationError

from roomcast import queries
from roomcast.errors import ConnectionGone, InvalidRequest, NotAMember, RoomcastError, RoomNotFound, Unauthorized
from roomcast.fanout import comment_frames
from roomcast.gateway import ConnectionGateway, PostRefused
from roomcast.models import (
    CLIENT_REQUEST_ADAPTER,
    CommentView,
    Connection,
    ErrorFrame,
    HistoryFrame,
    HistoryRequest,
    Room,
    SubscribedFrame,
    SubscribeRequest,
    Subscription,
    UnsubscribedFrame,
    UnsubscribeRequest,
    describe,
    encode_frame,
)
from roomcast.repository import ChatRepository
from roomcast.settings import get_settings

logger = Logger(child=True)

# A subscriber back after a long absence gets at most this many missed comments pushed;
# the subscribed frame's cursor lets it page through the rest with the history route.
MAX_REPLAY_PAGES = 20


@dataclass(frozen=True)
class Caller:
    """Who is on the connection: the identity the $connect authorizer verified."""

    connection_id: str
    user_id: str
    connected_at_ms: int
    request_id: str


class Routes:
    def __init__(self, repo: ChatRepository, gateway: ConnectionGateway, ttl_seconds: int, frame_limit: int) -> None:
        self.repo = repo
        self.gateway = gateway
        self.ttl_seconds = ttl_seconds
        self.frame_limit = frame_limit

    def expires_at(self, caller: Caller) -> int:
        return caller.connected_at_ms // 1000 + self.ttl_seconds

    def connect(self, caller: Caller) -> None:
        self.repo.put_connection(
            Connection(connection_id=caller.connection_id, user_id=caller.user_id, expires_at=self.expires_at(caller))
        )

    def disconnect(self, connection_id: str) -> None:
        self.repo.delete_connection(connection_id)

    def message(self, caller: Caller, body: str | None) -> None:
        """subscribe, unsubscribe, history and anything else ($default): one answer frame at least."""
        request_id = caller.request_id
        try:
            # By alias only and strictly typed: the wire contract is camelCase JSON, nothing looser.
            request = CLIENT_REQUEST_ADAPTER.validate_json(body or "", strict=True, by_alias=True, by_name=False)
            request_id = request.request_id or request_id
            if isinstance(request, SubscribeRequest):
                self._subscribe(caller, request, request_id)
            elif isinstance(request, UnsubscribeRequest):
                removed = self.repo.unsubscribe(caller.connection_id, request.room_id)
                logger.info("unsubscribed", extra={"roomId": request.room_id, "removed": removed})
                self._send(caller, UnsubscribedFrame(room_id=request.room_id, request_id=request_id))
            else:
                self._send(caller, self._history(request, caller, request_id))
        except ValidationError as invalid:
            self.refuse(caller, InvalidRequest(describe(invalid)), request_id)
        except RoomcastError as error:
            if not error.code.startswith("Transient"):
                self.refuse(caller, error, request_id)
            else:
                raise

    def refuse(self, caller: Caller, error: RoomcastError, request_id: str) -> None:
        logger.info("request refused", extra={"code": error.code, "detail": error.message})
        self._send(caller, ErrorFrame(code=error.code, message=error.message, request_id=request_id))

    def _member_room(self, room_id: str, user_id: str) -> Room:
        """Only members of an existing room may subscribe to it or read it."""
        room, membership = self.repo.get_room_and_membership(room_id, user_id)
        if room is None:
            raise RoomNotFound(f"room {room_id!r} does not exist")
        if membership is None or membership.incarnation != room.incarnation:
            raise NotAMember(f"{user_id!r} is not a member of room {room_id!r}")
        return room

    def _subscribe(self, caller: Caller, request: SubscribeRequest, request_id: str) -> None:
        """Register first, then replay what was missed: a comment written in between arrives twice
        (clients dedupe by commentId) rather than not at all."""
        room = self._member_room(request.room_id, caller.user_id)
        self.repo.add_subscription(
            room,
            Subscription(
                connection_id=caller.connection_id,
                user_id=caller.user_id,
                room_id=room.room_id,
                incarnation=room.incarnation,
                expires_at=self.expires_at(caller),
            ),
        )
        replayed, cursor = 0, None
        if request.since is not None:
            replayed, cursor = self._replay(caller, room, request.since)
        self._send(
            caller, SubscribedFrame(room_id=request.room_id, replayed=replayed, cursor=cursor, request_id=request_id)
        )

    def _replay(self, caller: Caller, room: Room, since: str) -> tuple[int, str | None]:
        replayed, cursor = 0, None
        for _ in range(MAX_REPLAY_PAGES):
            page = queries.history(self.repo, room, "after", after=since, limit=queries.MAX_PAGE_SIZE, cursor=cursor)
            for frame in comment_frames(room.room_id, page.comments, self.frame_limit):
                if not self._post(caller, frame):
                    return replayed, None
            replayed += len(page.comments)
            cursor = page.cursor
            if cursor is None:
                break
        return replayed, cursor

    def _history(self, request: HistoryRequest, caller: Caller, request_id: str) -> HistoryFrame:
        room = self._member_room(request.room_id, caller.user_id)
        page = queries.history(
            self.repo,
            room,
            request.mode,
            after=request.from_,
            to=request.to,
            limit=request.limit,
            cursor=request.cursor,
        )
        frame = HistoryFrame(
            room_id=request.room_id,
            mode=request.mode,
            comments=page.comments,
            cursor=page.cursor,
            request_id=request_id,
        )
        return self._fit(frame)

    def _fit(self, frame: HistoryFrame) -> HistoryFrame:
        """Shorten a page that would pass the frame limit; its cursor then resumes after the last comment kept."""
        comments: list[CommentView] = list(frame.comments)
        while len(encode_frame(frame)) > self.frame_limit and len(comments) > 1:
            comments = comments[: max(1, len(comments) * 3 // 4)]
            frame = frame.model_copy(update={"comments": comments, "cursor": queries.encode_cursor(comments[-1])})
        return frame

    def _send(self, caller: Caller, frame: SubscribedFrame | UnsubscribedFrame | HistoryFrame | ErrorFrame) -> None:
        self._post(caller, encode_frame(frame))

    def _post(self, caller: Caller, data: bytes) -> bool:
        try:
            self.gateway.post(caller.connection_id, data)
        except ConnectionGone:
            # The client left before its answer: forget it now rather than at the next fan-out.
            self.repo.delete_connection(caller.connection_id)
            return False
        except PostRefused as refused:
            logger.warning("answer refused by API Gateway", extra={"detail": refused.message})
            return False
        return True


def get_routes() -> Routes:
    settings = get_settings()
    return Routes(
        ChatRepository(settings.table_name),
        ConnectionGateway.from_settings(),
        settings.connection_ttl_seconds,
        settings.frame_limit_bytes,
    )


def caller_of(event: APIGatewayWebSocketEvent) -> Caller:
    """The caller as API Gateway describes it; the user id only ever comes from the authorizer's context."""
    context = event.request_context
    user_id = (context.get("authorizer") or {}).get("userId")
    if not user_id:
        raise Unauthorized("the connection carries no verified identity")
    return Caller(
        connection_id=context.connection_id,
        user_id=str(user_id),
        connected_at_ms=int(context.connected_at),
        request_id=context.request_id,
    )
