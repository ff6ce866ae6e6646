"""Ids, positions and time: the shapes ids must have, ULIDs, and the clock use cases read."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import StringConstraints

# Ids end up inside table keys ("Room:<id>", "<roomId>#<incarnation>"), so the separators are excluded.
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
COMMAND_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
POSITION_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
CommandId = Annotated[str, StringConstraints(pattern=COMMAND_ID_PATTERN)]
Position = Annotated[str, StringConstraints(pattern=POSITION_PATTERN)]

# Milliseconds since the epoch. Use cases take one as an argument, so tests can fix time.
Clock = Callable[[], int]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def system_clock() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int | float) -> str:
    """An ISO 8601 UTC timestamp with milliseconds, as every item and frame carries."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_ulid(now_ms: int | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits.

    Lexicographic order is time order, and two ids made in the same millisecond
    (by one user or many) still differ, so they are unique, totally ordered positions.
    """
    ms = system_clock() if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def lowest_ulid(ms: int) -> str:
    """The first ULID of a millisecond (random part all zeros): every id made in it sorts at or after it."""
    return "".join(_CROCKFORD[(ms << 80 >> shift) & 31] for shift in range(125, -1, -5))


def ulid_ms(ulid: str) -> int:
    """The millisecond timestamp a ULID carries."""
    value = 0
    for char in ulid[:10]:
        value = value * 32 + _CROCKFORD.index(char)
    return value
