"""moto 5.2.5's SQS without its costs that grow with the messages a queue holds.

moto builds ``Queue.attributes`` whole on every use: every attribute, the three approximate counts
among them, each a walk over every message of the queue that reads the clock through datetime for
each message. It uses it for one attribute at a time on hot paths: each SendMessage checks
``ContentBasedDeduplication`` in it, each message a ReceiveMessage returns looks its queue's
``MessageRetentionPeriod`` up through it, and GetQueueAttributes builds it three times per name
asked for. A burst of N messages therefore cost N^2 clock reads; with 200 on the command queue,
about a quarter of the local stack's CPU. Here ``Queue.attributes`` is a read-only mapping with the
same keys that works out a value when it is read, and moto's SQS models read the clock with
``time.time()`` (what moto's datetime arithmetic computes, without the datetimes).

Applied with the fast local DynamoDB (fast_moto.apply_if_enabled, so ``ROOMCAST_FAST_MOTO=0`` runs
plain moto); ``apply()`` is idempotent, ``revert()`` undoes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from moto.core import utils as moto_utils
from moto.core.utils import camelcase_to_underscores
from moto.sqs import models
from moto.sqs.models import Queue

_saved: dict[str, Any] = {}


class LazyAttributes(Mapping[str, Any]):
    """``Queue.attributes`` as moto 5.2.5 builds it, each value worked out when it is read."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        self._names = dict.fromkeys(names)

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        # As in moto: the two policies override whatever the base attributes say of them, when they are set.
        if name == "Policy" and self.queue.policy:
            return self.queue.policy
        if name == "RedrivePolicy" and self.queue.redrive_policy:
            return json.dumps(self.queue.redrive_policy)
        value = getattr(self.queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def unix_time(dt: datetime | None = None) -> float:
    return time.time() if dt is None else moto_utils.unix_time(dt)


def unix_time_millis(dt: datetime | None = None) -> float:
    return time.time() * 1000 if dt is None else moto_utils.unix_time_millis(dt)


def apply() -> None:
    if _saved:
        return
    _saved["attributes"] = Queue.__dict__["attributes"]
    _saved["unix_time"], _saved["unix_time_millis"] = models.unix_time, models.unix_time_millis
    Queue.attributes = property(LazyAttributes)  # type: ignore[method-assign,assignment]
    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis


def revert() -> None:
    if _saved:
        Queue.attributes = _saved.pop("attributes")  # type: ignore[method-assign]
        models.unix_time, models.unix_time_millis = _saved.pop("unix_time"), _saved.pop("unix_time_millis")
