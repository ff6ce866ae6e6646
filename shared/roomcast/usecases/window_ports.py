"""The frame window's ports (usecases/pacing.py): the per-room window items (adapters/dynamodb/windows.py,
tests/support/memory_windows.py) and the flush queue, with what they give back. Moved here from pacing.py,
which re-exports them, to keep that module under 400 lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from roomcast.domain.chat import CommentView
from roomcast.domain.events import CommentDeleted


class Appended(Enum):
    FIRST = "first"  # the window was new: this writer sends its flush message
    JOINED = "joined"
    REFUSED = "refused"  # closed by its flush, or full: the next window takes the comments
    HELD = "held"  # an earlier attempt of this batch appended it, maybe to an earlier window: see unsent


@dataclass
class ClosedWindow:
    comments: list[CommentView]
    already_closed: bool = False  # closed by an earlier flush attempt
    handed: bool = False  # that attempt handed the frames over (or posted them)
    leased: bool = False  # closed, not handed over, by another flusher still within its lease: no comments
    holder: str = ""  # this flusher's lease on the window (closed or taken over here), to release it
    # The window's held deletions: in a paced room a delete waits in the window beside the comments, so
    # that a comment deleted while held is never posted with its text (window_frames).
    deletions: list[CommentDeleted] = field(default_factory=list)
    # Comments whose deletion was recorded (``Windows.buried``) and went to another window, or out at once:
    # their text is left out here too (window_frames), their commentDeleted frame is that deletion's.
    buried: frozenset[str] = frozenset()
    # (start, w) of each window merged here (an exit's held windows): which tombstones they must read.
    slots: tuple[tuple[int, int], ...] = ()


class Windows(Protocol):
    """The per-room window items (adapters/dynamodb/windows.py; tests/support/memory_windows.py)."""

    def append(
        self,
        feed: str,
        start: int,
        comments: Sequence[CommentView],
        expires_at: int,
        deletions: Sequence[CommentDeleted] = (),
        seconds: int = 0,
    ) -> Appended: ...
    def open_seconds(self, feed: str) -> int | None:
        """The w of the feed's latest window when it is not handed over yet (strongly consistent); 0 when it
        is handed over (an older window may still be, its flush retried); None: the feed has no window."""

    def close(self, feed: str, start: int) -> ClosedWindow | None:
        """Closes the window atomically under this flusher's lease (``FLUSH_LEASE_SECONDS``) and returns every
        comment and deletion appended to it; a window closed before is taken over when it is not handed over and its
        lease is over (else ``leased``); None: no such window."""

    def release(self, feed: str, start: int, holder: str) -> None:
        """Ends this flusher's lease (``holder``) on a window it closed and could not post: a copy takes it
        over at once. A lease taken over by another flusher since is left alone."""

    def unsent(
        self, feed: str, comments: Sequence[CommentView], deletions: Sequence[CommentDeleted] = ()
    ) -> tuple[int, int] | None:
        """For a batch an earlier attempt appended (``Appended.HELD``): the start and w of its window (0: a
        head from before w was kept) when that window's flush may never have been sent (claimed, not marked
        sent, not handed over; claimed now when unclaimed), else None (sent, or posted)."""

    def mark_sent(self, feed: str, start: int) -> None: ...

    def orphans(self, feed: str, before: int) -> list[tuple[int, int]]:
        """The start and w (0: a head from before w was kept) of the windows before ``before`` whose flush
        was claimed and never sent, nor the window handed over, and not closed or closed under a lease now
        over: of those marked unposted (``mark_unposted``), however old, up to 10 (the oldest first) not
        given by a scan within ``SETTLED_SECONDS``, and those among the feed's newest heads not marked; each
        claimed again here. Two callers at once may both get one: a duplicate flush message only, which
        finds the window leased or handed over."""

    def mark_unposted(self, feed: str, start: int, expires_at: int) -> None:
        """Before the StreamFunction closes a window itself (its flush refused): ``orphans`` finds it until
        it is handed over, however many windows come after it."""

    def mark_handed(self, feed: str, start: int) -> None: ...
    def unmark(self, feed: str, start: int) -> None:
        """Deletes the window's ``mark_unposted`` marker: the StreamFunction posted the window it closed
        itself and marked it handed over, so neither an exit nor ``orphans`` need read it again."""

    def held(self, feed: str) -> ClosedWindow:
        """Every comment and deletion of the feed's recent windows not handed over yet, closed or not
        (strongly consistent): what a flush may not have posted to a leaver yet; ``slots``: their start and w."""

    def bury(self, feed: str, deletions: Sequence[CommentDeleted], at: int, expires_at: int) -> None:
        """Records the deletions (``at``: epoch seconds), before they are held or posted."""

    def buried(self, feed: str, since: int) -> frozenset[str]:
        """The comment ids whose deletion was recorded at ``since`` or later (strongly consistent)."""


class FlushQueue(Protocol):
    """The flush queue (standard): one message, delivered no sooner than ``delay_seconds`` from now."""

    def send_delayed(self, body: str, delay_seconds: int) -> None: ...
