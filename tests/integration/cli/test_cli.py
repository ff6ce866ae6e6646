"""`roomcast` publishing, token, history and invoke against a local stack, and how it finds the stack."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from roomcast import auth
from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.models import (
    AddComment,
    CommentView,
    CreateChatRoom,
    DeleteChatRoom,
    JoinChatRoom,
    LeaveChatRoom,
)
from roomcast_cli import history as cli_history
from roomcast_local import template
from roomcast_local.processes import free_port
from support.cli_stack import NOT_RUNNING, Local, art, human, run

pytestmark = pytest.mark.integration


# ---- publishing -------------------------------------------------------------------------------

PUBLISHED = [
    (["create-room", "art", "--user", "alice"], CreateChatRoom, {"room_id": "art", "user_id": "alice"}),
    (["delete-room", "art", "--user", "alice"], DeleteChatRoom, {"room_id": "art", "user_id": "alice"}),
    (["join", "art", "--user", "bob"], JoinChatRoom, {"room_id": "art", "user_id": "bob"}),
    (["leave", "art", "--user", "bob"], LeaveChatRoom, {"room_id": "art", "user_id": "bob"}),
    (
        ["comment", "art", "hello\n\tworld", "--user", "bob", "--command-id", "producer:42"],
        AddComment,
        {"room_id": "art", "user_id": "bob", "text": "hello\n\tworld"},
    ),
]


@pytest.mark.parametrize(("argv", "model", "fields"), PUBLISHED, ids=[argv[0] for argv, _, _ in PUBLISHED])
def test_each_publishing_verb_sends_its_command_and_prints_the_command_id(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], model: Any, fields: dict[str, str]
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, err) == (0, "")
    command_id = out.strip()
    assert out == f"{command_id}\n"
    if "--command-id" in argv:
        assert command_id == "producer:42"
    else:
        assert str(uuid.UUID(command_id, version=4)) == command_id
    expected = model(**fields, command_id=command_id).model_dump_json(by_alias=True, exclude_none=True)
    assert local.queued() == [expected]


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["join", "a#b", "--user", "bob"], "roomId: String should match pattern '^[A-Za-z0-9_.-]{1,64}$'"),
        (["create-room", "art", "--user", ""], "userId: String should match pattern '^[A-Za-z0-9_.-]{1,64}$'"),
        (["comment", "art", " \n ", "--user", "bob"], "text: Value error, text must not be blank"),
        (["comment", "art", "x" * 2001, "--user", "bob"], "text: String should have at most 2000 characters"),
        (["leave", "art", "--user", "bob", "--command-id", "a b"], "commandId: String should match pattern"),
        (["leave", "art", "--user", "bob", "--command-id", ""], "commandId: String should match pattern"),
    ],
)
def test_an_invalid_command_is_one_line_and_nothing_is_sent(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    status, out, err = run(capsys, *argv)

    assert (status, out) == (1, "")
    assert err.startswith(f"roomcast: invalid command: {reason}")
    assert err.count("\n") == 1
    assert local.queued() == []


# ---- token ------------------------------------------------------------------------------------


def test_token_is_signed_with_the_stacks_secret(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "token", "bob", "--ttl", "120")

    assert (status, err) == (0, "")
    token = out.strip()
    assert auth.verify_token(token, local.secret) == "bob"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def test_a_single_use_token_carries_an_id(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "token", "bob", "--single-use")

    assert (status, err) == (0, "")
    claims = auth.verify_claims(out.strip(), local.secret)
    assert (claims.user_id, len(claims.token_id or "")) == ("bob", 26)


def test_a_token_for_an_impossible_user_is_refused(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "token", "a#b")

    assert (status, out) == (1, "")
    assert err.startswith("roomcast: cannot issue a token for 'a#b': user id must match")


# ---- history ----------------------------------------------------------------------------------


@pytest.fixture
def five(local: Local, monkeypatch: pytest.MonkeyPatch) -> list[CommentView]:
    """Room art with five comments; pages of two, so every query pages along its cursor."""
    monkeypatch.setattr(cli_history, "PAGE_SIZE", 2)
    return art(local, ("alice", "one"), ("bob", "two"), ("alice", "three"), ("bob", "four\nand more"), ("bob", "five"))


def selections(c: list[CommentView]) -> dict[str, tuple[list[str], list[CommentView]]]:
    """Flags -> (what the query returns, in its order)."""
    p = [comment.position for comment in c]
    return {
        "default": ([], c),
        "all": (["--all"], c),
        "latest": (["--latest", "2"], [c[4], c[3]]),
        "latest-more-than-there-are": (["--latest", "10"], c[::-1]),
        "after": (["--after", p[1]], c[2:]),
        "between": (["--between", p[1], p[3]], c[1:4]),
    }


SELECTIONS = ["default", "all", "latest", "latest-more-than-there-are", "after", "between"]


@pytest.mark.parametrize("selection", SELECTIONS)
def test_history_prints_the_selected_comments_oldest_first(
    five: list[CommentView], capsys: pytest.CaptureFixture[str], selection: str
) -> None:
    flags, returned = selections(five)[selection]

    status, out, err = run(capsys, "history", "art", *flags)

    assert (status, err) == (0, "")
    chronological = sorted(returned, key=lambda comment: comment.position)
    expected = [human(comment) for comment in chronological]
    assert out == "".join(f"{line}\n" for line in expected).replace("four\nand more", "four\n    and more")


@pytest.mark.parametrize("selection", SELECTIONS)
def test_history_json_is_one_comment_view_per_line_in_the_querys_order(
    five: list[CommentView], capsys: pytest.CaptureFixture[str], selection: str
) -> None:
    flags, returned = selections(five)[selection]

    status, out, err = run(capsys, "history", "art", *flags, "--json")

    assert (status, err) == (0, "")
    assert [CommentView.model_validate_json(line) for line in out.splitlines()] == returned
    assert set(json.loads(out.splitlines()[0])) == {"commentId", "userId", "text", "createdAt", "position"}


def test_history_positions_start_each_line(five: list[CommentView], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "history", "art", "--latest", "1", "--positions")

    assert (status, out) == (0, f"{human(five[4], positions=True)}\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "nope"], "roomcast: RoomNotFound: room 'nope' does not exist\n"),
        (["history", "art", "--after", "yesterday"], "roomcast: InvalidRequest: position 'yesterday' is not a "),
    ],
)
def test_history_refusals_are_one_line(
    local: Local, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    art(local)

    status, out, err = run(capsys, *argv)

    assert (status, out) == (1, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_history_modes_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "history", "art", "--all", "--latest", "3")

    assert (status, out) == (2, "")
    assert "not allowed with argument" in err


# ---- invoke -----------------------------------------------------------------------------------


def test_invoke_runs_a_function_on_a_sample_event(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "CommandFunction", "-e", "events/command-1-create-chat-room.json")

    assert status == 0
    assert out == '{"batchItemFailures": []}\n'  # the response alone: the function's output went to stderr
    assert '"CommandApplied"' in err  # its metrics, printed by Powertools
    assert local.store.rooms.get_room("art") is not None


def test_invoke_puts_a_fresh_token_in_the_authorizer_sample(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "invoke", "AuthorizerFunction", "--event", "events/authorizer-connect.json", "--user", "carol"
    )

    assert status == 0
    response = json.loads(out)
    assert response["principalId"] == "carol"
    assert [s["Effect"] for s in response["policyDocument"]["Statement"]] == ["Allow"]


def test_invoke_an_unknown_function(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "NopeFunction", "-e", "events/command-1-create-chat-room.json")

    assert (status, out) == (1, "")
    assert err == f"roomcast: unknown function 'NopeFunction'; template.yaml has {', '.join(template.functions())}\n"


def test_invoke_a_missing_event_file(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "invoke", "CommandFunction", "-e", "events/nope.json")

    assert (status, out) == (1, "")
    assert err == "roomcast: cannot read the event events/nope.json: No such file or directory\n"


# ---- which stack ------------------------------------------------------------------------------


def test_no_state_file_means_the_local_stack_is_not_running(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROOMCAST_LOCAL_STATE", str(tmp_path / "missing.json"))

    for argv in (["join", "art", "--user", "bob"], ["history", "art"], ["watch", "art", "--user", "bob"]):
        assert run(capsys, *argv) == (1, "", f"{NOT_RUNNING}\n")


def test_a_state_whose_endpoint_refuses_says_so_with_the_url(local: Local, capsys: pytest.CaptureFixture[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    local.with_state(aws_endpoint_url=dead)

    for argv in (["join", "art", "--user", "bob"], ["history", "art"], ["token", "bob"]):
        status, out, err = run(capsys, *argv)
        assert (status, out) == (1, "")
        assert err.startswith(f"{NOT_RUNNING} (nothing answers at {dead}")
        assert err.count("\n") == 1


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_deployed_stack_is_found_through_cloudformation(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # moto's CloudFormation stands in for AWS: boto3 finds it through AWS_ENDPOINT_URL, the CLI overrides nothing.
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    name = f"deployed-{uuid.uuid4().hex[:8]}"
    body = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-commands"}}},
        "Outputs": {"CommandQueueUrl": {"Value": {"Ref": "Queue"}}},
    }
    local.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(body))
    stack = ["--stack", name, "--region", "eu-west-1"]
    verb = ["join", "art", "--user", "bob"]

    status, out, err = run(capsys, *(stack + verb if where == "before" else verb + stack))

    assert (status, err) == (0, "")
    [queue] = [
        o["OutputValue"] for o in local.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    ]
    assert [json.loads(body)["commandId"] for body in local.queued(queue)] == [out.strip()]


def test_invoke_on_a_deployed_stack_resolves_the_template_against_its_resources(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    name = f"deployed-{uuid.uuid4().hex[:8]}"
    # The template's own tables and queues, deployed by (moto's) CloudFormation under names of its choosing.
    needed = ("ChatTable", "CommandDeadLetterQueue", "CommandQueue")
    body = {"Resources": {logical: template.load()["Resources"][logical] for logical in needed}}
    # CloudFormation names a FIFO queue "<generated>.fifo" itself; moto 5.2.5's does not, so name them.
    for queue in ("CommandDeadLetterQueue", "CommandQueue"):
        body["Resources"][queue]["Properties"]["QueueName"] = f"{name}-{queue}.fifo"
    # The CommandFunction's REVIEW_FUNCTION is !GetAtt ReviewFunction.Arn: a stand-in function (never invoked).
    assume = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    body["Resources"]["ReviewRole"] = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": assume}}
    body["Resources"]["ReviewFunction"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["ReviewRole", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return {'verdict': 'allow'}\n"},
        },
    }
    cloudformation = local.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(body))
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }

    status, out, _ = run(
        capsys, "invoke", "CommandFunction", "-e", "events/command-1-create-chat-room.json", "--stack", name
    )

    assert (status, out) == (0, '{"batchItemFailures": []}\n')
    store = dynamodb_store(physical["ChatTable"], boto3.resource("dynamodb", endpoint_url=local.endpoint).meta.client)
    assert store.rooms.get_room("art") is not None


def test_deployed_stack_errors_are_one_line(
    local: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    assert run(capsys, "history", "art", "--stack", "missing", "--region", "eu-west-1") == (
        1,
        "",
        "roomcast: ValidationError: Stack with id missing does not exist\n",
    )
    assert run(capsys, "history", "art", "--stack", "s", "--profile", "nope") == (
        1,
        "",
        "roomcast: ProfileNotFound: The config profile (nope) could not be found\n",
    )
    status, _, err = run(capsys, "history", "art", "--region", "eu-west-1")
    assert (status, err) == (2, "roomcast: --region and --profile go with --stack (the local stack has its own)\n")
