"""The fan-out queue's deduplication ids (adapters/slice_queue.py: a slice body's digest) on a real FIFO
queue (moto in-process): slices with the same frames to the same connections are kept apart by the batch
they came from, and the same batch sent again (a Lambda retry) is kept once; a rest is named after its
parent (review s8, finding 1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast.adapters.slice_queue import SqsSliceQueue
from roomcast.domain.chat import Subscription, room_feed
from roomcast.domain.events import MemberJoined, MemberLeft
from roomcast.usecases.second_tier import SecondTier
from roomcast.wire.frames import encode_frame
from roomcast.wire.slices import FanoutSlice, SliceTarget, rest_of

ROOM, INCARNATION = "big-room", "i1"
JOINED = [encode_frame(MemberJoined(room_id=ROOM, user_id="newbie"))]
LEFT = [encode_frame(MemberLeft(room_id=ROOM, user_id="newbie"))]


@pytest.fixture
def fifo() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        attributes = {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        }
        yield sqs, sqs.create_queue(QueueName="fanout.fifo", Attributes=attributes)["QueueUrl"]


def subscribers(count: int) -> list[Subscription]:
    return [
        Subscription(
            connection_id=f"c{n:05d}", user_id=f"u{n}", room_id=ROOM, incarnation=INCARNATION, expires_at=2**40
        )
        for n in range(count)
    ]


def received(sqs: Any, url: str) -> list[FanoutSlice]:
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return [FanoutSlice.model_validate_json(body) for body in bodies]


def test_the_same_frames_of_three_batches_are_three_batches_of_slices(fifo: tuple[Any, str]) -> None:
    sqs, url = fifo
    tier = SecondTier(SqsSliceQueue(sqs, url), threshold=10, slice_size=50, max_bytes=256 * 1024)

    # A join, a leave and a join again within SQS's 5 minutes: the first and last frames are byte-identical
    for n, frames in enumerate((JOINED, LEFT, JOINED)):
        result = tier.hand_off(room_feed(ROOM, INCARNATION), frames, subscribers(200), 0.0, batch=f"stream:{n}-{n}")
        assert result is not None and result.delivered == 200

    slices = received(sqs, url)
    assert sorted(s.batch or "" for s in slices) == sorted(f"stream:{n}-{n}" for n in range(3) for _ in range(8))


def test_a_batch_sent_again_is_kept_once(fifo: tuple[Any, str]) -> None:
    sqs, url = fifo
    tier = SecondTier(SqsSliceQueue(sqs, url), threshold=10, slice_size=50, max_bytes=256 * 1024)

    for _ in range(2):  # the stream batch retried by Lambda: the same records, the same sequence numbers
        tier.hand_off(room_feed(ROOM, INCARNATION), JOINED, subscribers(200), 0.0, batch="stream:7-9")

    slices = received(sqs, url)
    assert len(slices) == 8 and sorted(t.connection_id for s in slices for t in s.targets) == [
        s.connection_id for s in subscribers(200)
    ]


def test_a_rest_is_named_after_its_parent_so_a_rest_of_a_rest_is_a_new_message() -> None:
    parent = FanoutSlice(
        room_id=ROOM,
        incarnation=INCARNATION,
        part=1,
        parts=1,
        frames=[JOINED[0].decode()],
        targets=[SliceTarget(connection_id=c, user_id=f"u-{c}", expires_at=1) for c in ("c1", "c2")],
        batch="stream:1-1",
    )

    rest = rest_of(parent, {"c1", "c2"})
    again = rest_of(rest, {"c1", "c2"})

    assert rest_of(parent, {"c1", "c2"}) == rest, "a retried parent hands on the same rest"
    assert rest.targets == again.targets == parent.targets
    assert len({parent.model_dump_json(), rest.model_dump_json(), again.model_dump_json()}) == 3
    assert [t.connection_id for t in rest_of(parent, {"c2"}).targets] == ["c2"]


def test_unnamed_batches_are_never_taken_for_one_another(fifo: tuple[Any, str]) -> None:
    sqs, url = fifo
    tier = SecondTier(SqsSliceQueue(sqs, url), threshold=10, slice_size=50, max_bytes=256 * 1024)

    for frames in (JOINED, LEFT, JOINED):  # no batch named: a caller that cannot tell a retry
        result = tier.hand_off(room_feed(ROOM, INCARNATION), frames, subscribers(200), 0.0)
        assert result is not None and result.delivered == 200

    slices = received(sqs, url)
    assert len(slices) == 24 and len({s.batch for s in slices}) == 3
