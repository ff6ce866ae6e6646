"""Tokens on each backend through AuthorizerFunction as template.yaml configures it: single use, rotation, lifetime."""

from __future__ import annotations

import time
from typing import Any

import boto3
import jwt
import pytest

from roomcast import bootstrap
from roomcast.auth import ALGORITHM, TOKEN_AUDIENCE, issue_token
from support.authorizer_events import connect_event
from support.stack import Stack

pytestmark = pytest.mark.integration


def secret_of(stack: Stack) -> str:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=stack.url("JwtSecret"))
    return str(value["SecretString"])


def connect(stack: Stack, token: str) -> str:
    """Allow or Deny, as the authorizer's policy says for this $connect."""
    response: dict[str, Any] = stack.invoke("AuthorizerFunction", connect_event(token))
    return str(response["policyDocument"]["Statement"][0]["Effect"])


def test_a_token_for_ten_years_without_iat_is_refused(stack: Stack) -> None:
    claims = {"sub": "bob", "aud": TOKEN_AUDIENCE, "exp": int(time.time()) + 315_360_000}
    assert connect(stack, jwt.encode(claims, secret_of(stack), algorithm=ALGORITHM)) == "Deny"
    claims["iat"] = int(time.time())
    assert connect(stack, jwt.encode(claims, secret_of(stack), algorithm=ALGORITHM)) == "Deny"
    assert connect(stack, issue_token("bob", secret_of(stack))) == "Allow"


def test_a_single_use_token_opens_one_connection(stack: Stack) -> None:
    token = issue_token("bob", secret_of(stack), single_use=True)

    assert connect(stack, token) == "Allow"
    assert connect(stack, token) == "Deny"
    assert connect(stack, issue_token("bob", secret_of(stack), single_use=True)) == "Allow"
    spent = [item for item in stack.items() if item["PK"].startswith("Token:")]
    assert len(spent) == 2
    assert all(item["SK"] == "spent" and int(item["ExpiresAt"]) > time.time() for item in spent)


def test_tokens_signed_before_a_rotation_still_connect(stack: Stack) -> None:
    before = issue_token("alice", secret_of(stack))
    boto3.client("secretsmanager").put_secret_value(SecretId=stack.url("JwtSecret"), SecretString="n" * 64)
    bootstrap.reset()  # a new container, or the cache's 5 minutes over

    assert connect(stack, before) == "Allow"
    assert connect(stack, issue_token("bob", "n" * 64)) == "Allow"
    assert connect(stack, issue_token("mallory", "m" * 64)) == "Deny"


def test_with_single_use_required_a_reusable_token_is_refused(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = stack.spec("AuthorizerFunction")
    spec.environment["TOKEN_SINGLE_USE"] = "true"
    monkeypatch.setattr(stack, "spec", lambda logical_id: spec)

    assert connect(stack, issue_token("bob", secret_of(stack))) == "Deny"
    assert connect(stack, issue_token("bob", secret_of(stack), single_use=True)) == "Allow"
