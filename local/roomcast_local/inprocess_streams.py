"""The local stack's stream poller reading the embedded moto's table stream in process, not over HTTP (moto 5.2.5).

Each delivery cost the poller a GetRecords through botocore and moto's server (about 2 ms of
botocore in the poller and 1 ms in the server, at some two a comment), on the cores the functions
need. With the endpoint in this process the poller calls moto's DynamoDB Streams backend directly,
under the same lock as every DynamoDB request (fast_moto.LOCK), and gets what botocore would have
parsed: the backend's records with their timestamp made timezone-aware (moto keeps naive UTC) and
binary attributes as bytes (moto keeps them base64-encoded, as the wire carries them).

Only what ``StreamEventSource`` calls is offered: ``describe_stream``, ``get_shard_iterator`` and
``get_records``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from moto.dynamodbstreams.models import DynamoDBStreamsBackend, dynamodbstreams_backends

from roomcast_local import fast_moto

TARGET_MOTO = "5.2.5"


class InProcessStreams:
    """A stand-in for the boto3 DynamoDB Streams client, on the embedded moto's backend."""

    @staticmethod
    def _backend(arn: str) -> DynamoDBStreamsBackend:
        # arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{label}[|1|{iterator id}]
        region, account = arn.split(":")[3:5]
        return dynamodbstreams_backends[account][region]

    def describe_stream(self, *, StreamArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        # moto keeps one shard per stream and never pages the description.
        with fast_moto.LOCK:
            description = self._backend(StreamArn).describe_stream(StreamArn)
        return {"StreamDescription": {**description, "Shards": [dict(shard) for shard in description["Shards"]]}}

    def get_shard_iterator(
        self,
        *,
        StreamArn: str,  # noqa: N803
        ShardId: str,  # noqa: N803
        ShardIteratorType: str,  # noqa: N803
        SequenceNumber: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        # An int, as moto's DynamoDBStreamsHandler passes it (the backend's annotation says str).
        sequence: Any = int(SequenceNumber) if SequenceNumber is not None else None
        with fast_moto.LOCK:
            iterator = self._backend(StreamArn).get_shard_iterator(StreamArn, ShardId, ShardIteratorType, sequence)
        return {"ShardIterator": iterator.arn}

    def get_records(self, *, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:  # noqa: N803
        with fast_moto.LOCK:
            page = self._backend(ShardIterator).get_records(ShardIterator, Limit)
            # Parsed as botocore parses the wire, into new containers: moto's records stay untouched.
            records = [_parsed(record) for record in page["Records"]]
        return {"Records": records, "NextShardIterator": page["NextShardIterator"]}


def _parsed(record: dict[str, Any]) -> dict[str, Any]:
    change = record["dynamodb"]
    parsed = {key: _attributes(value) if key in _IMAGES else value for key, value in change.items()}
    created = change["ApproximateCreationDateTime"]
    if isinstance(created, datetime) and created.tzinfo is None:
        parsed["ApproximateCreationDateTime"] = created.replace(tzinfo=UTC)
    return {**record, "dynamodb": parsed}


_IMAGES = ("Keys", "NewImage", "OldImage")


def _attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(value) for name, value in attributes.items()}


def _value(value: dict[str, Any]) -> dict[str, Any]:
    """One attribute value in DynamoDB JSON, with binaries decoded as botocore decodes blobs."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {kind: _blob(inner)}
    if kind == "BS":
        return {kind: [_blob(item) for item in inner]}
    if kind == "M":
        return {kind: _attributes(inner)}
    if kind == "L":
        return {kind: [_value(item) for item in inner]}
    return {kind: list(inner) if isinstance(inner, list) else inner}


def _blob(value: Any) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)
