"""Issue 10 point 4, the frame-rate budget per connection, on each backend: a paced room's comments held in
its frame window (``Pace:<feed>`` items, adapters/dynamodb/windows.py) by the StreamFunction, and posted once
per window by the FanoutFunction when the window's delayed flush message comes, both run as the template
declares them (the budget and threshold lowered through its parameters)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from test_failure_isolation import room_with_subscribers, stream_function_run, texts_received
from test_second_tier import FanoutSources, comment, drain, queue_depth

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.windows import OPEN_WINDOW_HORIZON_SECONDS, DynamoWindows
from roomcast.domain.chat import CommentView
from roomcast.domain.events import CommentAdded
from roomcast.domain.frame_window import WINDOW_MAX_BYTES
from roomcast.models import AddComment, LeaveChatRoom
from roomcast.usecases import commands
from roomcast.usecases.pacing import Appended
from roomcast.wire.flush import FanoutMessage, WindowFlush, parse_fanout_message
from roomcast.wire.frames import FRAME_ADAPTER, CommentsFrame
from roomcast_local import template
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration

START = 1_800_000_000


def paced_room(stack: Stack, count: int) -> tuple[list[str], list[int], Any, list[FanoutMessage], FanoutSources]:
    """Rooms above 2 live subscribers paced at 1 post/s (a room of 3 gets a window of 3 s), and room art of
    ``count`` subscribers: its connections, the StreamFunction's batches (by size) and stream source, and
    what the FanoutFunction was given and its queue's source, both behind the template's mappings."""
    stack.provisioned.parameters.update(PaceThreshold="2", RoomFrameBudget="1")
    connections, _ = room_with_subscribers(stack, "art", count)
    batches, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    return connections, batches, stream, given, fanout


def fanout_run(stack: Stack) -> tuple[list[FanoutMessage], FanoutSources]:
    """The FanoutFunction behind the template's mappings of the flush and fan-out queues; records each message."""
    given: list[FanoutMessage] = []

    def invoke(event: dict[str, Any]) -> Any:
        given.extend(parse_fanout_message(r["body"]) for r in event["Records"])
        return stack.invoke("FanoutFunction", event)

    return given, FanoutSources(stack, invoke)


def comment_frames_of(api: RecordingApi, connection: str) -> int:
    frames = [FRAME_ADAPTER.validate_json(data) for data in api.received[connection]]
    return sum(isinstance(f, CommentsFrame) for f in frames)


def views(*texts: str) -> list[CommentView]:
    return [
        CommentView(
            comment_id=f"k{hash(t) % 10**6}",
            user_id="u1",
            text=t,
            created_at="2026-11-30T23:00:00.000Z",
            position=t[-9:],
        )
        for t in texts
    ]


def test_comments_over_several_batches_make_one_frame_per_connection_per_window(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room of 3 subscribers (a window of 3 s)
    connections, batches, stream, given, fanout = paced_room(stack, 3)

    # When comments arrive over three stream batches
    texts = ["a", "b", "c", "d"]
    for chunk in (["a"], ["b", "c"], ["d"]):
        comment(stack, chunk)
        stream.drain()
    assert len(batches) == 3
    assert connections_api.posts == [], "a paced room's comments wait for their window's end"
    drain(fanout, lambda: all(len(texts_received(connections_api, c)) == len(texts) for c in connections))

    # Then every connection got every comment once, in position order, in one frame per window flushed
    flushes = [m for m in given if isinstance(m, WindowFlush)]
    assert 1 <= len(flushes) == len(given) and len({f.start for f in flushes}) == len(flushes)
    for connection in connections:
        assert texts_received(connections_api, connection) == texts
        assert comment_frames_of(connections_api, connection) == len(flushes)
    assert queue_depth(stack, "FrameWindowQueue") == 0 and queue_depth(stack, "FanoutQueue") == 0


def test_a_comment_after_the_flush_goes_out_with_the_next_one(stack: Stack, connections_api: RecordingApi) -> None:
    connections, _, stream, given, fanout = paced_room(stack, 3)
    comment(stack, ["first"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) == ["first"] for c in connections))

    comment(stack, ["second"])
    stream.drain()
    drain(fanout, lambda: all(len(texts_received(connections_api, c)) == 2 for c in connections))

    starts = [m.start for m in given if isinstance(m, WindowFlush)]
    assert len(starts) == 2 and starts[1] > starts[0]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["first", "second"]
        assert comment_frames_of(connections_api, connection) == 2


