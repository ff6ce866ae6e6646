"""Issue 10 point 4, the fifth review's G1: a deletion in a room that dropped to the threshold, whose newest
window is handed over while an older one (holding the deleted comment) is not (its flush reached nobody and
comes back 30 s later), is posted at once: it is recorded first (a tombstone), so that the older window's
retried flush, or an exit's read of the held windows, leaves the comment's text out. On the in-memory table
and the windows' fakes, as test_held_window_rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import test_held_window_rules as held_rules
from test_held_window_rules import Delete, types
from test_pacing_rules import Paced, comments_of

from roomcast.domain.chat import CommentView, Room, room_feed
from roomcast.domain.commands import Command, LeaveChatRoom
from roomcast.domain.errors import TransientError
from roomcast.domain.events import Outcome
from roomcast.usecases.ports import Store
from roomcast.wire.flush import WindowFlush
from support.memory_windows import MemoryWindows

# test_held_window_rules' fixtures (test_pacing_rules' paced room of 3: windows of 3 s) are this module's too.
delete, flusher, flushes, live, now, paced, subscribed, windows = (
    getattr(held_rules, name)
    for name in ("delete", "flusher", "flushes", "live", "now", "paced", "subscribed", "windows")
)


def texts(paced: Paced, connection: str) -> list[str]:
    return [text for frame in comments_of(paced.poster, connection) for text in frame]


def deleted_behind_a_handed_window(
    paced: Paced, delete: Delete, now: list[float], store: Store, art: Room
) -> tuple[CommentView, WindowFlush]:
    """A comment held in window N ("secret"), "later" in N + 1; N's flush reaches nobody (released, retried), N + 1's is
    handed over; the room drops to the threshold (c2 unsubscribes) and "secret" is deleted. The comment and
    N's flush message."""
    paced.subscribed(3)
    (secret,) = paced.write(1, text="secret")
    paced.process_stream()
    now[0] += 3
    paced.write(1, text="later")
    paced.process_stream()
    older, newer = paced.flushes.take()
    paced.poster.failing = {"c0", "c1", "c2"}
    with pytest.raises(TransientError):
        paced.flusher.flush(older)
    paced.poster.failing = set()
    paced.flusher.flush(newer)
    feed = room_feed("art", art.incarnation)
    store.connections.remove_subscriptions(
        [s for s in store.connections.all_subscribers(feed, consistent=True) if s.connection_id == "c2"]
    )
    delete(secret)
    return secret, older


def test_a_deletion_posted_at_once_behind_a_handed_window_is_never_followed_by_its_text(
    paced: Paced, delete: Delete, now: list[float], store: Store, art: Room, windows: MemoryWindows
) -> None:
    # Given a deletion in a dropped room whose newest window is handed over, an older one not
    secret, older = deleted_behind_a_handed_window(paced, delete, now, store, art)

    # When it is processed (posted at once: the newest window is handed over), then the older flush retried
    paced.process_stream()
    assert types(paced.poster, "c0")[-1] == "commentDeleted"
    assert {c for _, _, c in windows.tombstones} == {secret.comment_id}, "recorded before it was posted"
    paced.flusher.flush(older)

    # Then the older window's flush leaves the deleted text out
    for connection in ("c0", "c1"):
        assert "secret" not in texts(paced, connection)
        assert "later" in texts(paced, connection)


def test_a_leaver_after_a_deletion_posted_at_once_behind_a_handed_window_gets_no_held_text(
    paced: Paced,
    delete: Delete,
    now: list[float],
    store: Store,
    art: Room,
    apply: Callable[[Command], Outcome],
) -> None:
    deleted_behind_a_handed_window(paced, delete, now, store, art)
    paced.process_stream()

    # When bob leaves while the older window is still held: his exit reads it
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()

    assert types(paced.poster, "c1")[-1] == "memberLeft"
    assert "secret" not in texts(paced, "c1")


def test_a_deletion_in_a_room_never_paced_is_not_recorded(paced: Paced, delete: Delete, windows: MemoryWindows) -> None:
    paced.subscribed(2)  # at the threshold: never paced, no window
    (gone,) = paced.write(1, text="gone")
    paced.process_stream()
    delete(gone)
    paced.process_stream()
    assert types(paced.poster, "c0")[-1] == "commentDeleted" and windows.tombstones == []
