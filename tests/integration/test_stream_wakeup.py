"""The embedded endpoint wakes the stream pollers on a write (roomcast_local/stream_wakeup.py), in-process moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast_local import stream_wakeup

pytestmark = pytest.mark.integration


@pytest.fixture
def table() -> Iterator[Any]:
    stream_wakeup.apply()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(
            TableName="wake",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield dynamodb
    stream_wakeup.revert()


def test_a_write_wakes_a_waiting_poller(table: Any) -> None:
    seen = stream_wakeup.seen()
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(stream_wakeup.wait_past(seen, timeout=60)))
    waiter.start()
    table.put_item(TableName="wake", Item={"PK": {"S": "a"}})
    waiter.join()

    assert woken == [True]


def test_a_write_during_the_poll_is_not_missed(table: Any) -> None:
    seen = stream_wakeup.seen()
    table.put_item(TableName="wake", Item={"PK": {"S": "b"}})  # after the poller noted its count, before it waits

    assert stream_wakeup.wait_past(seen, timeout=60) is True


def test_without_a_write_the_wait_ends_at_its_timeout(table: Any) -> None:
    table.put_item(TableName="wake", Item={"PK": {"S": "c"}})
    seen = stream_wakeup.seen()
    table.get_item(TableName="wake", Key={"PK": {"S": "c"}})  # a read writes no stream record

    assert stream_wakeup.wait_past(seen, timeout=0.05) is False


def test_wake_releases_the_waiters_without_a_write() -> None:
    seen = stream_wakeup.seen()
    stream_wakeup.wake()

    assert stream_wakeup.wait_past(seen, timeout=60) is True
