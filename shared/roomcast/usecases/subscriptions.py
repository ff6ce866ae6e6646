"""The WebSocket routes' use cases: connect, disconnect, subscribe (with replay), unsubscribe, history.

Answers go back on the connection through the poster; refusals are raised as domain errors and
turned into error frames once, by the WebSocket edge.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from roomcast.domain.chat import Connection, FeedEntry, Room, Subscription, is_member, require_room
from roomcast.domain.errors import ConnectionGone, PostRefused
from roomcast.domain.ids import system_clock
from roomcast.domain.moderation import not_member_or_banned
from roomcast.domain.ordering import replay_floor
from roomcast.domain.shapes import Shape
from roomcast.usecases import history
from roomcast.usecases.ports import FeedRange, Poster, Store
from roomcast.wire.cursor import encode_cursor
from roomcast.wire.frames import (
    HistoryFrame,
    SubscribedFrame,
    UnsubscribedFrame,
    comment_frames,
    encode_frame,
)
from roomcast.wire.requests import HistoryRequest, SubscribeRequest, UnsubscribeRequest

logger = Logger(child=True)

# A subscriber back after a long absence gets at most this many missed comments pushed (one
# index page); the subscribed frame's cursor lets it page through the rest with the history route.
# Twenty pages let one 79-byte subscribe cost 16 MB of reads and 500 posts (issue 11).
MAX_REPLAY_COMMENTS = 100
# A resume also replays the comments positioned up to this long before ``since``, nearest first, one page
# at most: a comment can commit and reach a client after one with a later position (docs/websocket.md,
# gapless resume). The functions' default (REPLAY_WINDOW_MS) is sized there; 0 replays strictly after since.
NO_REPLAY_WINDOW = 0


@dataclass(frozen=True)
class Caller:
    """Who is on the connection: the identity the $connect authorizer verified."""

    connection_id: str
    user_id: str
    connected_at_ms: int
    request_id: str


class Routes:
    def __init__(
        self,
        store: Store,
        poster: Poster,
        ttl_seconds: int,
        frame_limit: int,
        max_replay: int = MAX_REPLAY_COMMENTS,
        replay_window_ms: int = NO_REPLAY_WINDOW,
    ) -> None:
        self.store = store
        self.poster = poster
        self.ttl_seconds = ttl_seconds
        self.frame_limit = frame_limit
        self.max_replay = max_replay
        self.replay_window_ms = replay_window_ms

    def expires_at(self, caller: Caller) -> int:
        return caller.connected_at_ms // 1000 + self.ttl_seconds

    def connect(self, caller: Caller) -> None:
        self.store.connections.put_connection(
            Connection(connection_id=caller.connection_id, user_id=caller.user_id, expires_at=self.expires_at(caller))
        )

    def disconnect(self, connection_id: str) -> None:
        self.store.connections.delete_connection(connection_id)

    def subscribe(self, caller: Caller, request: SubscribeRequest, request_id: str) -> None:
        """Register first, then replay what was missed: a comment written in between arrives twice
        (clients dedupe by commentId) rather than not at all."""
        room = self._member_room(request.room_id, caller.user_id)
        self.store.connections.add_subscription(
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
        self.answer(
            caller, SubscribedFrame(room_id=request.room_id, replayed=replayed, cursor=cursor, request_id=request_id)
        )

    def unsubscribe(self, caller: Caller, request: UnsubscribeRequest, request_id: str) -> None:
        removed = self.store.connections.unsubscribe(caller.connection_id, request.room_id)
        logger.info("unsubscribed", extra={"roomId": request.room_id, "removed": removed})
        self.answer(caller, UnsubscribedFrame(room_id=request.room_id, request_id=request_id))

    def history(self, caller: Caller, request: HistoryRequest, request_id: str) -> None:
        room = self._member_room(request.room_id, caller.user_id)
        page = history.history(
            self.store,
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
        self.answer(caller, self._fit(frame))

    def answer(self, caller: Caller, frame: Shape) -> None:
        self._post(caller, encode_frame(frame))

    def _member_room(self, room_id: str, user_id: str) -> Room:
        """Only members of an existing room may subscribe to it or read it."""
        room, membership = self.store.rooms.get_room_and_membership(room_id, user_id)
        current = require_room(room, room_id)
        if not is_member(membership, current):
            # Only a refusal reads the ban, to say Banned rather than NotAMember.
            ban = self.store.moderation.get_ban(current, user_id)
            raise not_member_or_banned(current, user_id, ban, system_clock())
        return current

    def _replay(self, caller: Caller, room: Room, since: str) -> tuple[int, str | None]:
        """The window before ``since`` (its own page), then the comments after it up to the cap; the cursor
        is the after-``since`` query's, so a client pages on with mode ``after`` from its ``since``."""
        window = self._window(room, since)
        if window and not self._send(caller, room, window):
            return 0, None
        replayed = len(window)
        pages = history.pages(self.store, room, "after", after=since, limit=min(history.MAX_PAGE_SIZE, self.max_replay))
        for page in pages:
            if not self._send(caller, room, page.comments):
                return replayed, None
            replayed += len(page.comments)
            if replayed - len(window) >= self.max_replay:
                return replayed, page.cursor
        return replayed, None

    def _window(self, room: Room, since: str) -> list[FeedEntry]:
        """Comments positioned from ``since`` minus the window up to ``since``, in position order: one Query,
        nearest ``since`` first, so a room busier than a page per window keeps the likeliest late ones."""
        if self.replay_window_ms <= 0:
            return []
        limit = min(history.MAX_PAGE_SIZE, self.max_replay)
        between = FeedRange(between=(replay_floor(since, self.replay_window_ms), since), newest_first=True)
        newest_first, _ = self.store.comments.query_feed(room, between, limit)
        return newest_first[::-1]

    def _send(self, caller: Caller, room: Room, comments: list[FeedEntry]) -> bool:
        return all(self._post(caller, f) for f in comment_frames(room.room_id, comments, self.frame_limit))

    def _fit(self, frame: HistoryFrame) -> HistoryFrame:
        """Shorten a page that would pass the frame limit; its cursor then resumes after the last comment kept."""
        comments: list[FeedEntry] = list(frame.comments)
        while len(encode_frame(frame)) > self.frame_limit and len(comments) > 1:
            comments = comments[: max(1, len(comments) * 3 // 4)]
            frame = frame.model_copy(update={"comments": comments, "cursor": encode_cursor(comments[-1])})
        return frame

    def _post(self, caller: Caller, data: bytes) -> bool:
        try:
            self.poster.post(caller.connection_id, data)
        except ConnectionGone:
            # The client left before its answer: forget it now rather than at the next fan-out.
            self.store.connections.delete_connection(caller.connection_id)
            return False
        except PostRefused as refused:
            logger.warning("answer refused by API Gateway", extra={"detail": refused.message})
            return False
        return True
