"""The flush queue's message: the end of a paced room's frame window (docs/capacity.md).

The first StreamFunction to append to a window sends one, delayed until the window's end; the
FanoutFunction then closes the window and posts its comments as one frame per connection. A slice and a
flush are told apart by their shapes (``parse_fanout_message``), never by hand.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, TypeAdapter

from roomcast.domain.chat import room_feed
from roomcast.domain.shapes import Shape
from roomcast.wire.slices import FanoutSlice


class WindowFlush(Shape):
    kind: Literal["windowFlush"]
    room_id: str = Field(min_length=1)
    incarnation: str = Field(min_length=1)
    start: int = Field(ge=0)  # the window's start, epoch seconds: with the feed, the window item's key
    seconds: int = Field(ge=1, le=900)

    @property
    def feed(self) -> str:
        return room_feed(self.room_id, self.incarnation)


def flush_body(room_id: str, incarnation: str, start: int, seconds: int) -> str:
    flush = WindowFlush(kind="windowFlush", room_id=room_id, incarnation=incarnation, start=start, seconds=seconds)
    return flush.model_dump_json(by_alias=True)


FanoutMessage = WindowFlush | FanoutSlice
FANOUT_MESSAGE: TypeAdapter[FanoutMessage] = TypeAdapter(FanoutMessage)


def parse_fanout_message(body: str) -> FanoutMessage:
    """A FanoutFunction record's body (the flush queue's or the fan-out queue's) as a flush or a slice;
    raises pydantic's ValidationError for anything else."""
    return FANOUT_MESSAGE.validate_json(body)