def test_a_window_item_takes_appends_until_closed_then_refuses_them(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"

    first = windows.append(feed, START, views("a"), START + 3600)
    windows.mark_sent(feed, START)  # its first writer sent the flush: the next joins
    joined = windows.append(feed, START, views("b", "c"), START + 3600)
    again = windows.append(feed, START, views("b", "c"), START + 3600)  # a retried batch: the same entry
    held = windows.held(feed).comments
    closed = windows.close(feed, START)
    late = windows.append(feed, START, views("d"), START + 3600)

    assert (first, joined, again, late) == (Appended.FIRST, Appended.JOINED, Appended.HELD, Appended.REFUSED)
    assert sorted(c.text for c in held) == ["a", "b", "c"]
    assert closed is not None and not closed.already_closed
    assert sorted(c.text for c in closed.comments) == ["a", "b", "c"]
    assert sorted(c.text for c in windows.held(feed).comments) == ["a", "b", "c"], "closed, not handed over yet"
    windows.mark_handed(feed, START)
    assert windows.held(feed).comments == []
    # One small head, counted once per batch, one item per batch and its marker: the retry wrote nothing
    head, *items = window_items(windows, feed)
    batches = [item for item in items if str(item["SK"]).startswith(keys.WINDOW_BATCH_PREFIX)]
    markers = [item for item in items if str(item["SK"]).startswith(keys.WINDOW_HELD_PREFIX)]
    assert head["SK"] == keys.window_sk(START) and (head["Appends"], "Closed" in head) == (2, True)
    assert sorted(len(json.loads(b["Comments"])) for b in batches) == [1, 2]
    assert all(b["SK"].startswith(keys.window_batches_prefix(START)) for b in batches)
    assert len(items) == 4 and [int(m["Start"]) for m in markers] == [START, START]


def window_items(windows: DynamoWindows, feed: str) -> list[dict[str, Any]]:
    """The feed's pace items, the heads first (``Window:`` sorts after ``Batch:``)."""
    items = windows.query_all(
        KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": keys.pace_pk(feed)}, ConsistentRead=True
    )
    return sorted(items, key=lambda item: not str(item["SK"]).startswith(keys.WINDOW_PREFIX))


def test_a_closed_window_tells_a_retried_flush_whether_it_was_handed_over(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    windows.append(feed, START, views("a"), START + 3600)
    windows.close(feed, START)

    before = windows.close(feed, START)
    windows.mark_handed(feed, START)
    after = windows.close(feed, START)

    assert before is not None and (before.already_closed, before.handed) == (True, False)
    assert after is not None and (after.already_closed, after.handed) == (True, True)
    assert after.comments == []  # its copy posts nothing: no batch is read
    assert windows.close(feed, START + 3) is None  # no such window: nothing to post


def test_a_full_window_refuses_the_batch_that_would_overflow_it(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    big = "x" * (WINDOW_MAX_BYTES // 2 - 150)  # two fill the window but for less than a comment
    windows.append(feed, START, views(big + "1"), START + 3600)
    windows.mark_sent(feed, START)

    assert windows.append(feed, START, views(big + "2"), START + 3600) is Appended.JOINED
    assert windows.append(feed, START, views("small"), START + 3600) is Appended.REFUSED
    assert windows.append(feed, START + 3, views("small"), START + 3600) is Appended.FIRST
    # The refused batch left nothing in the full window; the next one holds it
    full, following = windows.close(feed, START), windows.close(feed, START + 3)
    assert full is not None and sorted(c.text[-1] for c in full.comments) == ["1", "2"]
    assert following is not None and [c.text for c in following.comments] == ["small"]


def test_held_comments_are_those_of_recent_windows_not_handed_over(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    now = int(time.time())
    old = now - OPEN_WINDOW_HORIZON_SECONDS - 60  # its flush dead-lettered long ago: never posted
    windows_ = ((old, "old"), (now - 9, "handed"), (now - 6, "closed"), (now - 3, "late flush"), (now, "open"))
    for start, text in windows_:
        windows.append(feed, start, views(text), now + 3600)
    windows.close(feed, now - 9)
    windows.mark_handed(feed, now - 9)
    windows.close(feed, now - 6)  # its flush is posting: it may have read a leaver's subscription or not

    assert sorted(c.text for c in windows.held(feed).comments) == ["closed", "late flush", "open"]
    assert windows.held("art#other").comments == []


def test_a_flush_that_reached_nobody_comes_back_and_is_posted_once(stack: Stack, connections_api: RecordingApi) -> None:
    # Given a paced room whose every connection is throttled for one whole FanoutFunction invocation
    connections, _, stream, given, fanout = paced_room(stack, 3)
    stack.sqs.set_queue_attributes(QueueUrl=stack.url("FrameWindowQueue"), Attributes={"VisibilityTimeout": "1"})
    connections_api.throttled.update(dict.fromkeys(connections, 4))  # POST_MAX_ATTEMPTS' default

    # When a comment is held, and its window's flush comes
    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then the flush came twice (the first reached nobody) and every connection has exactly one copy
    assert len(given) == 2 and given[0] == given[1]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert queue_depth(stack, "FrameWindowQueue") == 0 and queue_depth(stack, "FrameWindowDeadLetterQueue") == 0


def test_a_leaver_of_a_paced_room_gets_the_held_comments_then_their_exit(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room of 4 and a comment held in its window
    connections, _, stream, _, fanout = paced_room(stack, 4)
    comment(stack, ["held"])
    stream.drain()

    # When art-u01 leaves before the window's end
    commands.apply(LeaveChatRoom(room_id="art", user_id="art-u01"), stack.store)
    stream.drain()
    leaver = connections[1]
    assert frame_types(connections_api, leaver) == ["comments", "memberLeft"]
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then the leaver got the held comment before its exit and nothing after; the others got it at the end
    assert texts_received(connections_api, leaver) == ["held"]
    assert frame_types(connections_api, leaver) == ["comments", "memberLeft"]
    for connection in set(connections) - {leaver}:
        assert frame_types(connections_api, connection) == ["memberLeft", "comments"]
        assert texts_received(connections_api, connection) == ["held"]


def frame_types(api: RecordingApi, connection: str) -> list[str]:
    return [FRAME_ADAPTER.validate_json(data).type for data in api.received[connection]]


def test_a_window_whose_flush_cannot_be_sent_is_posted_by_the_stream_function(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room whose flush queue is gone (deleted, or a policy refuses the StreamFunction)
    connections, batches, stream, _, _ = paced_room(stack, 3)
    stack.sqs.delete_queue(QueueUrl=stack.url("FrameWindowQueue"))

    # When a comment goes through the stream
    comment(stack, ["hello"])
    stream.drain()

    # Then the StreamFunction closed the window and posted it at once: nothing lost, nothing failed; and
    # marked it handed over, so that a flush message SQS took after all (its answer lost) posts nothing
    assert batches == [1]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    windows = DynamoWindows(stack.table_name)
    (head,) = windows.client.scan(
        TableName=stack.table_name,
        FilterExpression="begins_with(SK, :heads)",
        ExpressionAttributeValues={":heads": keys.WINDOW_PREFIX},
    )["Items"]
    assert ("Closed" in head, "Handed" in head, "Sent" in head) == (True, True, False)


def test_a_refused_connection_of_a_paced_room_is_counted_for_the_alarm(
    stack: Stack, connections_api: RecordingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a paced room of 3, one connection refused (403) for good
    connections, _, stream, _, fanout = paced_room(stack, 3)
    connections_api.refused.add(connections[0])
    capsys.readouterr()

    comment(stack, ["hello"])
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections[1:]))

    # Then the others have one copy, and the flush counted the refusal where the fan-out's alarm reads it
    assert [texts_received(connections_api, c) for c in connections] == [[], ["hello"], ["hello"]]
    alarm = template.load()["Resources"]["FanoutPostsRefusedAlarm"]["Properties"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    flushes = [m for m in emitted if m.get("service") == "fanout" and "WindowsFlushed" in m]
    assert [m[alarm["MetricName"]] for m in flushes] == [[1.0]]


def test_a_retry_is_told_where_its_batch_is_held_and_whether_that_windows_flush_was_sent(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    # Given a batch appended and its window's flush claimed by an attempt that died before sending it
    assert windows.append(feed, START, views("a"), START + 3600, seconds=3) is Appended.FIRST

    # When the batch is retried in the next window's slot: held, and nothing is written there
    assert windows.append(feed, START + 3, views("a"), START + 3600) is Appended.HELD
    assert windows.close(feed, START + 3) is None
    # Then its window's flush is to be sent again, with its own w, until it is marked sent
    assert windows.unsent(feed, views("a")) == (START, 3)
    windows.mark_sent(feed, START)
    assert windows.unsent(feed, views("a")) is None
    assert windows.unsent(feed, views("never appended")) is None


def test_a_claim_never_followed_by_its_send_is_taken_over_in_its_slot_or_found_by_the_next_window(
    stack: Stack,
) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    # Given a window whose first writer claimed its flush and died before the send
    assert windows.append(feed, START, views("a", "b"), START + 3600) is Appended.FIRST

    # When a retry of half the batch (bisected: another hash) comes in the same slot, it takes the claim
    # over (and sends the flush); once that is marked sent, the other half joins
    assert windows.append(feed, START, views("a"), START + 3600) is Appended.FIRST
    windows.mark_sent(feed, START)
    assert windows.append(feed, START, views("b"), START + 3600) is Appended.JOINED

    # Then in a later slot: the next window's first writer finds an orphan among the latest heads before it,
    # not a window sent, closed or handed over, nor its own
    assert windows.append(feed, START + 3, views("c"), START + 3600, seconds=3) is Appended.FIRST
    assert windows.append(feed, START + 6, views("d"), START + 3600) is Appended.FIRST
    windows.close(feed, START + 6)
    assert windows.orphans(feed, START + 9) == [(START + 3, 3)]  # with its own w
    windows.mark_sent(feed, START + 3)
    assert windows.orphans(feed, START + 9) == []


def test_a_closed_window_is_leased_to_its_flusher_until_released_or_handed_over(stack: Stack) -> None:
    windows = DynamoWindows(stack.table_name)
    feed = "art#i1"
    windows.append(feed, START, views("a"), START + 3600)

    first = windows.close(feed, START)
    assert first is not None and [c.text for c in first.comments] == ["a"]
    copy = windows.close(feed, START)  # a second copy of the flush, while the first posts
    windows.release(feed, START, "another flusher's")  # a lease is released only by its holder
    still = windows.close(feed, START)
    windows.release(feed, START, first.holder)  # the first reached nobody
    retry = windows.close(feed, START)
    windows.mark_handed(feed, START)
    late = windows.close(feed, START)

    assert still is not None and still.leased
    assert copy is not None and (copy.leased, copy.comments) == (True, [])
    assert retry is not None and (retry.already_closed, retry.leased, [c.text for c in retry.comments]) == (
        True,
        False,
        ["a"],
    )
    assert late is not None and (late.handed, late.leased) == (True, False)


def test_a_batch_whose_first_attempt_died_before_sending_its_flush_has_it_sent_by_its_retry(
    stack: Stack, connections_api: RecordingApi
) -> None:
    # Given a paced room of 3 (windows of 3 s) and a comment whose first StreamFunction attempt, some
    # window slots ago, appended it and claimed its window's flush, then died before sending it
    stack.provisioned.parameters.update(PaceThreshold="2", RoomFrameBudget="1")
    connections, feed = room_with_subscribers(stack, "art", 3)
    _, stream = stream_function_run(stack)
    given, fanout = fanout_run(stack)
    added = commands.apply(AddComment(room_id="art", user_id="art-u00", text="hello"), stack.store).event
    assert isinstance(added, CommentAdded)
    earlier = int(time.time()) // 3 * 3 - 6
    windows = DynamoWindows(stack.table_name)
    assert windows.append(feed, earlier, [added.comment], earlier + 3600) is Appended.FIRST

    # When the StreamFunction gets the batch again (Lambda's retry)
    stream.drain()
    drain(fanout, lambda: all(texts_received(connections_api, c) for c in connections))

    # Then it sent the earlier attempt's window's flush, appended nowhere else, and everybody got it once
    assert [m.start for m in given if isinstance(m, WindowFlush)] == [earlier]
    for connection in connections:
        assert texts_received(connections_api, connection) == ["hello"]
    assert queue_depth(stack, "FrameWindowQueue") == 0 and queue_depth(stack, "FanoutQueue") == 0
