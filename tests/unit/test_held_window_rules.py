"""Issue 10 point 4, the frame window's held comments (usecases/pacing.py): a paced room's deletions wait in
its window beside its comments, so a comment deleted while held never goes out with its text; and a leaver
gets every comment a flush may not have posted to it, whatever the room's size now. On the in-memory table,
its stream and the windows' fakes, with test_pacing_rules' room of 3 subscribers paced in windows of 3 s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import test_pacing_rules as rules
from test_pacing_rules import NOW, Paced, comments_of

from roomcast.adapters.dynamodb.windows import sized_batch
from roomcast.domain.chat import CommentView, Room, room_feed
from roomcast.domain.commands import BanUser, Command, DeleteComment, LeaveChatRoom
from roomcast.domain.events import CommentDeleted, Outcome
from roomcast.usecases.ports import Store
from roomcast.usecases.subscriptions import Caller
from support.memory_windows import MemoryWindows
from support.recording import RecordingPoster

Delete = Callable[[CommentView], Outcome]

# test_pacing_rules' paced room and its parts are this module's fixtures too.
flusher, flushes, live, now, paced, subscribed, windows = (
    rules.flusher,
    rules.flushes,
    rules.live,
    rules.now,
    rules.paced,
    rules.subscribed,
    rules.windows,
)


@pytest.fixture
def delete(apply: Callable[[Command], Outcome]) -> Delete:
    """alice, the room's creator, deletes a comment."""
    return lambda comment: apply(DeleteComment(room_id="art", user_id="alice", comment_id=comment.comment_id))


def deleted_ids(poster: RecordingPoster, connection_id: str) -> list[str]:
    return [f["commentId"] for f in poster.frames(connection_id) if f["type"] == "commentDeleted"]


def types(poster: RecordingPoster, connection_id: str) -> list[str]:
    return [f["type"] for f in poster.frames(connection_id)]


def test_a_comment_deleted_in_its_window_is_never_posted_with_its_text(paced: Paced, delete: Delete) -> None:
    # Given a paced room and two comments held in its window
    connections = paced.subscribed(3)
    gone, kept = paced.write(2, text="t{index}")
    paced.process_stream()

    # When the first is deleted within the window (its commentDeleted goes through the stream too)
    delete(gone)
    paced.process_stream()

    # Then nothing is posted before the window's end: the deletion is held beside the comments
    assert paced.poster.posts == []
    paced.flush_all()
    # and the flush posts the other comment, never the deleted one's text, then the deletion
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["t1"]]
        assert deleted_ids(paced.poster, connection) == [gone.comment_id]
        assert types(paced.poster, connection) == ["comments", "commentDeleted"]
    assert kept.text == "t1"


def test_a_comment_and_its_deletion_in_one_batch_post_no_text(paced: Paced, delete: Delete) -> None:
    connections = paced.subscribed(3)
    (gone,) = paced.write(1, text="secret")
    delete(gone)

    paced.process_stream()
    paced.flush_all()

    for connection in connections:
        assert comments_of(paced.poster, connection) == []
        assert deleted_ids(paced.poster, connection) == [gone.comment_id]


def test_a_deletion_after_its_window_closed_follows_the_text_in_the_next_window(paced: Paced, delete: Delete) -> None:
    connections = paced.subscribed(3)
    (posted,) = paced.write(1, text="first")
    paced.process_stream()
    paced.flush_all()

    # When the comment, already posted by its window's flush, is deleted
    delete(posted)
    paced.process_stream()
    assert all(deleted_ids(paced.poster, c) == [] for c in connections), "held until the next window's end"
    (late,) = paced.flush_all()

    # Then the next window posts its deletion: subscribers see the text, then the deletion, as unpaced
    assert late.start == int(NOW) + 3
    for connection in connections:
        assert types(paced.poster, connection) == ["comments", "commentDeleted"]
        assert deleted_ids(paced.poster, connection) == [posted.comment_id]


