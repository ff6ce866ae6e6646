"""Issue 10 point 4, the frame window's held comments, on each backend: a paced room's deletions held in its
window beside its comments (the batch item's ``Deleted``), so a comment deleted while held is never posted
with its text; and a leaver given every comment of the windows not handed over yet, whatever the room's size.
The StreamFunction and FanoutFunction run behind the template's mappings, as in test_frame_windows."""

from __future__ import annotations

import json

import pytest
from test_failure_isolation import texts_received
from test_frame_windows import frame_types, paced_room, views, window_items
from test_second_tier import drain

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.windows import DynamoWindows
from roomcast.domain.chat import CommentView, room_feed
from roomcast.domain.events import CommentAdded, CommentDeleted
from roomcast.domain.frame_window import WINDOW_MAX_BYTES
from roomcast.models import AddComment, DeleteComment, LeaveChatRoom
from roomcast.usecases import commands
from roomcast.usecases.pacing import Appended
from roomcast.wire.frames import FRAME_ADAPTER, CommentDeletedFrame
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration

START = 1_800_000_000


def written(stack: Stack, *texts: str) -> list[CommentView]:
    """art-u00 (the room's creator) writes each text; the comments."""
    events = [commands.apply(AddComment(room_id="art", user_id="art-u00", text=t), stack.store).event for t in texts]
    assert all(isinstance(e, CommentAdded) for e in events)
    return [e.comment for e in events if isinstance(e, CommentAdded)]


def delete(stack: Stack, comment: CommentView) -> None:
    commands.apply(DeleteComment(room_id="art", user_id="art-u00", comment_id=comment.comment_id), stack.store)


def deleted_ids(api: RecordingApi, connection: str) -> list[str]:
    frames = [FRAME_ADAPTER.validate_json(data) for data in api.received[connection]]
    return [f.comment_id for f in frames if isinstance(f, CommentDeletedFrame)]


def deletion(comment: CommentView) -> CommentDeleted:
    return CommentDeleted(room_id="art", user_id="u1", comment_id=comment.comment_id, position=comment.position)


def test_a_comment_deleted_while_held_is_flushed_without_its_text(stack: Stack, connections_api: RecordingApi) -> None:
    # Given a paced room of 3 (a window of 3 s) and a comment held in its window
    connections, _, stream, _, fanout = paced_room(stack, 3)
    written(stack, "kept")
    stream.drain()

    # When another comment is written and deleted before the window's end (one stream batch, so one
    # window: batches a wall-clock second apart may fall in two windows, and the test's clock is real)
    (gone,) = written(stack, "deleted")
    delete(stack, gone)
    stream.drain()
    assert connections_api.posts == [], "the deletion waits in the window beside the comments"
    drain(
        fanout, lambda: all(deleted_ids(connections_api, c) and texts_received(connections_api, c) for c in connections)
    )

    # Then every connection got the kept comment, never the deleted text, then the deletion
    for connection in connections:
        assert texts_received(connections_api, connection) == ["kept"]
        assert deleted_ids(connections_api, connection) == [gone.comment_id]
        assert frame_types(connections_api, connection)[-1] == "commentDeleted"


def test_a_deletion_after_the_flush_follows_the_text_in_the_next_window(
    stack: Stack, connections_api: RecordingApi
) -> None:
    connections, _, stream, _, fanout = paced_room(stack, 3)
    (posted,) = written(stack, "posted")
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    delete(stack, posted)
    stream.drain()
    drain(fanout, lambda: all(deleted_ids(connections_api, c) for c in connections))

    for connection in connections:
        assert frame_types(connections_api, connection) == ["comments", "commentDeleted"]
        assert deleted_ids(connections_api, connection) == [posted.comment_id]


