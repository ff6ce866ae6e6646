"""A slice of a big room's fan-out: the StreamFunction's hand-over to the FanoutFunction (one SQS message).

A slice carries every frame of the room's batch, in order, and a share of its subscribers: one
invocation posts all of them to each of its connections, so per-connection frame order holds and no
connection is in two slices. Frames are the encoded WebSocket frames (JSON text), posted byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from roomcast.domain.chat import Subscription
from roomcast.domain.shapes import Shape


class SliceTarget(Shape):
    """One subscriber of the slice: what the fan-out needs to post, and to clean up after a 410."""

    connection_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    expires_at: int
    shard: int = Field(default=0, ge=0)  # where its room-side item is, to remove it after a 410


class FanoutSlice(Shape):
    room_id: str = Field(min_length=1)
    incarnation: str = Field(min_length=1)
    part: int = Field(ge=1)  # 1-based, for logs: which slice of how many
    parts: int = Field(ge=1)
    frames: list[str] = Field(min_length=1)
    targets: list[SliceTarget] = Field(min_length=1)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                connection_id=t.connection_id,
                user_id=t.user_id,
                room_id=self.room_id,
                incarnation=self.incarnation,
                expires_at=t.expires_at,
                shard=t.shard,
            )
            for t in self.targets
        ]

    def encoded_frames(self) -> list[bytes]:
        return [frame.encode() for frame in self.frames]


def target_of(subscription: Subscription) -> SliceTarget:
    return SliceTarget(
        connection_id=subscription.connection_id,
        user_id=subscription.user_id,
        expires_at=subscription.expires_at,
        shard=subscription.shard,
    )


def slice_bodies(
    room_id: str,
    incarnation: str,
    frames: Sequence[bytes],
    subscriptions: Sequence[Subscription],
    slice_size: int,
    max_bytes: int,
) -> list[tuple[str, list[Subscription]]] | None:
    """The subscribers cut into slices of at most ``slice_size``, each slice's message at most ``max_bytes``
    (UTF-8), with the subscriptions each carries. None when the frames alone leave no room for a subscriber:
    the caller then posts them itself."""
    texts = [frame.decode() for frame in frames]
    # Every slice repeats the frames; measured once, with the widest part numbers a batch can have.
    widest = len(subscriptions)
    empty = FanoutSlice.model_construct(
        room_id=room_id, incarnation=incarnation, part=widest, parts=widest, frames=texts, targets=[]
    )
    base = len(empty.model_dump_json(by_alias=True).encode())
    groups: list[list[Subscription]] = []
    size = 0
    for subscription in subscriptions:
        width = len(target_of(subscription).model_dump_json(by_alias=True).encode()) + 1
        if base + width > max_bytes:
            return None
        if not groups or len(groups[-1]) >= slice_size or size + width > max_bytes:
            groups.append([])
            size = base
        groups[-1].append(subscription)
        size += width
    return [
        (
            FanoutSlice(
                room_id=room_id,
                incarnation=incarnation,
                part=n,
                parts=len(groups),
                frames=texts,
                targets=[target_of(s) for s in group],
            ).model_dump_json(by_alias=True),
            group,
        )
        for n, group in enumerate(groups, start=1)
    ]
