"""The signing key's rotation through RotationFunction, on each backend: tokens of either key connect meanwhile."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from roomcast import bootstrap
from roomcast.adapters.rotation import KEY_LENGTH
from roomcast.auth import issue_token
from support.authorizer_events import connect_event
from support.stack import Stack

pytestmark = pytest.mark.integration


def key(stack: Stack, stage: str) -> str:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=stack.url("JwtSecret"), VersionStage=stage)
    return str(value["SecretString"])


def step(stack: Stack, name: str, token: str) -> Any:
    event = {"SecretId": stack.url("JwtSecret"), "ClientRequestToken": token, "Step": name}
    return stack.invoke("RotationFunction", event)


def effect(stack: Stack, token: str) -> str:
    bootstrap.reset()  # a container started after the rotation
    response = stack.invoke("AuthorizerFunction", connect_event(token))
    return str(response["policyDocument"]["Statement"][0]["Effect"])


def test_a_rotation_makes_a_new_key_current_and_keeps_the_old_one_as_previous(stack: Stack) -> None:
    old = key(stack, "AWSCURRENT")
    before = issue_token("alice", old)
    version = str(uuid.uuid4())

    for name in ("createSecret", "createSecret", "setSecret", "testSecret", "finishSecret"):
        step(stack, name, version)  # createSecret twice: a retried step stages nothing new

    new = key(stack, "AWSCURRENT")
    assert (key(stack, "AWSPREVIOUS"), len(new), new.isalnum()) == (old, KEY_LENGTH, True)
    assert effect(stack, before) == "Allow"
    assert effect(stack, issue_token("bob", new)) == "Allow"
    step(stack, "finishSecret", version)  # repeated once current: nothing moves
    assert key(stack, "AWSCURRENT") == new


@pytest.mark.parametrize("name", ["setSecret", "finishSecret", "rotateEverything"])
def test_a_step_for_a_version_it_does_not_know_fails(stack: Stack, name: str) -> None:
    with pytest.raises(RuntimeError, match=r"not a version|unknown rotation step"):
        step(stack, name, str(uuid.uuid4()))


def test_a_version_that_is_not_pending_is_not_finished(stack: Stack) -> None:
    secrets = boto3.client("secretsmanager")
    version = str(uuid.uuid4())
    secrets.put_secret_value(
        SecretId=stack.url("JwtSecret"), ClientRequestToken=version, SecretString="o" * 64, VersionStages=["OTHER"]
    )
    with pytest.raises(RuntimeError, match="not pending rotation"):
        step(stack, "finishSecret", version)