def test_a_deletion_of_a_comment_posted_before_the_room_was_paced_is_held_then_posted(
    paced: Paced,
    delete: Delete,
    connect: Callable[..., Caller],
    send: Callable[..., list[dict[str, Any]]],
) -> None:
    # Given a comment posted while the room had 2 subscribers (unpaced, posted at once)
    connections = paced.subscribed(2)
    (early,) = paced.write(1, text="early")
    paced.process_stream()
    assert [comments_of(paced.poster, c) for c in connections] == [[["early"]]] * 2
    # and the room paced since (a third subscriber), a comment held in its window
    send(connect("c2", "alice"), {"action": "subscribe", "roomId": "art"})
    connections.append("c2")
    paced.poster.clear()
    paced.write(1, text="held")
    paced.process_stream()

    # When the early comment is deleted: a batch with a deletion only
    delete(early)
    paced.process_stream()

    # Then the deletion is held too, and the flush posts it after the window's comments
    assert paced.poster.posts == []
    paced.flush_all()
    for connection in connections:
        assert types(paced.poster, connection) == ["comments", "commentDeleted"]
        assert (comments_of(paced.poster, connection), deleted_ids(paced.poster, connection)) == (
            [["held"]],
            [early.comment_id],
        )


def test_a_leaver_gets_the_held_comments_but_the_deleted_ones(
    paced: Paced, delete: Delete, apply: Callable[[Command], Outcome]
) -> None:
    # Given bob's connections (c1, c3) in a paced room of 4, two comments held, one of them deleted
    paced.subscribed(4)
    gone, _ = paced.write(2, text="held{index}")
    paced.process_stream()
    delete(gone)
    paced.process_stream()

    # When bob leaves before the window's end
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()

    # Then bob got the kept comment, the deletion, then memberLeft: never the deleted text
    for connection in ("c1", "c3"):
        assert types(paced.poster, connection) == ["comments", "commentDeleted", "memberLeft"]
        assert comments_of(paced.poster, connection) == [["held1"]]


def test_a_banned_user_gets_the_held_comments_but_the_deleted_ones(
    paced: Paced, delete: Delete, apply: Callable[[Command], Outcome]
) -> None:
    paced.subscribed(4)
    gone, _ = paced.write(2, text="held{index}")
    delete(gone)
    paced.process_stream()

    apply(BanUser(room_id="art", user_id="alice", target_user_id="bob"))
    paced.process_stream()

    for connection in ("c1", "c3"):
        assert comments_of(paced.poster, connection) == [["held1"]]
        assert types(paced.poster, connection)[-1] == "banned"


def test_a_leaver_gets_the_held_comments_of_a_room_that_dropped_below_the_threshold(
    paced: Paced, apply: Callable[[Command], Outcome], store: Store, art: Room
) -> None:
    # Given a paced room of 3 (bob on c1) and a comment held in its window
    paced.subscribed(3)
    paced.write(1, text="held")
    paced.process_stream()
    # and the room back to 2 subscribers (alice's c2 gone) before the window's end: no longer paced
    feed = room_feed("art", art.incarnation)
    store.connections.remove_subscriptions(
        [s for s in store.connections.all_subscribers(feed, consistent=True) if s.connection_id == "c2"]
    )

    # When bob leaves
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()

    # Then bob still got the held comment before his exit
    assert types(paced.poster, "c1") == ["comments", "memberLeft"]
    assert comments_of(paced.poster, "c1") == [["held"]]
    paced.flush_all()
    assert comments_of(paced.poster, "c0") == [["held"]] and comments_of(paced.poster, "c1") == [["held"]]


def test_a_leaver_gets_the_comments_of_a_window_closed_but_not_handed_over(
    paced: Paced, apply: Callable[[Command], Outcome], windows: MemoryWindows
) -> None:
    # Given a paced room of 3 (bob on c1), a comment held, and its window closed by its flush, whose
    # posts are still under way (it read the subscriptions before bob's leave, or after: either may be)
    connections = paced.subscribed(3)
    paced.write(1, text="held")
    paced.process_stream()
    (flush,) = paced.flushes.take()
    closed = windows.close(flush.feed, flush.start)
    assert closed is not None

    # When bob leaves, then the flush goes on (here: its message again, the window closed, not handed,
    # its first holder's lease released so the copy takes it over)
    apply(LeaveChatRoom(room_id="art", user_id="bob"))
    paced.process_stream()
    windows.release(flush.feed, flush.start, closed.holder)
    paced.flusher.flush(flush)

    # Then bob got the comment before his exit, and the others from the flush
    assert types(paced.poster, "c1") == ["comments", "memberLeft"]
    for connection in connections:
        assert comments_of(paced.poster, connection) == [["held"]]


