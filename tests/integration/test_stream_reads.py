"""What the local stream event source asks the stream for per delivery (roomcast_local/stream_source.py):
the requests between a write and its invocation are the stream pipeline's latency, as on Lambda."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from roomcast_local import stream_source
from roomcast_local.stream_mapping import StreamSourceConfig
from roomcast_local.stream_source import StreamEventSource
from support.stack import Stack

pytestmark = pytest.mark.integration


class Counting:
    """The real DynamoDB Streams client, which also records the name of each call made through it."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, list[str]()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**request: Any) -> Any:
            self.calls.append(name)
            return method(**request)

        return call


def put(stack: Stack, n: int) -> None:
    item = {"PK": {"S": "User:bob"}, "SK": {"S": f"Comment:{n:026d}"}, "Comment": {"S": f"hi {n}"}}
    stack.dynamodb.put_item(TableName=stack.table_name, Item=item)


def test_a_write_is_delivered_after_one_read_and_no_listing_of_shards(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_source, "_DISCOVER_SECONDS", 3600.0)  # however slow the machine, no listing is due
    streams, events = Counting(boto3.client("dynamodbstreams")), list[dict[str, Any]]()
    source = StreamEventSource(
        streams, stack.provisioned.attrs[("ChatTable", "StreamArn")], events.append, StreamSourceConfig()
    )
    source.poll_once()  # positions each shard: an idle poll is one GetRecords from then on
    put(stack, 1)
    put(stack, 2)
    streams.calls.clear()

    delivered = source.poll_once()

    # One page shorter than the batch is what the shard holds now: invoked at once, as Lambda does.
    assert (delivered.delivered, streams.calls) == (2, ["get_records"])
    assert [[r["dynamodb"]["NewImage"]["Comment"]["S"] for r in event["Records"]] for event in events] == [
        ["hi 1", "hi 2"]
    ]


def test_shards_are_listed_again_once_the_interval_has_passed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_source, "_DISCOVER_SECONDS", 0.0)
    streams = Counting(boto3.client("dynamodbstreams"))
    source = StreamEventSource(
        streams,
        stack.provisioned.attrs[("ChatTable", "StreamArn")],
        list[dict[str, Any]]().append,
        StreamSourceConfig(),
    )
    streams.calls.clear()

    source.poll_once()

    assert streams.calls[0] == "describe_stream"
