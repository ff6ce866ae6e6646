"""Frames only to current members: a user who leaves the room's feed within a batch (banned, or left and
not joined again) is cut off at their own event. Their connections get the batch's frames up to it, then
their subscriptions go; everybody else gets the whole batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roomcast.domain.chat import Subscription
from roomcast.usecases.fanout import FanoutResult, fan_out
from roomcast.usecases.ports import Connections, Poster


@dataclass(frozen=True)
class Exit:
    """A user's last frames of a room: the batch's frames up to their exit, and the frame that says so."""

    user_id: str
    frames: list[bytes]


@dataclass
class CutDelivery:
    remaining: list[Subscription]  # everyone else's subscriptions, for the batch's frames
    result: FanoutResult


def deliver_exits(
    exits: Sequence[Exit],
    subscriptions: Sequence[Subscription],
    poster: Poster,
    connections: Connections,
    max_workers: int,
) -> CutDelivery:
    """Each exiting user's connections get their exit's frames (their first exit in ``exits`` counts);
    then their subscriptions are removed, even when the frames could not be posted: the exit ends the
    feed either way."""
    targets: dict[str, Exit] = {}
    for exit_ in exits:
        targets.setdefault(exit_.user_id, exit_)
    total = FanoutResult()
    for user_id, exit_ in targets.items():
        theirs = [s for s in subscriptions if s.user_id == user_id]
        if not theirs:
            continue
        result = fan_out(exit_.frames, theirs, poster, connections, max_workers)
        total.add(result)
        gone = set(result.gone)
        connections.remove_subscriptions([s for s in theirs if s.connection_id not in gone])
    remaining = [s for s in subscriptions if s.user_id not in targets]
    return CutDelivery(remaining, total)
