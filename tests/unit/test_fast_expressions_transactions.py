"""Comment-shaped transactions answer the same on plain moto and with the fast local DynamoDB.

The same sequence of TransactWriteItems (a receipt's Put, the join item's conditional Update, the
comment's Put, as comments.put_comment writes them), some passing, some cancelled, some malformed,
runs once on plain moto 5.2.5 and once with fast_moto (and so fast_expressions) applied, each on a
fresh in-process mock; every answer (or error code, message and CancellationReasons) and the table
left behind must be identical.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from roomcast_local import fast_moto
from support.moto_tables import hash_table

TABLE = "tx"
RECEIPT = "attribute_not_exists(PK) OR #status = :deadLettered"
JOIN = "Incarnation = :incarnation AND (attribute_not_exists(LastPosition) OR LastPosition < :position)"


def _receipt(key: str, status: str = "applied", **extra: Any) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {"PK": {"S": f"Outcome:{key}"}, "SK": {"S": "outcome"}, "Status": {"S": status}},
            "ConditionExpression": RECEIPT,
            "ExpressionAttributeNames": {"#status": "Status"},
            "ExpressionAttributeValues": {":deadLettered": {"S": "deadLettered"}},
            **extra,
        }
    }


def _join(incarnation: str, position: str, **extra: Any) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": TABLE,
        "Key": {"PK": {"S": "Room:art"}, "SK": {"S": "Join:bob"}},
        "UpdateExpression": "SET LastPosition = :position",
        "ConditionExpression": JOIN,
        "ExpressionAttributeValues": {":incarnation": {"S": incarnation}, ":position": {"S": position}},
    }
    return {"Update": {**update, **extra}}


def _comment(position: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {"PK": {"S": "Feed:art"}, "SK": {"S": position}, "Text": {"S": f"hello {position}"}},
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


TRANSACTIONS: list[list[dict[str, Any]]] = [
    [_receipt("1"), _join("i1", "p1"), _comment("p1")],  # passes
    [_receipt("2"), _join("i1", "p2"), _comment("p2")],  # passes: the same strings, other values
    [_receipt("2"), _join("i1", "p3"), _comment("p3")],  # the receipt exists: cancelled
    [_receipt("3"), _join("i0", "p3"), _comment("p3")],  # another incarnation: cancelled
    [_receipt("4"), _join("i1", "p0"), _comment("p0")],  # an earlier position: cancelled
    [_receipt("5"), _join("i1", "p4"), _comment("p1")],  # the comment exists: cancelled
    [_receipt("6", "deadLettered"), _join("i1", "p5"), _comment("p5")],  # passes
    [_receipt("6"), _join("i1", "p6"), _comment("p6")],  # passes: a dead-lettered receipt is replaced
    [_receipt("7"), _join("i1", "p7", ExpressionAttributeValues={":incarnation": {"S": "i1"}})],  # :position missing
    [_receipt("8", ExpressionAttributeNames={"#other": "Status"}), _comment("p8")],  # #status missing
    [_receipt("9", ConditionExpression="attribute_not_exists(PK) OR = :deadLettered"), _comment("p9")],  # syntax
    [_receipt("10", ConditionExpression="attribute_not_exists(PK) OR Status = :deadLettered"), _comment("p10")],
    [_receipt("11"), _join("i1", "p11", ConditionExpression="Incarnation = :incarnation AND")],
    [_join("i1", "p12", ConditionExpression="#inc = :incarnation", ExpressionAttributeNames={"#inc": "Incarnation"})],
    [_receipt("13"), _join("i1", "p13"), _comment("p13")],  # passes after all of that
]


def _run() -> tuple[list[Any], list[dict[str, Any]]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        hash_table(client, TABLE, "PK", "SK")
        client.put_item(
            TableName=TABLE, Item={"PK": {"S": "Room:art"}, "SK": {"S": "Join:bob"}, "Incarnation": {"S": "i1"}}
        )
        answers: list[Any] = []
        for actions in TRANSACTIONS:
            try:
                client.transact_write_items(TransactItems=actions)
                answers.append("ok")
            except ClientError as error:
                answers.append((error.response["Error"], error.response.get("CancellationReasons")))
            except Exception as error:  # noqa: BLE001 - in-process moto lets a missing name or value out as it is
                answers.append((type(error).__name__, str(error)))
        items = client.scan(TableName=TABLE)["Items"]
        return answers, sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def test_comment_transactions_answer_as_plain_moto_does() -> None:
    assert not fast_moto.applied()
    plain = _run()
    with fast_moto.patched():
        fast = _run()

    assert fast == plain
    assert plain[0][:2] == ["ok", "ok"]
    assert {answer[0]["Code"] for answer in plain[0][2:6]} == {"TransactionCanceledException"}
    assert len({str(answer) for answer in plain[0][8:14]}) == 6  # six different refusals
