"""The local AWS endpoint over real HTTP: callers in any region reach the stack's resources; samconfig's region."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from roomcast_local import template
from roomcast_local.aws_endpoint import AwsEndpoint
from roomcast_local.processes import free_port
from roomcast_local.sqs_source import SqsEventSource
from roomcast_local.state import FALLBACK_REGION, default_region
from support import fifo

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = AwsEndpoint("127.0.0.1", free_port(), REGION)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(service: str, url: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="k", aws_secret_access_key="s")


@pytest.fixture
def provisioned(endpoint: str) -> template.Provisioned:
    """The template's resources, created by a client in the stack's region, as the stack creates them."""
    # moto's backends live as long as the process: a prefix of its own keeps this test's resources apart.
    prefix = f"r{uuid.uuid4().hex[:8]}"
    return template.provision(prefix, client("dynamodb", endpoint, REGION), client("sqs", endpoint, REGION), None)


@pytest.mark.parametrize("caller_region", ["us-east-1", "ap-southeast-2", REGION])
def test_a_caller_in_any_region_reaches_the_stacks_queue_and_table(
    endpoint: str, provisioned: template.Provisioned, caller_region: str
) -> None:
    sqs, dynamodb = client("sqs", endpoint, caller_region), client("dynamodb", endpoint, caller_region)
    queue_url = provisioned.refs["CommandQueue"]

    sqs.send_message(QueueUrl=queue_url, **fifo.message(json.dumps({"from": caller_region})))
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    table = dynamodb.describe_table(TableName=provisioned.refs["ChatTable"])["Table"]

    assert [json.loads(m["Body"]) for m in received] == [{"from": caller_region}]
    assert table["TableArn"] == provisioned.attrs[("ChatTable", "Arn")]
    assert f":{REGION}:" in table["LatestStreamArn"]


def test_a_batch_received_while_stopping_goes_back_to_the_queue_unhandled(
    endpoint: str, provisioned: template.Provisioned
) -> None:
    sqs = client("sqs", endpoint, REGION)
    queue_url = provisioned.refs["CommandQueue"]
    sqs.send_message(QueueUrl=queue_url, **fifo.message("{}"))
    invoked: list[object] = []
    source = SqsEventSource(sqs, queue_url, provisioned.attrs[("CommandQueue", "Arn")], invoked.append)
    source.stopping.set()

    result = source.poll_once(wait_seconds=1)
    again = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)

    assert invoked == []
    assert (result.received, result.failed) == (1, 1)
    assert len(again["Messages"]) == 1, "released at once, not after the 180 s visibility timeout"
    assert source.busy is False


def test_the_region_is_samconfigs(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text('version = 0.1\n[default.deploy.parameters]\nregion = "ap-south-1"\n')

    assert default_region(config) == "ap-south-1"
    assert default_region(tmp_path / "missing.toml") == FALLBACK_REGION
    assert default_region() == "eu-west-1"  # this repository's samconfig.toml
