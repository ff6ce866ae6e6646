"""``.roomcast/sam-env.json``: `sam local invoke --env-vars` for every function, pointed at the running local stack.

Each function gets the variables template.yaml gives it, resolved as the stack resolves them for its
own workers, with every local address rewritten to one a Lambda container can reach
(``host.docker.internal``, which `--add-host host.docker.internal:host-gateway` maps to the host on
Linux and Docker Desktop provides on macOS and Windows), plus the AWS endpoint, region and dummy
credentials the container's boto3 needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from roomcast_local import template
from roomcast_local.state import write_atomically

FILE_NAME = "sam-env.json"
CONTAINER_HOST = "host.docker.internal"
# What the stack prints for itself; a container reaches the same ports through CONTAINER_HOST.
_LOCAL_HOST = re.compile(r"^(\w+://)(127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1?\])(?=[:/]|$)")


def container_url(url: str) -> str:
    """``url`` as a container sees it: a loopback or wildcard host becomes CONTAINER_HOST."""
    return _LOCAL_HOST.sub(rf"\g<1>{CONTAINER_HOST}", url)


def environments(
    provisioned: template.Provisioned,
    aws_endpoint_url: str,
    callback_url: str,
    region: str,
    dynamodb_endpoint_url: str | None = None,
) -> dict[str, dict[str, str]]:
    """{FunctionLogicalId: {VARIABLE: value}} for every function of the template."""
    access = {
        "AWS_ENDPOINT_URL": container_url(aws_endpoint_url),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        # botocore would otherwise address DynamoDB Streams by account id, which moto does not serve.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
    if dynamodb_endpoint_url:
        access["AWS_ENDPOINT_URL_DYNAMODB"] = access["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = container_url(
            dynamodb_endpoint_url
        )
    result: dict[str, dict[str, str]] = {}
    for function in template.functions():
        declared = template.function_spec(function, provisioned).environment
        variables = {name: container_url(value) for name, value in declared.items()}
        if "WEBSOCKET_CALLBACK_URL" in variables:
            variables["WEBSOCKET_CALLBACK_URL"] = container_url(callback_url)
        result[function] = {**variables, **access}
    return result


def write(path: Path, environments: dict[str, dict[str, str]]) -> None:
    """Atomically: `sam local invoke` started meanwhile reads the old file or the new one, never half of one."""
    write_atomically(path, json.dumps(environments, indent=2, sort_keys=True) + "\n")
