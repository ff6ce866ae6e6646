"""template.yaml, as the SAM translator hands it to CloudFormation: no managed policy, no wildcard resource.

The translator lives in the SAM virtualenv (``make sam-validate`` builds it and runs the same check);
the rules themselves are tested here on translated shapes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from policy_check import problems

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


def role(*statements: dict[str, Any], managed: list[str] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": list(statements)}}]}
    if managed:
        properties["ManagedPolicyArns"] = managed
    return {"Resources": {"FnRole": {"Type": "AWS::IAM::Role", "Properties": properties}}}


def allow(actions: list[str], resource: Any, sid: str = "S") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def test_a_managed_policy_is_a_problem() -> None:
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    assert problems(role(managed=[basic])) == [f'FnRole: managed policies ["{basic}"]']


@pytest.mark.parametrize("resource", ["*", ["arn:aws:sqs:eu-west-1:1:q", "*"]])
def test_a_wildcard_resource_is_a_problem(resource: Any) -> None:
    assert problems(role(allow(["sqs:ReceiveMessage"], resource))) == [
        """FnRole: S: Resource "*" for ['sqs:ReceiveMessage']"""
    ]


def test_every_index_of_a_table_is_a_problem() -> None:
    found = problems(role(allow(["dynamodb:Query"], {"Fn::Sub": "${ChatTable.Arn}/index/*"})))
    assert found == ['FnRole: S: every index of a table ({"Fn::Sub": "${ChatTable.Arn}/index/*"})']


def test_x_ray_writes_and_denies_may_name_every_resource() -> None:
    xray = allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*")
    deny = {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}
    scoped = allow(["dynamodb:Query"], {"Fn::Sub": "${ChatTable.Arn}/index/RoomID_Comment_IDX"})
    assert problems(role(xray, deny, scoped)) == []


@pytest.mark.skipif(not SAM_PYTHON.exists(), reason="no .venv-sam: `make sam-validate` builds it and runs this check")
def test_the_translated_template_has_no_managed_policy_and_no_wildcard_resource() -> None:
    checked = subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "tests" / "policy_check.py")], capture_output=True, text=True, timeout=120
    )
    assert (checked.returncode, checked.stdout) == (0, ""), checked.stdout + checked.stderr
