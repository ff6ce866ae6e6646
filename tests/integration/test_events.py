"""Every file in events/ runs through its function, in order, on each backend."""

from __future__ import annotations

import pytest

from roomcast.usecases.history import history
from roomcast_local import events, template
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
