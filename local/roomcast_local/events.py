"""Sample events: which function each events/ file belongs to, and how samples are made."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from roomcast.domain.ordering import message_group
from roomcast.models import Command
from roomcast_local.template import ROOT

EVENTS = ROOT / "events"
# events/<prefix>-*.json belongs to this function of template.yaml.
PREFIXES = {
    "command": "CommandFunction",
    "authorizer": "AuthorizerFunction",
    "connect": "ConnectFunction",
    "disconnect": "DisconnectFunction",
    "message": "MessageFunction",
    "stream": "StreamFunction",
    "review": "ReviewFunction",
    "fanout": "FanoutFunction",
}


def function_for(path: Path) -> str:
    prefix = path.name.split("-", 1)[0]
    if prefix not in PREFIXES:
        raise KeyError(f"{path.name}: no function takes events named {prefix}-*; known: {sorted(PREFIXES)}")
    return PREFIXES[prefix]


def sqs_event(*bodies: Command | str, queue: str = "roomcast-CommandQueue.fifo") -> dict[str, Any]:
    """An SQS event with one record per body, shaped exactly as Lambda delivers it from the FIFO queue."""
    records = []
    for n, body in enumerate(bodies):
        text = body if isinstance(body, str) else body.model_dump_json(by_alias=True, exclude_none=True)
        message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{queue}/{text}/{n}"))
        group = "ungrouped" if isinstance(body, str) else message_group(body)
        records.append(
            {
                "messageId": message_id,
                "receiptHandle": f"local-{message_id}",
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764072000000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1764072000001",
                    "MessageGroupId": group,
                    "MessageDeduplicationId": message_id,
                    "SequenceNumber": str(18_800_000_000_000_000_000 + n),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{queue}",
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": records}


def load(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text())
    return event


def samples(prefix: str = "") -> list[Path]:
    """Every sample (of one function, given its prefix), in the order that tells the story."""
    return sorted(EVENTS.glob(f"{prefix}*.json"))
