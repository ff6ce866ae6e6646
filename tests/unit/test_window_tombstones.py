"""Issue 10 point 4, the fourth review's F2: a paced room's deletion that no window takes is posted at once
(a batch alone over the window's bytes, or the room's 4 windows full or sealed), while its comment's text
may still be held in a window. Every deletion of a paced room is therefore recorded first (a tombstone,
``Windows.bury``), and a window's frames, built after its close, leave out the text of every comment whose
deletion was recorded before (``Windows.buried``): its flush, the StreamFunction's fallback and an exit's
read of the held windows. On the in-memory table and the windows' fakes, as test_held_window_rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import test_held_window_rules as held_rules
from test_held_window_rules import Delete, deleted_ids, types
from test_pacing_rules import NOW, Paced, comments_of

from roomcast.domain.chat import CommentView, Room, room_feed
from roomcast.domain.commands import Command, LeaveChatRoom
from roomcast.domain.errors import TransientError
from roomcast.domain.events import CommentDeleted, Outcome
from roomcast.usecases.pacing import tombstones_since
from support.memory_windows import MemoryWindows

# test_held_window_rules' fixtures (test_pacing_rules' paced room of 3: windows of 3 s) are this module's too.
delete, flusher, flushes, live, now, paced, subscribed, windows = (
    getattr(held_rules, name)
    for name in ("delete", "flusher", "flushes", "live", "now", "paced", "subscribed", "windows")
)

SMALL_WINDOW = 600  # bytes: a comment of 300 characters and a few short ones


def deleted_at_once(paced: Paced, delete: Delete, windows: MemoryWindows) -> CommentView:
    """A comment held in the open window, then one stream batch alone over the window's bytes (no window
    takes it: posted at once) that also deletes it; the comment."""
    windows.max_bytes = SMALL_WINDOW
    (secret,) = paced.write(1, text="secret")
    paced.process_stream()
    assert paced.poster.posts == []
    paced.write(3, text="w" * 250 + "{index}")
    delete(secret)
    paced.process_stream()
    return secret


def texts(paced: Paced, connection: str) -> list[str]:
    return [text for frame in comments_of(paced.poster, connection) for text in frame]


def test_a_deletion_in_a_batch_no_window_takes_never_precedes_the_text_of_its_held_comment(
    paced: Paced, delete: Delete, windows: MemoryWindows
) -> None:
    # Given a paced room whose open window holds a comment
    # When one stream batch, alone over the window's bytes (posted at once), also deletes it
    connections = paced.subscribed(3)
    secret = deleted_at_once(paced, delete, windows)
    assert all(deleted_ids(paced.poster, c) == [secret.comment_id] for c in connections), "posted at once"
    paced.flush_all()

    # Then the window's flush leaves the deleted comment's text out: never posted after its deletion
    for connection in connections:
        assert "secret" not in texts(paced, connection)
        assert deleted_ids(paced.poster, connection) == [secret.comment_id]


def test_a_deletion_the_full_windows_refuse_leaves_the_held_text_out_of_its_flush(
    paced: Paced, delete: Delete, windows: MemoryWindows
) -> None:
    # Given a paced room whose window holds a comment, and batches that filled it and the 3 after it
    windows.max_bytes = SMALL_WINDOW
    connections = paced.subscribed(3)
    (secret,) = paced.write(1, text="secret")
    paced.process_stream()
    for _ in range(5):
        paced.write(1, text="w" * 350 + "{index}")
        paced.process_stream()
    assert all(w.sealed for w in windows.items.values()), "the 4 windows are full or sealed"

    # When a batch of its deletion alone comes: every window refuses it, and it is posted at once
    delete(secret)
    paced.process_stream()
    first_deleted = types(paced.poster, "c0").index("commentDeleted")
    paced.flush_all()

    # Then no flush posts the deleted text, before or after its deletion
    for connection in connections:
        assert "secret" not in texts(paced, connection)
    assert len(paced.poster.frames("c0")) > first_deleted + 1, "the other windows were flushed"


def test_a_leaver_after_a_deletion_posted_at_once_gets_no_held_text(
    paced: Paced, delete: Delete, windows: MemoryWindows, apply: Callable[[Command], Outcome]
) -> None:
    paced.subscribed(3)
    deleted_at_once(paced, delete, windows)

    # When bob leaves before the window's end: his exit reads the held windows
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()

    assert types(paced.poster, "c1")[-1] == "memberLeft"
    assert "secret" not in texts(paced, "c1")


def test_a_fallback_whose_tombstone_read_fails_releases_the_window_and_fails_the_batch(
    paced: Paced, delete: Delete, windows: MemoryWindows, art: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a paced room whose fan-out queue refuses the flush: the StreamFunction closes the window to post it
    connections = paced.subscribed(3)
    paced.flushes.failing = True
    gone, _ = paced.write(2, text="t{index}")
    delete(gone)

    def unreadable(feed: str, since: int) -> frozenset[str]:
        raise TransientError("tombstones not read: throttled")

    monkeypatch.setattr(windows, "buried", unreadable)
    result = paced.process_stream()

    # Then nothing is posted, the batch fails (retried), and the window is released for that retry
    assert paced.poster.posts == [] and result.failed
    window = windows.items[(room_feed("art", art.incarnation), int(NOW))]
    assert window.closed and window.lease_until == 0.0 and not window.handed
    assert all(comments_of(paced.poster, c) == [] for c in connections)


def test_a_tombstone_is_read_from_the_earliest_batch_that_may_hold_its_comment(windows: MemoryWindows) -> None:
    deletion = CommentDeleted(room_id="art", user_id="alice", comment_id="c1", position="p1")
    windows.bury("art#1", [deletion], 1_000, 1_000 + 3_600)

    # A window of 3 s starting 3 windows after the deletion's slot reads it; one starting later need not
    assert tombstones_since(1_009, 3) <= 1_000
    assert windows.buried("art#1", tombstones_since(1_009, 3)) == {"c1"}
    assert windows.buried("art#1", 1_001) == frozenset()


def test_a_batch_whose_deletions_cannot_be_recorded_fails_before_anything_is_held(
    paced: Paced, delete: Delete, windows: MemoryWindows, monkeypatch: pytest.MonkeyPatch
) -> None:
    paced.subscribed(3)
    (gone,) = paced.write(1, text="gone")
    delete(gone)

    def unwritable(feed: str, deletions: object, at: int, expires_at: int) -> None:
        raise TransientError("tombstones not written: throttled")

    monkeypatch.setattr(windows, "bury", unwritable)
    result = paced.process_stream()

    # Then the room's records fail (Lambda retries them), nothing held, nothing posted
    assert result.failed and windows.items == {} and paced.poster.posts == []


def test_a_flush_whose_tombstone_read_fails_posts_nothing_and_is_retried(
    paced: Paced, delete: Delete, windows: MemoryWindows, monkeypatch: pytest.MonkeyPatch
) -> None:
    paced.subscribed(3)
    paced.write(1, text="held")
    paced.process_stream()

    def unreadable(feed: str, since: int) -> frozenset[str]:
        raise TransientError("tombstones not read: throttled")

    monkeypatch.setattr(windows, "buried", unreadable)

    # Then the flush raises (its message comes back), posting nothing and handing nothing over
    with pytest.raises(TransientError):
        paced.flush_all()
    assert paced.poster.posts == [] and not any(w.handed for w in windows.items.values())


def test_an_exit_reads_the_tombstones_its_held_windows_need_not_85_minutes_of_them(
    paced: Paced, windows: MemoryWindows, apply: Callable[[Command], Outcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a paced room whose open window (w = 3 s) holds a comment
    paced.subscribed(3)
    paced.write(1, text="held")
    paced.process_stream()
    reads: list[int] = []
    read = windows.buried

    def counted(feed: str, since: int) -> frozenset[str]:
        reads.append(since)
        return read(feed, since)

    monkeypatch.setattr(windows, "buried", counted)

    # When bob leaves: his exit reads the held window
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()

    # Then it reads the tombstones from where that window's flush would (seconds back), not the whole range
    assert reads == [tombstones_since(int(NOW), 3)]
