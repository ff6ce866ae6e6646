"""WINDOW_MAX_BYTES: a full frame window is still handed to the second tier in slices of the default size,
whatever its comments' text (docs/capacity.md, "Costs of a paced room")."""

from __future__ import annotations

import pytest

from roomcast.adapters.dynamodb.windows import _COMMENTS, sized_batch, slice_bytes
from roomcast.domain.chat import CommentView, Subscription
from roomcast.domain.frame_window import WINDOW_MAX_BYTES
from roomcast.settings import FanoutSettings
from roomcast.usecases.pacing import Appended
from roomcast.wire.frames import comment_frames
from roomcast.wire.slices import slice_bodies
from support.memory_windows import MemoryWindows


def full_window(text: str) -> list[CommentView]:
    """Batches of 10 comments appended while the window's counted bytes stay within WINDOW_MAX_BYTES."""
    held: list[CommentView] = []
    counted = 0
    while True:
        batch = [
            CommentView(
                comment_id=f"01JDX{len(held) + n:021d}",
                user_id=f"user-{len(held) + n:019d}",
                text=text,
                created_at="2026-11-30T23:00:00.000Z",
                position=f"{len(held) + n:026d}",
            )
            for n in range(10)
        ]
        size = slice_bytes(_COMMENTS.dump_json(batch, by_alias=True).decode())
        if counted + size > WINDOW_MAX_BYTES:
            return held
        held += batch
        counted += size


@pytest.mark.parametrize("text", ["a plain comment of some length " * 10, '"\\' * 150, "é漢字😀" * 75])
def test_a_full_window_is_sliced_with_a_full_slice_of_targets(text: str) -> None:
    fields = FanoutSettings.model_fields
    slice_size, max_bytes = fields["fanout_slice_size"].default, fields["fanout_slice_bytes"].default
    frame_limit = 32 * 1024  # FRAME_LIMIT_BYTES' default
    comments = full_window(text)
    subscriptions = [
        Subscription(
            connection_id=f"Abc{n:012d}=", user_id=f"user-{n:019d}", room_id="art", incarnation="i1", expires_at=2**40
        )
        for n in range(slice_size)
    ]

    slices = slice_bodies(
        "art", "i1", comment_frames("art", comments, frame_limit), subscriptions, slice_size, max_bytes
    )

    assert len(comments) >= 100  # a full window: over 190 KiB of comments of up to 900 bytes
    assert slices is not None and [len(group) for _, group in slices] == [slice_size]


def test_the_fake_counts_a_batch_as_the_adapter_does_escaped_as_in_a_slice() -> None:
    # Given a batch of quotes and backslashes: 60 KB of text, about 120 KB as JSON, about 240 KB escaped again
    quotes = [
        CommentView(
            comment_id=f"c{i}",
            user_id="u",
            text='"\\' * 2_000,
            created_at="2026-12-01T06:00:00.000Z",
            position=f"{i:010d}",
        )
        for i in range(15)
    ]
    _, size = sized_batch(quotes)
    assert size > WINDOW_MAX_BYTES

    # Then the fake refuses it, as DynamoWindows does (it accepted it, counting each comment's JSON once)
    assert MemoryWindows().append("art#1", 1_800_000_000, quotes, 1_800_003_600) is Appended.REFUSED
    windows = MemoryWindows()
    windows.append("art#1", 1_800_000_000, quotes[:2], 1_800_003_600)
    assert windows.items[("art#1", 1_800_000_000)].size == sized_batch(quotes[:2])[1]
