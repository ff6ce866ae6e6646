"""The embedded endpoint's tables saved and put back (roomcast_local.snapshot), on moto in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from roomcast.adapters.dynamodb import dynamodb_store
from roomcast.models import AddComment, CreateChatRoom, JoinChatRoom
from roomcast.usecases import commands
from roomcast.usecases.history import history
from roomcast.usecases.ports import Store
from roomcast_local import invoke as local_invoke
from roomcast_local import template
from roomcast_local.snapshot import FILE_NAME, SnapshotError, Tables

pytestmark = pytest.mark.integration

TABLE = "AWS::DynamoDB::Table"


def provision(prefix: str) -> tuple[Tables, Store]:
    local_invoke.reset_caches()
    provisioned = template.provision(prefix, boto3.client("dynamodb"), boto3.client("sqs"))
    names = {logical: provisioned.refs[logical] for logical in template.resources(template.load(), TABLE)}
    store = dynamodb_store(names["ChatTable"], boto3.resource("dynamodb").meta.client)
    return Tables(names, "eu-west-1"), store


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws():
        yield


def stream_records(store: Store) -> int:
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName=store.rooms.table_name)["Table"]["LatestStreamArn"]
    count = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        count += len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])
    return count


def test_rooms_members_and_comments_come_back_without_stream_records_or_connections(moto: None, tmp_path: Path) -> None:
    before, store = provision("first")
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), store)
    commands.apply(JoinChatRoom(room_id="art", user_id="bob"), store)
    commands.apply(AddComment(room_id="art", user_id="bob", text="hello"), store)
    store.rooms.client.put_item(
        TableName=store.rooms.table_name, Item={"PK": "Conn:abc", "SK": "meta", "UserID": "bob"}
    )
    store.rooms.client.put_item(
        TableName=store.rooms.table_name, Item={"PK": "Subs:art#1", "SK": "Conn:abc", "UserID": "bob"}
    )
    saved = before.save(tmp_path / FILE_NAME)

    after, restored_repo = provision("second")
    restored = after.restore(tmp_path / FILE_NAME)

    assert restored == saved
    assert restored_repo.rooms.get_room_and_membership("art", "bob")[1] is not None
    assert [c.text for c in history(restored_repo, "art").comments] == ["hello"]
    keys = {item["PK"] for item in restored_repo.rooms.client.scan(TableName=restored_repo.rooms.table_name)["Items"]}
    assert not {key for key in keys if key.startswith(("Conn:", "Subs:"))}
    assert stream_records(restored_repo) == 0


def test_nothing_saved_restores_nothing(moto: None, tmp_path: Path) -> None:
    tables, _ = provision("empty")
    assert tables.restore(tmp_path / FILE_NAME) == 0


@pytest.mark.parametrize("content", ["{not json", '{"version": 99, "tables": {}}', "[]"])
def test_an_unreadable_snapshot_is_a_one_line_error(moto: None, tmp_path: Path, content: str) -> None:
    tables, _ = provision("broken")
    (tmp_path / FILE_NAME).write_text(content)
    with pytest.raises(SnapshotError, match=FILE_NAME) as raised:
        tables.restore(tmp_path / FILE_NAME)
    assert "\n" not in str(raised.value)


def test_a_save_that_fails_leaves_the_last_snapshot_whole(moto: None, tmp_path: Path) -> None:
    tables, store = provision("atomic")
    commands.apply(CreateChatRoom(room_id="art", user_id="alice"), store)
    tables.save(tmp_path / FILE_NAME)
    last = (tmp_path / FILE_NAME).read_text()
    (tmp_path / f".{FILE_NAME}.tmp").mkdir()  # where the next save writes first

    with pytest.raises(IsADirectoryError):
        tables.save(tmp_path / FILE_NAME)
    assert (tmp_path / FILE_NAME).read_text() == last
