"""template.yaml is the one source of truth: local resources and function settings are read from it."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import cfn_flip


def _checkout() -> Path:
    """The checkout whose template.yaml, functions/ and events/ the stack runs: the CLI's rule
    ($ROOMCAST_ROOT, the current directory or one above it, an editable install's source), so that a
    non-editable ``pip install ".[local]"`` runs the checkout it is started in."""
    from roomcast_cli.target import checkout

    return checkout() or Path(__file__).resolve().parents[2]


ROOT = _checkout()
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    data, _ = cfn_flip.load(path.read_text())
    return _plain(data)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


@dataclass
class Provisioned:
    """What Ref and GetAtt resolve to for each logical id of the local stack."""

    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)
    # Environment variables the local stack sets itself, over the template's (the gateway's URL, say).
    environment: dict[str, str] = field(default_factory=dict)
    # Template parameters given on the command line (up --parameter-overrides); the rest take their Default.
    parameters: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.refs[arg] if arg in self.refs else self.parameter(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attrs[(name, attr)]
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), arg)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def parameter(self, name: str) -> str:
        parameters = load().get("Parameters", {})
        if name not in parameters:
            raise KeyError(f"{name} is neither a resource nor a parameter of template.yaml")
        return self.parameters.get(name, str(parameters[name].get("Default", "")))

    def condition(self, name: str) -> bool:
        """A condition of the template's Conditions section, on the parameters' values."""
        return bool(self._evaluate(load()["Conditions"][name]))

    def _evaluate(self, value: Any) -> Any:
        if not (isinstance(value, dict) and len(value) == 1):
            return value
        ((key, arg),) = value.items()
        if key == "Fn::Equals":
            return self._evaluate(arg[0]) == self._evaluate(arg[1])
        if key == "Fn::Not":
            return not self._evaluate(arg[0])
        if key == "Fn::And":
            return all(self._evaluate(item) for item in arg)
        if key == "Fn::Or":
            return any(self._evaluate(item) for item in arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Join":
            items = self._evaluate(arg[1])
            return arg[0].join(items if isinstance(items, list) else [items])
        return self.resolve(value)

    def _sub(self, name: str) -> str:
        if "." in name:
            logical, attr = name.split(".", 1)
            return self.attrs[(logical, attr)]
        return self.refs[name]


def table_request(name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTable arguments from an AWS::DynamoDB::Table's properties."""
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in properties:
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    return request


def queue_attributes(properties: Mapping[str, Any], provisioned: Provisioned) -> dict[str, str]:
    """SetQueueAttributes-style strings from an AWS::SQS::Queue's properties."""
    import json

    attributes: dict[str, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "DelaySeconds",
        "MaximumMessageSize",
        "DeduplicationScope",
        "FifoThroughputLimit",
    ):
        if key in properties:
            attributes[key] = str(properties[key])
    for key in ("FifoQueue", "ContentBasedDeduplication"):
        if key in properties:
            attributes[key] = str(properties[key]).lower()
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(provisioned.resolve(properties["RedrivePolicy"]))
    return attributes


def provision(
    prefix: str,
    dynamodb: Any,
    sqs: Any,
    secretsmanager: Any | None = None,
    template: Mapping[str, Any] | None = None,
) -> Provisioned:
    """Create every table, queue and secret of the template (queues in dependency order); return their names."""
    template = template or load()
    region = dynamodb.meta.region_name
    provisioned = Provisioned(
        refs={"AWS::StackName": prefix, "AWS::Region": region, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "local"}
    )
    for logical in resources(template, "AWS::Serverless::WebSocketApi"):
        provisioned.refs[logical] = f"{prefix}-{logical}".lower()
    if secretsmanager is not None:
        for logical, resource in resources(template, "AWS::SecretsManager::Secret").items():
            arn = secretsmanager.create_secret(
                Name=f"{prefix}-{logical}", SecretString=_secret_value(resource.get("Properties", {}))
            )["ARN"]
            provisioned.refs[logical] = arn
    for logical, resource in resources(template, "AWS::DynamoDB::Table").items():
        name = f"{prefix}-{logical}"
        request = table_request(name, resource["Properties"])
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        provisioned.refs[logical] = name
        provisioned.attrs[(logical, "Arn")] = description["TableArn"]
        if "LatestStreamArn" in description:
            provisioned.attrs[(logical, "StreamArn")] = description["LatestStreamArn"]
    queues = resources(template, "AWS::SQS::Queue")
    pending = dict(queues)
    while pending:
        for logical, resource in list(pending.items()):
            properties = resource.get("Properties", {})
            try:
                attributes = queue_attributes(properties, provisioned)
            except KeyError:
                continue  # its dead-letter queue comes first
            # CloudFormation names a FIFO queue with the suffix SQS requires of it.
            name = f"{prefix}-{logical}" + (".fifo" if attributes.get("FifoQueue") == "true" else "")
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            provisioned.refs[logical] = url
            provisioned.attrs[(logical, "Arn")] = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
            provisioned.attrs[(logical, "QueueName")] = name
            del pending[logical]
    return name_functions(provisioned, template)


def name_functions(provisioned: Provisioned, template: Mapping[str, Any] | None = None) -> Provisioned:
    """Each function's name and ARN, as CloudFormation would give them: what Ref and GetAtt .Arn resolve
    to, and what the local Lambda Invoke endpoint (lambda_invoke.py) answers to."""
    stack, region = provisioned.refs["AWS::StackName"], provisioned.refs["AWS::Region"]
    for logical in resources(template or load(), "AWS::Serverless::Function"):
        name = provisioned.refs.setdefault(logical, f"{stack}-{logical}")
        provisioned.attrs.setdefault((logical, "Arn"), f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}")
    return provisioned


def _secret_value(properties: Mapping[str, Any]) -> str:
    """What GenerateSecretString would make: random letters and digits of the asked length."""
    if "SecretString" in properties:
        return str(properties["SecretString"])
    length = int(properties.get("GenerateSecretString", {}).get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    module: str
    function: str
    environment: dict[str, str]
    timeout: int
    memory: int


def function_spec(logical_id: str, provisioned: Provisioned, template: Mapping[str, Any] | None = None) -> FunctionSpec:
    """Handler, code folder and resolved environment of one AWS::Serverless::Function, globals applied."""
    template = template or load()
    resource = template["Resources"][logical_id]
    if resource["Type"] != "AWS::Serverless::Function":
        raise KeyError(f"{logical_id} is not a function in template.yaml")
    defaults = template.get("Globals", {}).get("Function", {})
    properties = {**defaults, **resource["Properties"]}
    environment = {
        **defaults.get("Environment", {}).get("Variables", {}),
        **resource["Properties"].get("Environment", {}).get("Variables", {}),
    }
    module, _, function = properties["Handler"].rpartition(".")
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=ROOT / properties["CodeUri"],
        module=module,
        function=function,
        environment={
            **{k: str(provisioned.resolve(v)) for k, v in environment.items()},
            **{k: v for k, v in provisioned.environment.items() if k in environment},
        },
        timeout=int(properties.get("Timeout", 3)),
        memory=int(properties.get("MemorySize", 128)),
    )


def functions(template: Mapping[str, Any] | None = None) -> list[str]:
    return sorted(resources(template or load(), "AWS::Serverless::Function"))


@dataclass(frozen=True)
class WebSocketApiSpec:
    """A SAM WebSocket API as the local gateway needs it: route keys to function logical ids, the authorizer."""

    logical_id: str
    routes: dict[str, str]
    route_selection_expression: str
    stage: str
    authorizer: str | None
    identity_source: str | None


def websocket_api(template: Mapping[str, Any] | None = None) -> WebSocketApiSpec:
    template = template or load()
    [(logical_id, resource)] = resources(template, "AWS::Serverless::WebSocketApi").items()
    properties = resource["Properties"]
    routes = {key: _function_of(route["FunctionArn"]) for key, route in properties["Routes"].items()}
    auth = properties.get("Auth") or {}
    identity = auth.get("IdentitySource")
    return WebSocketApiSpec(
        logical_id=logical_id,
        routes=routes,
        route_selection_expression=properties["RouteSelectionExpression"],
        stage=str(properties.get("StageName", "default")),
        authorizer=_function_of(auth["AuthArn"]) if auth.get("AuthType") == "CUSTOM" else None,
        identity_source=",".join(identity) if isinstance(identity, list) else identity,
    )


def _function_of(arn: Any) -> str:
    """The logical id behind ``!GetAtt Fn.Arn``."""
    target = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
    if not target:
        raise ValueError(f"expected !GetAtt <Function>.Arn, got {arn!r}")
    return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