def test_the_window_counts_a_held_deletion_in_its_bytes(paced: Paced, delete: Delete, windows: MemoryWindows) -> None:
    paced.subscribed(3)
    (comment,) = paced.write(1)
    paced.process_stream()
    before = sum(w.size for w in windows.items.values())

    delete(comment)
    paced.process_stream()

    # A commentDeleted frame is about 150 bytes in a slice message: counted against WINDOW_MAX_BYTES
    assert sum(w.size for w in windows.items.values()) - before > 100


def test_a_deletion_never_lands_in_a_window_before_its_comment(
    paced: Paced, delete: Delete, windows: MemoryWindows, art: Room
) -> None:
    # Given a paced room whose window holds one comment, and a longer comment that no longer fits in it
    connections = paced.subscribed(3)
    (first,) = paced.write(1, text="f" * 100)
    paced.process_stream()
    (spilled,) = paced.write(1, text="s" * 200)
    deletion = CommentDeleted(room_id="art", user_id="alice", **spilled.model_dump(include={"comment_id", "position"}))
    # A window takes the longer comment and its deletion together; the first window had room left for the
    # deletion alone (and nothing more): a deletion there would go out before the comment's text
    windows.max_bytes = size_of([spilled]) + size_of([], [deletion])
    assert size_of([first]) + size_of([spilled]) > windows.max_bytes >= size_of([first]) + size_of([], [deletion])
    paced.process_stream()

    # When the spilled comment is deleted while held
    delete(spilled)
    paced.process_stream()
    paced.flush_all()

    # Then its text never went out: the full window refused the deletion too, which joined its comment
    for connection in connections:
        assert [text for frame in comments_of(paced.poster, connection) for text in frame] == [first.text]
        assert deleted_ids(paced.poster, connection) == [spilled.comment_id]


def size_of(comments: list[CommentView], deletions: Sequence[CommentDeleted] = ()) -> int:
    """What a batch counts in its window (the fake counts as DynamoWindows)."""
    return sized_batch(comments, deletions)[1]


def test_a_window_posted_at_once_for_want_of_its_flush_leaves_its_deleted_comments_out(
    paced: Paced, delete: Delete
) -> None:
    # Given a paced room whose fan-out queue refuses the flush message: the window is closed and posted now
    connections = paced.subscribed(3)
    paced.flushes.failing = True
    gone, _ = paced.write(2, text="t{index}")
    delete(gone)

    paced.process_stream()

    for connection in connections:
        assert comments_of(paced.poster, connection) == [["t1"]]
        assert deleted_ids(paced.poster, connection) == [gone.comment_id]


def test_a_comment_held_then_deleted_after_the_room_dropped_to_the_threshold_is_never_posted_with_its_text(
    paced: Paced, delete: Delete, store: Store, art: Room, windows: MemoryWindows
) -> None:
    # Given a paced room's comment held in its window, then the room dropping to the threshold
    paced.subscribed(3)
    (gone,) = paced.write(1, text="secret")
    paced.process_stream()
    feed = room_feed("art", art.incarnation)
    store.connections.remove_subscriptions(
        [s for s in store.connections.all_subscribers(feed, consistent=True) if s.connection_id == "c2"]
    )

    # When the comment is deleted (the room no longer paced)
    delete(gone)
    paced.process_stream()

    # Then the deletion waits in the room's window, not handed over yet, and its flush posts no text
    assert paced.poster.posts == []
    paced.flush_all()
    for connection in ("c0", "c1"):
        assert comments_of(paced.poster, connection) == []
        assert deleted_ids(paced.poster, connection) == [gone.comment_id]
    # and once that window is handed over, the room's deletions go out at once again (recorded first)
    assert windows.open_seconds(feed) == 0
