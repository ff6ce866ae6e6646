"""Reconnecting with ``since`` at every point of a delivery order, as a client would (issue 11, point 5):
subscribe with the last position seen, then page on with ``history`` while the ``subscribed`` cursor (and
each page's) says more follows. What came back, with what was seen before, must be every comment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from roomcast.domain.chat import FeedEntry
from roomcast.usecases.subscriptions import Caller, Routes
from roomcast.wire.frames import FRAME_ADAPTER, CommentsFrame, HistoryFrame, SubscribedFrame
from roomcast.wire.requests import HistoryRequest, SubscribeRequest


class Collected:
    """A poster that keeps what each connection was sent."""

    attempts = 1

    def __init__(self) -> None:
        self.received: dict[str, list[bytes]] = defaultdict(list)

    def post(self, connection_id: str, data: bytes) -> None:
        self.received[connection_id].append(data)


@dataclass
class Resumes:
    points: int = 0
    missed_at: list[int] | None = None  # reconnect points (comments seen) where something never came back
    replayed: int = 0  # comments sent back in all, duplicates of seen ones included

    def __post_init__(self) -> None:
        self.missed_at = []


def resume_everywhere(
    routes_of: Callable[[Collected], Routes],
    room_id: str,
    user_id: str,
    delivered: Sequence[FeedEntry],
    stop_at_first_miss: bool = False,
) -> Resumes:
    """For each k, a client that saw ``delivered[:k]`` reconnects with ``since`` = the last of them."""
    everything = {c.comment_id for c in delivered}
    result = Resumes()
    assert result.missed_at is not None
    for k in range(1, len(delivered) + 1):
        poster = Collected()
        routes = routes_of(poster)
        caller = Caller(f"resume-{k}", user_id, 0, "r")
        since = delivered[k - 1].position
        routes.subscribe(caller, SubscribeRequest(action="subscribe", room_id=room_id, since=since), "s")
        cursor = _cursor(poster, caller.connection_id)
        while cursor is not None:
            more = HistoryRequest.model_validate(
                {"action": "history", "roomId": room_id, "mode": "after", "from": since, "cursor": cursor, "limit": 100}
            )
            routes.history(caller, more, "h")
            cursor = _cursor(poster, caller.connection_id)
        came_back = {c.comment_id for c in _all_comments(poster, caller.connection_id)}
        result.points += 1
        result.replayed += len(came_back)
        if everything - {c.comment_id for c in delivered[:k]} - came_back:
            result.missed_at.append(k)
            if stop_at_first_miss:
                break
    return result


def _frames(poster: Collected, connection_id: str) -> list[object]:
    return [FRAME_ADAPTER.validate_json(data) for data in poster.received[connection_id]]


def _cursor(poster: Collected, connection_id: str) -> str | None:
    """The cursor of the last answer (subscribed or history): more follows when it is not None."""
    last = _frames(poster, connection_id)[-1]
    assert isinstance(last, SubscribedFrame | HistoryFrame), last
    return last.cursor


def _all_comments(poster: Collected, connection_id: str) -> list[FeedEntry]:
    found: list[FeedEntry] = []
    for frame in _frames(poster, connection_id):
        if isinstance(frame, CommentsFrame | HistoryFrame):
            found += frame.comments
    return found
