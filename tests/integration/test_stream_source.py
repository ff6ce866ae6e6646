"""The chat table's stream through the local event source mapping: Lambda's events, batching, filters and failures."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
    StreamViewType,
)

from roomcast_local import template
from roomcast_local.stream_mapping import StreamSourceConfig, compile_pattern
from roomcast_local.stream_source import StreamEventSource
from support.stack import Stack

pytestmark = pytest.mark.integration

Event = dict[str, Any]


@dataclass
class Handler:
    """Stands in for the function: keeps a copy of every event and answers with ``respond`` (which may raise)."""

    respond: Callable[[Event], Any] = lambda event: None
    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> Any:
        self.events.append(copy.deepcopy(event))
        return self.respond(event)

    @property
    def batches(self) -> list[list[str]]:
        """The sort key of every record, batch by batch."""
        return [[r["dynamodb"]["Keys"]["SK"]["S"] for r in event["Records"]] for event in self.events]


def fails_with(*poison: str) -> Callable[[Event], Any]:
    """A function that raises on any batch holding one of these sort keys."""

    def respond(event: Event) -> None:
        if any(r["dynamodb"]["Keys"]["SK"]["S"] in poison for r in event["Records"]):
            raise RuntimeError("poison record")

    return respond


def comment(n: int) -> str:
    return f"Comment:01KB{n:022d}"


def put(stack: Stack, pk: str, sk: str, **attributes: Any) -> None:
    """PutItem with DynamoDB-JSON attributes, e.g. ``Comment={"S": "hi"}``."""
    item = {"PK": {"S": pk}, "SK": {"S": sk}, **attributes}
    stack.dynamodb.put_item(TableName=stack.table_name, Item=item)


def delete(stack: Stack, pk: str, sk: str) -> None:
    stack.dynamodb.delete_item(TableName=stack.table_name, Key={"PK": {"S": pk}, "SK": {"S": sk}})


def sequence_numbers(handler: Handler, batch: int = 0) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in handler.events[batch]["Records"]]


def failure_records(stack: Stack) -> list[dict[str, Any]]:
    messages = stack.sqs.receive_message(QueueUrl=stack.url("StreamFailureQueue"), MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def stream_arn(stack: Stack) -> str:
    return stack.provisioned.attrs[("ChatTable", "StreamArn")]


def template_config(stack: Stack) -> StreamSourceConfig:
    function = template.load()["Resources"]["StreamFunction"]["Properties"]
    return StreamSourceConfig.from_template(function["Events"]["TableStream"]["Properties"], stack.provisioned)


# ---- events --------------------------------------------------------------------------------


def test_records_arrive_as_lambda_delivers_them(stack: Stack) -> None:
    handler = Handler()
    source = stack.stream_source(handler, StreamSourceConfig())
    sk = comment(1)
    put(stack, "User:bob", sk, Comment={"S": "hi"}, Avatar={"B": b"\x00\x01"})
    put(stack, "User:bob", sk, Comment={"S": "hi, edited"})
    put(stack, "User:bob", sk, Comment={"S": "hi, edited"})  # changes nothing: DynamoDB writes no record
    delete(stack, "User:bob", sk)

    assert source.drain() == 3

    (event,) = handler.events
    json.dumps(event)  # Lambda's event is JSON: no datetimes or bytes left from boto3
    insert, modify, remove = DynamoDBStreamEvent(event).records
    assert [r.event_name for r in (insert, modify, remove)] == [
        DynamoDBRecordEventName.INSERT,
        DynamoDBRecordEventName.MODIFY,
        DynamoDBRecordEventName.REMOVE,
    ]
    for record in (insert, modify, remove):
        assert record.event_source == "aws:dynamodb"
        assert record.event_source_arn == stream_arn(stack)
        assert record.aws_region == "eu-west-1"
        assert record.event_version and record.event_id
        assert record.dynamodb is not None
        assert record.dynamodb.keys == {"PK": "User:bob", "SK": sk}
        assert record.dynamodb.stream_view_type == StreamViewType.NEW_AND_OLD_IMAGES
        created = record.dynamodb.approximate_creation_date_time
        assert created is not None and abs(created - time.time()) < 300
        assert record.dynamodb.size_bytes
    assert isinstance(event["Records"][0]["dynamodb"]["ApproximateCreationDateTime"], float)  # epoch seconds
    assert insert.dynamodb and modify.dynamodb and remove.dynamodb
    assert insert.dynamodb.new_image == {"PK": "User:bob", "SK": sk, "Comment": "hi", "Avatar": "AAE="}  # base64
    assert insert.dynamodb.old_image == {}
    assert modify.dynamodb.old_image["Comment"] == "hi"
    assert modify.dynamodb.new_image["Comment"] == "hi, edited"
    assert remove.dynamodb.new_image == {}
    assert remove.dynamodb.old_image["Comment"] == "hi, edited"
    numbers = [int(r.dynamodb.sequence_number or 0) for r in (insert, modify, remove) if r.dynamodb]
    assert numbers == sorted(set(numbers))


def test_batches_hold_at_most_batch_size_records_in_stream_order(stack: Stack) -> None:
    handler = Handler()
    source = stack.stream_source(handler, StreamSourceConfig(batch_size=3))
    sks = [comment(n) for n in range(7)]
    for sk in sks:
        put(stack, "User:bob", sk)

    first = source.poll_once()

    assert (first.read, first.delivered, first.invocations, first.failed_batches) == (3, 3, 1, 0)
    assert source.drain() == 4
    assert handler.batches == [sks[0:3], sks[3:6], sks[6:7]]
    assert source.drain() == 0  # checkpointed: nothing is delivered twice
    put(stack, "User:bob", comment(7))
    assert source.drain() == 1
    assert handler.batches[-1] == [comment(7)]


def test_latest_starts_after_what_the_stream_already_holds(stack: Stack) -> None:
    put(stack, "User:bob", comment(1))
    handler = Handler()
    source = stack.stream_source(handler, StreamSourceConfig(), starting_position="LATEST")

    assert source.drain() == 0
    put(stack, "User:bob", comment(2))
    assert source.drain() == 1
    assert handler.batches == [[comment(2)]]


# ---- filters -------------------------------------------------------------------------------


def test_the_template_settings_are_read(stack: Stack) -> None:
    config = template_config(stack)

    assert (config.batch_size, config.bisect_on_error, config.report_batch_item_failures) == (100, True, True)
    assert (config.maximum_retry_attempts, config.maximum_record_age_seconds) == (10, 3600)
    assert config.on_failure_queue_url == stack.url("StreamFailureQueue")
    assert len(config.filter_patterns) == 5
    assert config.filter_patterns[0] == {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "Comment:"}]}}},
    }


def test_template_filters_pass_only_what_the_processor_acts_on(stack: Stack) -> None:
    handler = Handler()
    source = stack.stream_source(handler, template_config(stack))
    put(stack, "Room:art", "meta", CreatedBy={"S": "alice"})  # dropped: a room's creation
    put(stack, "Room:art", "Member:inc1#bob")  # dropped: room-side member item
    put(stack, "User:bob", "Join:art")
    put(stack, "User:bob", "Join:art", Incarnation={"S": "inc1"})
    put(stack, "User:bob", "Join:art", Incarnation={"S": "inc1"}, LastPosition={"S": "01"})  # dropped: a comment
    put(stack, "Conn:c1", "meta", UserID={"S": "bob"})  # dropped: connection
    put(stack, "Conn:c1", "Sub:art#inc1")  # dropped: subscription, connection side
    put(stack, "Subs:art#inc1", "Conn:c1")  # dropped: subscription, room side
    put(stack, "User:bob", comment(1), Comment={"S": "hi"})
    put(stack, "User:bob", comment(1), Comment={"S": "edited"})  # a comment's MODIFY (its deletion, in practice)
    put(stack, "Room:art", "Ban:carol", Incarnation={"S": "inc1"})  # a ban: its banned frame
    put(stack, "Room:art", "Mute:carol", Incarnation={"S": "inc1"})  # dropped: a mute shows no frame
    delete(stack, "User:bob", "Join:art")
    delete(stack, "Room:art", "meta")
    put(stack, "Cleanup:art#inc1", "task")
    put(stack, "Cleanup:art#inc1", "task", Cursor={"S": "x"})
    delete(stack, "Cleanup:art#inc1", "task")  # dropped: the cleanup's end
    delete(stack, "User:bob", comment(1))  # dropped

    result = source.poll_once()

    assert (result.read, result.filtered, result.delivered, result.invocations) == (18, 9, 9, 1)
    delivered = [
        (r["eventName"], r["dynamodb"]["Keys"]["PK"]["S"], r["dynamodb"]["Keys"]["SK"]["S"])
        for r in handler.events[0]["Records"]
    ]
    assert delivered == [
        ("INSERT", "User:bob", "Join:art"),
        ("MODIFY", "User:bob", "Join:art"),
        ("INSERT", "User:bob", comment(1)),
        ("MODIFY", "User:bob", comment(1)),
        ("INSERT", "Room:art", "Ban:carol"),
        ("REMOVE", "User:bob", "Join:art"),
        ("REMOVE", "Room:art", "meta"),
        ("INSERT", "Cleanup:art#inc1", "task"),
        ("MODIFY", "Cleanup:art#inc1", "task"),
    ]
    assert source.poll_once().read == 0  # the filtered records were checkpointed too


RECORD: Event = {
    "eventName": "MODIFY",
    "dynamodb": {
        "Keys": {"PK": {"S": "User:bob"}, "SK": {"S": "Comment:01"}},
        "NewImage": {"Count": {"N": "5"}, "Tags": {"SS": ["blue", "red"]}, "Comment": {"S": "hi"}},
        "SizeBytes": 120,
    },
}


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ({"eventName": ["MODIFY"]}, True),
        ({"eventName": ["INSERT", "REMOVE"]}, False),
        ({"eventName": ["MODIFY"], "dynamodb": {"Keys": {"PK": {"S": ["User:alice"]}}}}, False),  # AND
        ({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "Comment:"}]}}}}, True),
        ({"dynamodb": {"Keys": {"SK": {"S": [{"suffix": ":02"}]}}}}, False),
        ({"eventName": [{"equals-ignore-case": "modify"}]}, True),
        ({"eventName": [{"anything-but": ["INSERT", "REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": {"prefix": "MOD"}}]}, False),
        ({"dynamodb": {"NewImage": {"Comment": [{"exists": True}]}}}, True),
        ({"dynamodb": {"NewImage": {"Comment": [{"exists": False}]}}}, False),
        ({"dynamodb": {"OldImage": {"Comment": [{"exists": False}]}}}, True),  # absent parent
        ({"dynamodb": {"OldImage": {"Comment": {"S": ["hi"]}}}}, False),
        ({"dynamodb": {"NewImage": {"Tags": {"SS": ["red"]}}}}, True),  # any element of an array
        ({"dynamodb": {"NewImage": {"Count": {"N": ["5"]}}}}, True),
        ({"dynamodb": {"NewImage": {"Count": {"N": [{"numeric": [">", 1]}]}}}}, False),  # "N" is a string
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}, True),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, False),
        ({"dynamodb": {"SizeBytes": [120.0]}}, True),
        ({"dynamodb": {"SizeBytes": ["120"]}}, False),
    ],
)
def test_filter_pattern_syntax(pattern: dict[str, Any], matches: bool) -> None:
    assert compile_pattern(pattern)(RECORD) is matches


@pytest.mark.parametrize(
    "pattern",
    [
        {},
        {"eventName": "INSERT"},
        {"eventName": [["INSERT"]]},
        {"eventName": [{"wildcard": "IN*"}]},
        {"eventName": [{"prefix": "IN", "suffix": "RT"}]},
        {"eventName": [{"prefix": 1}]},
        {"eventName": [{"anything-but": {"exists": True}}]},
        {"dynamodb": {"SizeBytes": [{"numeric": [">", "1"]}]}},
        {"dynamodb": {"SizeBytes": [{"numeric": ["~", 1]}]}},
    ],
)
def test_patterns_lambda_would_refuse_are_refused(pattern: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        compile_pattern(pattern)


# ---- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("report", [True, False])
def test_partial_failure_redelivers_from_the_lowest_failed_record(stack: Stack, report: bool) -> None:
    def respond(event: Event) -> Any:
        if len(handler.events) > 1:
            return {"batchItemFailures": []}
        numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        return {"batchItemFailures": [{"itemIdentifier": numbers[3]}, {"itemIdentifier": numbers[1]}]}

    handler = Handler(respond)
    source = stack.stream_source(handler, StreamSourceConfig(report_batch_item_failures=report))
    sks = [comment(n) for n in range(5)]
    for sk in sks:
        put(stack, "User:bob", sk)

    source.drain()

    if report:
        # From the lowest failure on, successes after it included; never the record before it
        assert handler.batches == [sks, sks[1:]]
    else:
        assert handler.batches == [sks]  # without ReportBatchItemFailures the response is not read


@pytest.mark.parametrize(
    "failure",
    [{"itemIdentifier": ""}, {"itemIdentifier": None}, {"itemIdentifier": "1"}, {"sequenceNumber": "x"}],
    ids=["empty", "null", "not-in-batch", "bad-key"],
)
def test_an_unusable_failure_list_fails_the_whole_batch(stack: Stack, failure: dict[str, Any]) -> None:
    handler = Handler(lambda event: {"batchItemFailures": [failure]} if len(handler.events) == 1 else None)
    source = stack.stream_source(handler, StreamSourceConfig(report_batch_item_failures=True))
    sks = [comment(n) for n in range(3)]
    for sk in sks:
        put(stack, "User:bob", sk)

    source.drain()

    assert handler.batches == [sks, sks]


def test_powertools_batch_processor_reports_failures_by_sequence_number(stack: Stack) -> None:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    seen: list[str] = []

    def record_handler(record: DynamoDBRecord) -> None:
        assert record.dynamodb is not None
        text = record.dynamodb.new_image["Comment"]
        seen.append(text)
        if text == "flaky" and seen.count("flaky") == 1:
            raise RuntimeError("transient")

    source = stack.stream_source(
        lambda event: process_partial_response(event, record_handler, processor),
        StreamSourceConfig(report_batch_item_failures=True),
    )
    for n, text in enumerate(["first", "flaky", "last"]):
        put(stack, "User:bob", comment(n), Comment={"S": text})

    source.drain()

    assert seen == ["first", "flaky", "last", "flaky", "last"]


def test_an_exception_fails_the_whole_batch_and_the_same_batch_is_retried(stack: Stack) -> None:
    def respond(event: Event) -> None:
        if len(handler.events) == 1:
            raise RuntimeError("function crashed")

    handler = Handler(respond)
    source = stack.stream_source(handler, StreamSourceConfig())
    sks = [comment(n) for n in range(2)]
    for sk in sks:
        put(stack, "User:bob", sk)

    first = source.poll_once()
    put(stack, "User:bob", comment(2))  # arrives while the batch waits for its retry
    second, third = source.poll_once(), source.poll_once()

    assert (first.invocations, first.failed_batches, second.failed_batches) == (1, 1, 0)
    assert handler.batches == [sks, sks, [comment(2)]]  # the retry is the failed batch, not a bigger one
    assert third.delivered == 1 and source.poll_once().read == 0


def test_exhausted_retries_send_one_failure_record_and_the_stream_moves_on(stack: Stack) -> None:
    bad = [comment(n) for n in range(3)]
    handler = Handler(fails_with(*bad))
    config = StreamSourceConfig(
        batch_size=3, maximum_retry_attempts=2, on_failure_queue_url=stack.url("StreamFailureQueue")
    )
    source = stack.stream_source(handler, config)
    for sk in [*bad, comment(3)]:
        put(stack, "User:bob", sk)

    assert source.drain() == 3 * 3 + 1

    assert handler.batches == [bad, bad, bad, [comment(3)]]  # 1 attempt + 2 retries, then on
    (failure,) = failure_records(stack)
    numbers = sequence_numbers(handler)
    context, response, info = failure["requestContext"], failure["responseContext"], failure["DDBStreamBatchInfo"]
    assert context["condition"] == "RetryAttemptsExhausted"
    assert context["approximateInvokeCount"] == 3
    assert context["functionArn"].endswith(":function:StreamFunction")
    assert response == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert failure["version"] == "1.0"
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (numbers[0], numbers[2], 3)
    assert info["streamArn"] == stream_arn(stack)
    (shard,) = boto3.client("dynamodbstreams").describe_stream(StreamArn=stream_arn(stack))["StreamDescription"][
        "Shards"
    ]
    assert info["shardId"] == shard["ShardId"]
    for stamp in (
        failure["timestamp"],
        info["approximateArrivalOfFirstRecord"],
        info["approximateArrivalOfLastRecord"],
    ):
        assert abs(datetime.fromisoformat(stamp).timestamp() - time.time()) < 300


def test_bisection_isolates_a_poison_record(stack: Stack) -> None:
    sks = [comment(n) for n in range(8)]
    poison = sks[5]
    handler = Handler(fails_with(poison))
    source = stack.stream_source(handler)  # the template's settings: bisect, 10 retries, on-failure queue
    for sk in sks:
        put(stack, "User:bob", sk)

    source.drain()

    # Halves until the poison record is alone; splitting consumes no retries, then 1 + 10 attempts
    assert handler.batches == [sks, sks[0:4], sks[4:8], sks[4:6], sks[4:5], *[[poison]] * 11, sks[6:8]]
    succeeded = [sk for batch in handler.batches if poison not in batch for sk in batch]
    assert sorted(succeeded) == [sk for sk in sks if sk != poison]
    (failure,) = failure_records(stack)
    (poison_number,) = sequence_numbers(handler, batch=5)
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        poison_number,
        poison_number,
        1,
    )
    assert failure["requestContext"]["approximateInvokeCount"] == 11


def test_records_older_than_the_maximum_age_are_skipped(stack: Stack) -> None:
    now = time.time()
    handler = Handler(fails_with(comment(0), comment(1)))
    config = StreamSourceConfig(maximum_record_age_seconds=60, on_failure_queue_url=stack.url("StreamFailureQueue"))
    source = stack.stream_source(handler, config, clock=lambda: now)
    for n in range(2):
        put(stack, "User:bob", comment(n))

    assert source.poll_once().failed_batches == 1
    now += 120
    aged = source.poll_once()

    assert (aged.invocations, aged.discarded) == (0, 2)  # never sent to the function again
    assert source.poll_once().read == 0
    (failure,) = failure_records(stack)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == 1
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2


def test_a_backlog_older_than_the_maximum_age_is_never_delivered(stack: Stack) -> None:
    handler = Handler()
    config = StreamSourceConfig(maximum_record_age_seconds=60, on_failure_queue_url=stack.url("StreamFailureQueue"))
    source = stack.stream_source(handler, config, clock=lambda: time.time() + 3600)
    for n in range(3):
        put(stack, "User:bob", comment(n))

    assert source.drain() == 0
    assert handler.events == []
    (failure,) = failure_records(stack)
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 3


# ---- shards --------------------------------------------------------------------------------


class SplitStream:
    """A stream whose shard has split: a closed parent, and its child (listed first, as nothing guarantees order)."""

    ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"

    def __init__(self) -> None:
        self.records = {"parent": [self._record(1), self._record(2)], "child": [self._record(3)]}

    @staticmethod
    def _record(n: int) -> dict[str, Any]:
        keys = {"PK": {"S": "User:bob"}, "SK": {"S": comment(n)}}
        change = {"Keys": keys, "NewImage": keys, "SequenceNumber": str(n), "SizeBytes": 10}
        change |= {"StreamViewType": "NEW_AND_OLD_IMAGES", "ApproximateCreationDateTime": datetime.now(UTC)}
        return {"eventID": str(n), "eventName": "INSERT", "eventVersion": "1.1", "dynamodb": change}

    def describe_stream(self, StreamArn: str, **_: Any) -> dict[str, Any]:  # noqa: N803 - boto3's names
        child = {"ShardId": "child", "ParentShardId": "parent", "SequenceNumberRange": {"StartingSequenceNumber": "3"}}
        parent = {
            "ShardId": "parent",
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "2"},
        }
        return {"StreamDescription": {"Shards": [child, parent]}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str, **after: str) -> dict[str, Any]:  # noqa: N803
        numbers = [r["dynamodb"]["SequenceNumber"] for r in self.records[ShardId]]
        start = numbers.index(after["SequenceNumber"]) + 1 if ShardIteratorType == "AFTER_SEQUENCE_NUMBER" else 0
        return {"ShardIterator": f"{ShardId}|{start}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        shard, start = ShardIterator.split("|")
        records = self.records[shard][int(start) : int(start) + Limit]
        end = int(start) + len(records)
        closed = shard == "parent" and end == len(self.records[shard])
        return {"Records": records, "NextShardIterator": None if closed else f"{shard}|{end}"}


def test_a_child_shard_is_read_after_its_parent() -> None:
    handler = Handler()
    source = StreamEventSource(SplitStream(), SplitStream.ARN, handler, StreamSourceConfig())

    result = source.poll_once()

    assert handler.batches == [[comment(1), comment(2)], [comment(3)]]
    assert result.read == 3
    assert source.poll_once().read == 0
