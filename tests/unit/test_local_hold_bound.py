"""The local stack's ``--visibility-timeout`` sets the functions' bound on a room's hold on the second tier as
well as the queues' timeout (docs/capacity.md, "A room's hold on the tier"), so the hold follows the queue."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from roomcast_local import template
from roomcast_local.stack import LocalStack
from roomcast_local.stack_config import StackConfig


def test_the_visibility_timeout_option_sets_the_functions_hold_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        sqs = boto3.client("sqs")
        provisioned = template.Provisioned()
        for logical, resource in template.resources(template.load(), "AWS::SQS::Queue").items():
            fifo = bool(resource["Properties"].get("FifoQueue"))
            name = f"{logical}.fifo" if fifo else logical
            attributes = {"FifoQueue": "true"} if fifo else {}
            provisioned.refs[logical] = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

        LocalStack(StackConfig(visibility_timeout=2), log=lambda source, line: None)._set_visibility(provisioned)

        fanout = sqs.get_queue_attributes(QueueUrl=provisioned.refs["FanoutQueue"], AttributeNames=["All"])
    # Over the template's value in every function that declares it (template.function_spec): both tiers'
    assert provisioned.environment["FANOUT_VISIBILITY_SECONDS"] == fanout["Attributes"]["VisibilityTimeout"] == "2"
    for function in ("StreamFunction", "FanoutFunction"):
        assert (
            "FANOUT_VISIBILITY_SECONDS"
            in template.load()["Resources"][function]["Properties"]["Environment"]["Variables"]
        )


def test_without_the_option_the_functions_take_the_templates_bound() -> None:
    LocalStack(StackConfig(), log=lambda source, line: None)._set_visibility(provided := template.Provisioned())

    assert "FANOUT_VISIBILITY_SECONDS" not in provided.environment
