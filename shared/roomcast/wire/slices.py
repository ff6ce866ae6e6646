"""A slice of a big room's fan-out: the StreamFunction's hand-over to the FanoutFunction (one SQS message).

A slice carries every frame of the room's batch, in order, and a share of its subscribers: one
invocation posts all of them to each of its connections, so per-connection frame order holds and no
connection is in two slices. Frames are the encoded WebSocket frames (JSON text), posted byte for byte.

Across batches, order holds through the FIFO queue's message groups: a room's subscribers are cut by a
stable hash of their connection id into a power-of-two number of buckets (``bucket_count``), each bucket
one message group, so a connection's slices of consecutive batches sit in one group and are posted one
after the other. A join or a leave moves nobody else; only a change of the bucket count (the room doubled
or halved) moves connections, half of them, to another group once.
"""

from __future__ import annotations

import hashlib
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
    # The fan-out queue's message group it was sent in: a rest handed on goes behind the group's slices.
    group: str | None = Field(default=None, min_length=1, max_length=128)
    # Where it came from (a stream batch's sequence numbers, a window, a rest's parent): its body, and so
    # its deduplication id on the fan-out queue, differs from another batch's with the same frames to the
    # same connections (presence frames carry no position), and is the same on a retry of its origin.
    batch: str | None = Field(default=None, min_length=1, max_length=256)

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


# Buckets are filled to three quarters of a slice on average, so that hash variance almost never
# pushes one past the slice size (which would post its second slice after its first, in its group).
BUCKET_FILL = (3, 4)


def bucket_count(live: int, slice_size: int) -> int:
    """How many buckets (message groups) a room of ``live`` subscribers is cut into: the smallest power of
    two filling each to at most ``BUCKET_FILL`` of a slice on average. It changes only when the room about
    doubles or halves, and then a connection's bucket either stays or moves by the old count (nested)."""
    numerator, denominator = BUCKET_FILL
    need = max(1, -(-live * denominator // (slice_size * numerator)))
    return 1 << (need - 1).bit_length()


def bucket_of(connection_id: str, buckets: int) -> int:
    """The connection's bucket: a stable hash of its id, so nobody else's changes when one joins or leaves."""
    digest = hashlib.blake2b(connection_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def group_of(room_id: str, incarnation: str, bucket: int) -> str:
    """The message group of one bucket of a room: a digest of the feed (any room id fits SQS's 128
    characters of letters, digits and punctuation) and the bucket."""
    feed = hashlib.blake2b(f"{room_id}#{incarnation}".encode(), digest_size=16).hexdigest()
    return f"{feed}-{bucket}"


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
    slices = cut_slices(room_id, incarnation, frames, [(None, list(subscriptions))], slice_size, max_bytes)
    return None if slices is None else [(body, group) for body, _, group in slices]


def bucket_runs(
    room_id: str,
    incarnation: str,
    subscriptions: Sequence[Subscription],
    slice_size: int,
    count: int | None = None,
) -> list[tuple[str | None, list[Subscription]]]:
    """The subscribers by bucket, each bucket with its message group, in bucket order: ``cut_slices`` cuts
    each into slices (a bucket bigger than a slice's size or bytes makes several, posted in turn). ``count``
    buckets (a power of two) when given, else as many as these subscribers need."""
    count = bucket_count(len(subscriptions), slice_size) if count is None else count
    buckets: dict[int, list[Subscription]] = {}
    for subscription in subscriptions:
        buckets.setdefault(bucket_of(subscription.connection_id, count), []).append(subscription)
    return [(group_of(room_id, incarnation, bucket), buckets[bucket]) for bucket in sorted(buckets)]


def cut_slices(
    room_id: str,
    incarnation: str,
    frames: Sequence[bytes],
    runs: Sequence[tuple[str | None, list[Subscription]]],
    slice_size: int,
    max_bytes: int,
    batch: str | None = None,
) -> list[tuple[str, int, list[Subscription]]] | None:
    """Each run (a message group's subscribers) cut into slices of at most ``slice_size`` and ``max_bytes``;
    each with the index of the run it came from. None when the frames alone leave no room for a subscriber."""
    texts = [frame.decode() for frame in frames]
    # Every slice repeats the frames; measured once, with the widest part numbers and group a batch can have.
    widest = sum(len(subscriptions) for _, subscriptions in runs)
    group = max((name for name, _ in runs if name is not None), key=len, default=None)
    empty = FanoutSlice.model_construct(
        room_id=room_id,
        incarnation=incarnation,
        part=widest,
        parts=widest,
        frames=texts,
        targets=[],
        group=group,
        # at least as wide as a rest's name, so that a rest of all of a slice's connections still fits
        batch=(batch or "").ljust(REST_NAME_WIDTH, "x"),
    )
    base = len(empty.model_dump_json(by_alias=True).encode())
    pieces: list[tuple[int, list[Subscription]]] = []
    for run, (_, subscriptions) in enumerate(runs):
        size = 0
        for n, subscription in enumerate(subscriptions):
            width = len(target_of(subscription).model_dump_json(by_alias=True).encode()) + 1
            if base + width > max_bytes:
                return None
            if n == 0 or len(pieces[-1][1]) >= slice_size or size + width > max_bytes:
                pieces.append((run, []))
                size = base
            pieces[-1][1].append(subscription)
            size += width
    return [
        (
            FanoutSlice(
                room_id=room_id,
                incarnation=incarnation,
                part=n,
                parts=len(pieces),
                frames=texts,
                targets=[target_of(s) for s in piece],
                group=runs[run][0],
                batch=batch,
            ).model_dump_json(by_alias=True),
            run,
            piece,
        )
        for n, (run, piece) in enumerate(pieces, start=1)
    ]


REST_NAME_WIDTH = len("rest:") + 64


def rest_of(piece: FanoutSlice, late: set[str]) -> FanoutSlice:
    """The slice's connections in ``late`` as a slice of their own, named after its parent (the digest of
    its body): a retry of the parent hands on the same rest (kept once by the queue), while a rest of a rest
    with the same connections is still a new message."""
    parent = hashlib.sha256(piece.model_dump_json(by_alias=True).encode()).hexdigest()
    return piece.model_copy(
        update={"targets": [t for t in piece.targets if t.connection_id in late], "batch": f"rest:{parent}"}
    )
