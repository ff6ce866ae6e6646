"""SqsSliceQueue: slices onto the fan-out queue with SendMessageBatch, batches sent in parallel.

A batch holds at most 10 messages and 256 KiB in all, so big slices go a few to a batch. Entries SQS
failed are sent again (a few rounds); the rest are reported to the use case, which counts their
connections unreached, instead of failing the room and sending its other slices twice.

The fan-out queue is FIFO: each slice goes in its message group (its room and bucket), with a
deduplication id of its body's digest, so a slice sent twice within SQS's 5 minutes (a batch resent after
a lost answer, or a stream batch retried with the same subscribers after its slices went out) is kept
once. The body names the batch it came from (``FanoutSlice.batch``): the same frames to the same
connections from another batch (a join, a leave, a join again) are another message, never dropped.
Slices of one stream batch and one group need no order among them (they carry the same frames to other
connections): what keeps order is that a batch's slices are all sent before the next batch's,
``send`` returning only then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

logger = Logger(child=True)

BATCH_ENTRIES = 10
BATCH_BYTES = 256 * 1024
ROUNDS = 3


class SqsSliceQueue:
    def __init__(self, sqs: Any, queue_url: str, max_workers: int = 8) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.max_workers = max_workers

    def send(self, bodies: Sequence[str], groups: Sequence[str]) -> set[int]:
        if len(groups) != len(bodies):
            raise ValueError(f"{len(bodies)} slices with {len(groups)} message groups")
        pending = set(range(len(bodies)))
        for _ in range(ROUNDS):
            if not pending:
                break
            batches = _batches(sorted(pending), bodies)
            with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(batches)))) as pool:
                failed = list(pool.map(lambda batch: self._send_batch(batch, bodies, groups), batches))
            pending = set().union(*failed)
        return pending

    def _send_batch(self, indexes: list[int], bodies: Sequence[str], groups: Sequence[str]) -> set[int]:
        entries = [
            {
                "Id": str(n),
                "MessageBody": bodies[n],
                "MessageGroupId": groups[n],
                "MessageDeduplicationId": hashlib.sha256(bodies[n].encode()).hexdigest(),
            }
            for n in indexes
        ]
        try:
            answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as error:
            logger.warning("slices not sent", extra={"slices": len(indexes), "detail": str(error)})
            return set(indexes)
        failed = answer.get("Failed", [])
        if failed:
            logger.warning("slices refused by SQS", extra={"failed": [f.get("Code") for f in failed]})
        return {int(f["Id"]) for f in failed}


def _batches(indexes: list[int], bodies: Sequence[str]) -> list[list[int]]:
    batches: list[list[int]] = []
    size = 0
    for n in indexes:
        width = len(bodies[n].encode())
        if not batches or len(batches[-1]) >= BATCH_ENTRIES or size + width > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(n)
        size += width
    return batches
