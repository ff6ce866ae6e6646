"""The $connect authorizer end to end: a WebSocket REQUEST event in, an IAM policy out, the key in Secrets Manager.

The template does not provision the secret yet, so each test creates it on moto itself.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from roomcast import bootstrap
from roomcast.auth import issue_token
from roomcast_local.invoke import LocalContext
from roomcast_local.template import ROOT
from support.authorizer_events import METHOD_ARN, connect_event

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-roomcast-integration-signing-key-0123456789"
SAMPLE = ROOT / "events" / "authorizer-connect.json"
PLACEHOLDER = "REPLACE_WITH_roomcast_token"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def context() -> LocalContext:
    return LocalContext(function_name="AuthorizerFunction", memory_limit_in_mb=256, timeout_seconds=10)


def forget_caches() -> None:
    bootstrap.reset()
    parameters.clear_caches()


@pytest.fixture
def secret_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with mock_aws():
        arn: str = boto3.client("secretsmanager").create_secret(Name="roomcast-jwt", SecretString=SECRET)["ARN"]
        monkeypatch.setenv("JWT_SECRET_ARN", arn)
        # Settings requires it; template.yaml's Globals give it to every function.
        monkeypatch.setenv("TABLE_NAME", "roomcast-ChatTable")
        forget_caches()
        yield arn
    forget_caches()


@pytest.fixture
def authorizer(secret_arn: str) -> Iterator[ModuleType]:
    """functions/authorizer_function/app.py under a name of its own (every function has an app.py)."""
    name = "roomcast_test_authorizer_function"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "authorizer_function" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(name, None)


@pytest.fixture
def handler(authorizer: ModuleType) -> Handler:
    handler: Handler = authorizer.lambda_handler
    return handler


@pytest.fixture
def log(authorizer: ModuleType) -> Iterator[io.StringIO]:
    """What the function logs (Powertools writes JSON lines to the stream its handler holds)."""
    stream = io.StringIO()
    previous = authorizer.logger.registered_handler.setStream(stream)
    yield stream
    authorizer.logger.registered_handler.setStream(previous)


def assert_denied(response: dict[str, Any]) -> None:
    assert response["principalId"] == "anonymous"
    assert response["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [METHOD_ARN]}
    ]
    assert "context" not in response


def test_a_valid_token_is_allowed_on_this_connect_as_its_user(handler: Handler) -> None:
    response = handler(connect_event(issue_token("alice", SECRET)), context())

    assert response == {
        "principalId": "alice",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [METHOD_ARN]}],
        },
        "context": {"userId": "alice"},
    }


def test_the_sample_event_is_allowed_once_it_carries_a_token(handler: Handler) -> None:
    sample = json.loads(SAMPLE.read_text().replace(PLACEHOLDER, issue_token("bob", SECRET)))

    response = handler(sample, context())

    assert response["principalId"] == "bob"
    assert response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert response["policyDocument"]["Statement"][0]["Resource"] == [sample["methodArn"]]


def test_the_sample_event_with_its_placeholder_is_denied(handler: Handler) -> None:
    assert_denied(handler(json.loads(SAMPLE.read_text()), context()))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "no token"),
        ("", "no token"),
        ("not-a-jwt", "malformed token"),
        (issue_token("alice", "another-key-of-the-same-length-0123456789abcd"), "bad signature"),
        (issue_token("alice", SECRET, ttl_seconds=60, now=int(time.time()) - 3600), "token expired"),
    ],
    ids=["absent", "empty", "garbage", "bad-signature", "expired"],
)
def test_refused_tokens_are_denied_and_logged_without_the_token(
    handler: Handler, log: io.StringIO, token: str | None, reason: str
) -> None:
    response = handler(connect_event(token), context())

    assert_denied(response)
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    refusals = [line for line in lines if line["message"] == "connection refused"]
    assert [(line["level"], line["reason"]) for line in refusals] == [("INFO", reason)]
    if token:
        assert token not in log.getvalue()


def test_the_key_is_read_once_and_reused_by_later_invocations(handler: Handler, secret_arn: str) -> None:
    assert handler(connect_event(issue_token("alice", SECRET)), context())["principalId"] == "alice"
    boto3.client("secretsmanager").delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)

    assert handler(connect_event(issue_token("bob", SECRET)), context())["principalId"] == "bob"


def test_an_unreadable_key_fails_closed(handler: Handler, secret_arn: str) -> None:
    boto3.client("secretsmanager").delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)

    # An error, not a policy: API Gateway answers 500 and the connection never opens.
    with pytest.raises(parameters.exceptions.GetParameterError):
        handler(connect_event(issue_token("alice", SECRET)), context())
