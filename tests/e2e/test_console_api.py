"""The console's JSON API (docs/local.md#the-console), over real HTTP on the running local stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from websockets.sync.client import connect

from support.local_stack import RunningStack, wait_until

pytestmark = pytest.mark.e2e


def console_url(stack: RunningStack) -> str:
    return f"{stack.state.callback_url}/console/"


def call(stack: RunningStack, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(console_url(stack) + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def outcome_of(stack: RunningStack, command_id: str) -> dict[str, Any]:
    def recorded() -> dict[str, Any] | None:
        status, outcome = call(stack, "GET", f"api/outcomes/{command_id}")
        assert status == 200, outcome
        return None if outcome["status"] == "pending" else outcome

    found: dict[str, Any] = wait_until(recorded, 60, f"the outcome of {command_id}")
    return found


def publish(stack: RunningStack, **command: str) -> str:
    status, sent = call(stack, "POST", "api/commands", command)
    assert status == 202, sent
    return str(sent["commandId"])


@pytest.fixture
def room() -> str:
    return f"console-{uuid.uuid4().hex[:8]}"


def test_the_page_is_served_at_console_and_lists_every_command_type(stack: RunningStack) -> None:
    with urllib.request.urlopen(console_url(stack).rstrip("/"), timeout=30) as page:  # /console redirects
        assert page.url == console_url(stack)
        assert "<title>Roomcast console</title>" in page.read().decode()
    with urllib.request.urlopen(console_url(stack) + "static/console.js", timeout=30) as script:
        assert script.status == 200
    status, config = call(stack, "GET", "api/config")
    assert status == 200 and config["stage"] == "v1"
    types = {kind["type"]: [field["name"] for field in kind["fields"]] for kind in config["commandTypes"]}
    assert types["addComment"] == ["roomId", "userId", "text"]
    assert {"createChatRoom", "deleteChatRoom", "joinChatRoom", "leaveChatRoom"} <= set(types)


def test_commands_go_through_the_queue_and_their_outcomes_and_log_lines_are_read_back(
    stack: RunningStack, room: str
) -> None:
    created = outcome_of(stack, publish(stack, type="createChatRoom", roomId=room, userId="alice"))
    assert created["status"] == "applied" and created["event"]["type"] == "chatRoomCreated"

    refused_id = publish(stack, type="addComment", roomId=room, userId="carol", text="let me in")
    refused = outcome_of(stack, refused_id)
    assert (refused["status"], refused["code"]) == ("rejected", "NotAMember")
    assert refused["summary"] == f"rejected NotAMember: 'carol' is not a member of room '{room}'"

    def logged() -> list[dict[str, Any]]:
        _, found = call(stack, "GET", f"api/logs?commandId={refused_id}")
        return [line for line in found["lines"] if "command rejected" in line["line"]]

    line = wait_until(logged, 60, "the rejection's log line")[0]
    assert line["source"] == "CommandFunction" and refused_id in line["line"]


def test_bad_input_gets_a_one_line_error(stack: RunningStack) -> None:
    status, answer = call(stack, "POST", "api/commands", {"type": "addComment", "roomId": "no spaces", "userId": "a"})
    assert status == 400
    # In the CLI's words (roomcast_cli.common.validated): the field, not the union's branch before it.
    assert answer["error"].startswith("invalid command: roomId: String should match pattern")
    assert answer["error"].endswith("; text: Field required")
    assert call(stack, "POST", "api/commands", raw=b"not json") == (400, {"error": "the body must be a JSON object"})
    assert call(stack, "POST", "api/commands", ["a list"]) == (400, {"error": "the body must be a JSON object"})
    assert call(stack, "POST", "api/tokens", {"userId": "b b"})[0] == 400
    assert call(stack, "POST", "api/tokens", {}) == (400, {"error": "userId is required"})
    assert call(stack, "GET", "api/logs") == (400, {"error": "commandId is required"})
    assert call(stack, "GET", "api/outcomes/never-sent")[1]["status"] == "pending"


def test_a_minted_token_opens_the_websocket_api(stack: RunningStack, room: str) -> None:
    outcome_of(stack, publish(stack, type="createChatRoom", roomId=room, userId="alice"))
    status, minted = call(stack, "POST", "api/tokens", {"userId": "alice"})
    assert status == 200 and minted["userId"] == "alice"
    with connect(f"{stack.state.ws_url}?token={minted['token']}", open_timeout=60) as socket:
        socket.send(json.dumps({"action": "subscribe", "roomId": room, "requestId": "s"}))
        assert json.loads(socket.recv(timeout=60))["type"] == "subscribed"


def test_the_dead_letter_queue_shows_reasons_and_redrives_one(stack: RunningStack, room: str) -> None:
    poison = json.dumps({"type": "addComment", "roomId": room})
    stack.client("sqs").send_message(
        QueueUrl=stack.state.outputs["CommandQueueUrl"],
        MessageBody=poison,
        MessageGroupId=f"{room}#poison",
        MessageDeduplicationId=uuid.uuid4().hex,
    )

    def parked() -> list[dict[str, Any]]:
        status, answer = call(stack, "GET", "api/dlq")
        assert status == 200
        return [message for message in answer["messages"] if message["body"] == poison]

    dead = wait_until(parked, 60, "the poison message in the dead-letter queue")[0]
    assert dead["attributes"]["ErrorCode"] == "InvalidCommand"
    assert "addComment.userId: Field required" in dead["attributes"]["ErrorMessage"]
    # Without a commandId its outcome is known by its SQS message.
    recorded = outcome_of(stack, dead["attributes"]["OriginalMessageId"])
    assert (recorded["status"], recorded["code"]) == ("deadLettered", "InvalidCommand")

    status, redriven = call(stack, "POST", f"api/dlq/{dead['messageId']}/redrive")
    assert status == 200 and redriven["redriven"] == dead["messageId"]
    # Still poison: the command function parks it again, this time as the redriven message.
    again = wait_until(
        lambda: [m for m in parked() if m["attributes"]["OriginalMessageId"] == redriven["messageId"]],
        60,
        "the redriven message dead-lettered again",
    )
    assert [m["messageId"] for m in parked()] == [again[0]["messageId"]]
    assert call(stack, "POST", f"api/dlq/{dead['messageId']}/redrive")[0] == 404


def test_the_stream_failure_queue_is_read_without_consuming_it(stack: RunningStack) -> None:
    queue_url = stack.state.outputs["StreamFailureQueueUrl"]
    record = json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted"}, "marker": uuid.uuid4().hex})
    stack.client("sqs").send_message(QueueUrl=queue_url, MessageBody=record)
    try:
        for _ in range(2):  # read twice: the first read put it back
            status, answer = call(stack, "GET", "api/stream-failures")
            assert status == 200 and record in [message["body"] for message in answer["messages"]]
    finally:
        for message in stack.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]:
            if message["Body"] == record:
                stack.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
