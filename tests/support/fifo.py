"""SendMessage arguments for the FIFO command queue, for models and for raw (poison) bodies alike."""

from __future__ import annotations

import uuid
from typing import Any

from roomcast.domain.commands import Command
from roomcast.domain.ordering import fifo_message

POISON_GROUP = "poison"


def message(body: Command | str, dedup: str | None = None) -> dict[str, Any]:
    """A model goes in its own group; a raw body, which has none, in ``poison``. ``dedup`` overrides the
    deduplication id, for tests that want SQS itself to deliver one command twice."""
    if isinstance(body, str):
        sent: dict[str, Any] = {
            "MessageBody": body,
            "MessageGroupId": POISON_GROUP,
            "MessageDeduplicationId": uuid.uuid4().hex,
        }
    else:
        sent = fifo_message(body)
    if dedup is not None:
        sent["MessageDeduplicationId"] = dedup
    return sent
