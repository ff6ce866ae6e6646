"""Least privilege, checked on what CloudFormation would get: template.yaml translated by the SAM translator.

Run by the SAM virtualenv's Python (it has samtranslator): ``.venv-sam/bin/python tests/policy_check.py
[TEMPLATE]`` prints the translated template's IAM problems, one a line, and exits 1 if there are any:

- a managed policy on any role (SAM attaches AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess and its
  event sources' AWSLambdaSQSQueueExecutionRole / AWSLambdaDynamoDBExecutionRole to roles it generates);
- a statement on ``Resource: "*"``, except X-Ray's trace writes, which have no resource-level permissions;
- a grant on every index of a table (``index/*``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The only actions that exist without resource-level permissions among those Roomcast uses.
RESOURCELESS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def translated(path: Path) -> dict[str, Any]:
    from samcli.yamlhelper import yaml_parse
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The translator fills in pseudo parameters from a session's region; any region will do offline.
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    template = yaml_parse(path.read_text())
    # Local folders, as sam validate replaces them: the translator wants packaged S3 locations.
    for resource in template.get("Resources", {}).values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), plugins=[])
    result: dict[str, Any] = translator.translate(
        sam_template=template, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return result


def problems(template: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::Role" and properties.get("ManagedPolicyArns"):
            found.append(f"{logical_id}: managed policies {json.dumps(properties['ManagedPolicyArns'])}")
        documents = [p.get("PolicyDocument", {}) for p in properties.get("Policies", [])]
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties.get("PolicyDocument", {}))
        for document in documents:
            statements = document.get("Statement", [])
            for statement in [statements] if isinstance(statements, dict) else statements:
                found += [f"{logical_id}: {problem}" for problem in _statement_problems(statement)]
    return found


def _statement_problems(statement: dict[str, Any]) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    actions = statement.get("Action", [])
    actions = {actions} if isinstance(actions, str) else set(actions)
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    sid = statement.get("Sid", "?")
    found = []
    if "*" in resources and not actions <= RESOURCELESS:
        found.append(f'{sid}: Resource "*" for {sorted(actions)}')
    for resource in resources:
        if "index/*" in json.dumps(resource):
            found.append(f"{sid}: every index of a table ({json.dumps(resource)})")
    return found


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else ROOT / "template.yaml"
    found = problems(translated(path))
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
