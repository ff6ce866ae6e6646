"""Each function's reserved concurrency against its SQS sources (review s8, finding 3): Lambda throttles an
SQS source's messages when the function's reserved concurrency is below the sum of its sources'
MaximumConcurrency (Lambda's docs, services-sqs-scaling); a throttled FIFO slice holds its message group
back and, after maxReceiveCount receives, is dead-lettered. Checked on template.yaml with its defaults."""

from __future__ import annotations

from typing import Any

import pytest

from roomcast_local import template

TEMPLATE = template.load()


def default(value: Any) -> int:
    """A literal, or a Ref to a parameter, as its Default (CloudFormation's value when not overridden)."""
    if isinstance(value, dict):
        return int(TEMPLATE["Parameters"][value["Ref"]]["Default"])
    return int(value)


def sqs_caps(properties: dict[str, Any]) -> dict[str, int]:
    return {
        name: default(event["Properties"]["ScalingConfig"]["MaximumConcurrency"])
        for name, event in properties.get("Events", {}).items()
        if event["Type"] == "SQS" and "MaximumConcurrency" in event["Properties"].get("ScalingConfig", {})
    }


FUNCTIONS = {
    name: resource["Properties"]
    for name, resource in template.resources(TEMPLATE, "AWS::Serverless::Function").items()
    if sqs_caps(resource["Properties"])
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_reserved_concurrency_covers_every_sqs_source_at_its_maximum(name: str) -> None:
    properties = FUNCTIONS[name]
    caps = sqs_caps(properties)
    assert default(properties["ReservedConcurrentExecutions"]) >= sum(caps.values()), caps


def test_the_fanout_functions_two_sources_have_caps_of_their_own() -> None:
    caps = sqs_caps(FUNCTIONS["FanoutFunction"])
    assert caps == {"Slices": 50, "Flushes": 5}
    assert default(FUNCTIONS["FanoutFunction"]["ReservedConcurrentExecutions"]) == 55