def test_a_leaver_of_a_room_below_the_threshold_still_gets_the_held_comments(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room of 3, a comment held, and the room back to 2 subscribers before the window's end
    connections, _, stream, _, fanout = paced_room(stack, 3)
    written(stack, "held")
    stream.drain()
    room = stack.store.rooms.get_room("art")
    assert room is not None
    subscriptions = stack.store.connections.all_subscribers(room_feed("art", room.incarnation), consistent=True)
    stack.store.connections.remove_subscriptions([s for s in subscriptions if s.connection_id == connections[2]])

    # When art-u01 leaves
    commands.apply(LeaveChatRoom(room_id="art", user_id="art-u01"), stack.store)
    stream.drain()

    # Then the leaver got the held comment before its exit; the one left got it from the flush
    assert frame_types(connections_api, connections[1]) == ["comments", "memberLeft"]
    assert texts_received(connections_api, connections[1]) == ["held"]
    drain(fanout, lambda: bool(texts_received(connections_api, connections[0])))
    assert texts_received(connections_api, connections[0]) == ["held"]


def test_a_window_holds_deletions_in_its_batch_items_and_gives_them_back(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    a, b = views("a00000001", "b00000002")

    windows.append(feed, START, [a, b], START + 3600)
    windows.append(feed, START, [], START + 3600, [deletion(a)])  # a batch of one deletion
    windows.append(feed, START, [], START + 3600, [deletion(a)])  # its retry: the same item
    held = windows.held(feed)
    closed = windows.close(feed, START)

    assert [d.comment_id for d in held.deletions] == [a.comment_id]
    assert closed is not None and [d.comment_id for d in closed.deletions] == [a.comment_id]
    assert sorted(c.text for c in closed.comments) == ["a00000001", "b00000002"]
    head, *items = window_items(windows, feed)
    batches = [item for item in items if str(item["SK"]).startswith(keys.WINDOW_BATCH_PREFIX)]
    assert head["Appends"] == 2 and len(batches) == 2
    assert [json.loads(b["Deleted"])[0]["commentId"] for b in batches if "Deleted" in b] == [a.comment_id]


def test_a_held_deletion_counts_as_its_frame_in_the_window_bytes(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    (a,) = views("a00000001")
    windows.append(feed, START, [a], START + 3600)
    before = window_items(windows, feed)[0]["Bytes"]

    windows.append(feed, START, [], START + 3600, [deletion(a)])

    frame = f'{{"type":"commentDeleted","roomId":"art","commentId":"{a.comment_id}","position":"{a.position}"}}'
    added = window_items(windows, feed)[0]["Bytes"] - before
    assert added == len(json.dumps(frame)) + 1 + len(json.dumps("[]"))  # the frame escaped, its comma, no comments


def test_a_window_that_refused_a_batch_refuses_every_later_one(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    big = "x" * (WINDOW_MAX_BYTES // 2)
    (small,) = views("small0001")
    windows.append(feed, START, views(big + "1"), START + 3600)

    refused = windows.append(feed, START, views(big + "2"), START + 3600)  # no room left for it
    # A later batch that would fit (the spilled comment's deletion) goes after it, never into the earlier window
    sealed = windows.append(feed, START, [], START + 3600, [deletion(small)])

    assert (refused, sealed) == (Appended.REFUSED, Appended.REFUSED)
    assert windows.append(feed, START + 3, [], START + 3600, [deletion(small)]) is Appended.FIRST
    assert windows.append(feed, START + 6, views(big + "3" + big), START + 3600) is Appended.REFUSED  # alone too big
    assert windows.append(feed, START + 6, views("fits00001"), START + 3600) is Appended.FIRST  # nothing sealed


def test_a_deletion_posted_at_once_leaves_its_held_comment_text_out_of_the_flush(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room of 3 and a comment held in its window
    connections, batches, stream, given, fanout = paced_room(stack, 3)
    (secret,) = written(stack, "secret")
    stream.drain()
    assert connections_api.posts == []

    # When one stream batch of 99 comments of 2,000 characters (alone over WINDOW_MAX_BYTES: no window takes
    # it, it is posted at once) also deletes the held comment
    written(stack, *[f"{i:02d}{'w' * 1998}" for i in range(99)])
    delete(stack, secret)
    stream.drain()
    assert batches[-1] == 100, "the comments and the deletion in one stream batch"
    assert all(deleted_ids(connections_api, c) == [secret.comment_id] for c in connections), "posted at once"

    # Then the held window's flush, recording the deletion's tombstone, leaves the deleted text out
    drain(fanout, lambda: bool(given))
    for connection in connections:
        assert "secret" not in texts_received(connections_api, connection)
        assert deleted_ids(connections_api, connection) == [secret.comment_id]


def test_a_room_s_tombstones_are_read_from_a_time_on(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    a, b = views("a00000001", "b00000002")
    windows.bury("art#i1", [deletion(a)], START, START + 3600)
    windows.bury("art#i1", [deletion(b), deletion(b)], START + 5, START + 3600)
    windows.bury("other#i1", [deletion(a)], START + 5, START + 3600)
    windows.append("art#i1", START, [a, b], START + 3600)  # a window's items are not tombstones

    assert windows.buried("art#i1", START) == {a.comment_id, b.comment_id}
    assert windows.buried("art#i1", START + 1) == {b.comment_id}
    assert windows.buried("art#i1", START + 6) == frozenset()


def test_the_held_windows_tell_their_start_and_w(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    windows.append("art#i1", START, views("a"), START + 3600, seconds=2)
    windows.append("art#i1", START + 2, views("b"), START + 3600, seconds=2)
    windows.close("art#i1", START)
    windows.mark_handed("art#i1", START + 2)

    # An exit reads its tombstones from the oldest these windows need (Pacer.with_held), not 85 minutes back
    assert windows.held("art#i1").slots == ((START, 2),)
