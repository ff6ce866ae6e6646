"""Every file in events/ runs through its function, in order, on each backend."""

from __future__ import annotations

import json

import pytest

from roomcast.usecases.history import history
from roomcast_local import events, template
from support.fakes import RecordingApi
from support.stack import Stack

pytestmark = pytest.mark.integration


def test_every_command_sample_runs_through_the_command_function(stack: Stack) -> None:
    samples = events.samples("command-")
    assert samples, "events/ must hold samples"

    responses = {path.name: stack.invoke(events.function_for(path), events.load(path)) for path in samples}

    # Every record is acknowledged: good ones applied, poison ones parked in the DLQ
    assert all(response == {"batchItemFailures": []} for response in responses.values()), responses
    assert stack.store.rooms.get_room("art") is None  # created, joined, commented, left, deleted
    assert [c.text for c in history(stack.store, "music").comments] == ["the good one still lands"]
    reasons = sorted(m["MessageAttributes"]["ErrorCode"]["StringValue"] for m in stack.dead_letters())
    assert reasons == ["InvalidCommand", "InvalidCommand"]


def test_every_sample_names_a_function_of_the_template() -> None:
    for path in events.samples("command-"):
        assert events.function_for(path) in template.functions()


def test_the_moderation_samples_run_and_record_their_outcomes(stack: Stack) -> None:
    from roomcast.domain.outcomes import outcome_key, producer_of

    samples = events.samples("command-7-moderation-")
    assert len(samples) == 9, "one sample per moderation command, after the room they act on"

    summaries = {}
    for path in samples:
        event = events.load(path)
        assert stack.invoke(events.function_for(path), event) == {"batchItemFailures": []}
        for record in event["Records"]:
            body = json.loads(record["body"])
            producer = producer_of(record["attributes"]["SenderId"])
            found = stack.store.ledger.recorded(outcome_key(producer, body["commandId"], record["messageId"]))
            assert found is not None
            summaries[body["type"]] = found[0].summary().split(":")[0]

    assert summaries == {
        "createChatRoom": "applied chatRoomCreated",
        "joinChatRoom": "applied memberJoined",
        "addModerator": "applied moderatorAdded",
        "setRoomPolicy": "applied roomPolicySet",
        "muteUser": "applied userMuted",
        "unmuteUser": "applied userUnmuted",
        "banUser": "applied userBanned",
        "unbanUser": "applied userUnbanned",
        "deleteComment": "rejected CommentNotFound",  # the sample names a comment no room has
        "removeModerator": "applied moderatorRemoved",
    }
    room = stack.store.rooms.get_room("stage")
    assert room is not None and (room.moderators, room.slow_mode_seconds) == ((), 10)


def test_every_fanout_sample_posts_its_slice_through_the_fanout_function(
    stack: Stack, connections_api: RecordingApi
) -> None:
    samples = events.samples("fanout-")
    assert samples, "events/ must hold a slice sample"

    for path in samples:
        event = events.load(path)
        assert stack.invoke(events.function_for(path), event) == {"batchItemFailures": []}, path.name
        for record in event["Records"]:
            body = json.loads(record["body"])
            for target in body["targets"]:
                assert connections_api.received[target["connectionId"]] == [f.encode() for f in body["frames"]]
