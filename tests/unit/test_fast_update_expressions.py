"""Update expressions parsed once per string: moto's own items and errors, and the kept trees unchanged.

The same UpdateItems and transactions (SET with arithmetic, list_append and if_not_exists, REMOVE
of list elements, ADD, DELETE, and malformed expressions) run on plain moto 5.2.5 and with
fast_expressions applied, each on a fresh in-process mock; the answers and the items must be
identical, and each syntax tree fast_expressions hands out must be a new one, equal to moto's parse.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

from roomcast_local import fast_expressions
from support.moto_tables import hash_table

TABLE = "upd"
KEY = {"PK": {"S": "a"}}
UPDATES: list[tuple[str, dict[str, Any]]] = [
    (
        "SET N1 = :one, L = :list, S1 = :s, Ss = :ss",
        {
            ":one": {"N": "1"},
            ":list": {"L": [{"S": "x"}, {"S": "y"}, {"S": "v"}]},
            ":s": {"S": "text"},
            ":ss": {"SS": ["p", "q"]},
        },
    ),
    ("SET N1 = N1 + :one, L = list_append(L, :list)", {":one": {"N": "2"}, ":list": {"L": [{"S": "z"}]}}),
    ("SET N1 = N1 + :one, L = list_append(L, :list)", {":one": {"N": "3"}, ":list": {"L": [{"S": "w"}]}}),
    ("SET Fresh = if_not_exists(Fresh, :one), N1 = N1 - :one", {":one": {"N": "5"}}),
    ("REMOVE L[0], L[2] SET S1 = :s", {":s": {"S": "again"}}),
    ("ADD N1 :one, Tags :ss DELETE Ss :gone", {":one": {"N": "7"}, ":ss": {"SS": ["q"]}, ":gone": {"SS": ["p"]}}),
    ("SET N1 = :missing, N2 = :one", {":one": {"N": "1"}}),  # an undefined value
    ("SET = :one", {":one": {"N": "1"}}),  # syntax
    ("SET N1 = :one REMOVE N1", {":one": {"N": "1"}}),  # overlapping paths
    ("SET PK = :one", {":one": {"S": "b"}}),  # a key attribute
    ("ADD L :one", {":one": {"N": "1"}}),  # a type mismatch
    ("SET #x = :one", {":one": {"N": "1"}}),  # an undefined name
]


def _run() -> tuple[list[Any], Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        hash_table(client, TABLE, "PK")
        answers: list[Any] = []
        for expression, values in UPDATES:
            update = {"TableName": TABLE, "Key": KEY, "UpdateExpression": expression}
            try:
                answers.append(client.update_item(**update, ExpressionAttributeValues=values, ReturnValues="ALL_NEW"))
                answers[-1].pop("ResponseMetadata")
                transaction = [{"Update": {**update, "Key": {"PK": {"S": "t"}}, "ExpressionAttributeValues": values}}]
                client.transact_write_items(TransactItems=transaction)
            except ClientError as error:
                answers.append((error.response["Error"], error.response.get("CancellationReasons")))
            except Exception as error:  # noqa: BLE001 - in-process moto lets some refusals out as they are
                answers.append((type(error).__name__, str(error)))
        return answers, client.scan(TableName=TABLE)["Items"]


def _tree(node: Any) -> Any:
    """A syntax tree as plain data, parents by their type only (they point back up)."""
    if isinstance(node, list):
        return [_tree(child) for child in node]
    if not hasattr(node, "children"):
        return node
    attributes = {k: (type(v).__name__ if k == "parent" else _tree(v)) for k, v in vars(node).items()}
    return type(node).__name__, attributes


def test_updates_answer_as_plain_moto_does() -> None:
    plain = _run()
    fast_expressions.apply()
    try:
        fast = _run()
        again = _run()
        kept = set(fast_expressions._updates)
    finally:
        fast_expressions.revert()

    assert fast == plain
    assert again == plain
    assert len(kept) >= 8
    assert "SET = :one" not in kept  # refused: not kept
    assert sum(isinstance(answer, tuple) for answer in plain[0]) == 6


def test_each_tree_handed_out_is_a_new_one_equal_to_moto_s() -> None:
    expressions = [expression for expression, _ in UPDATES if expression != "SET = :one"]
    parsed = [_tree(UpdateExpressionParser.make(expression)) for expression in expressions]
    fast_expressions.apply()
    try:
        first = [UpdateExpressionParser.make(expression) for expression in expressions]
        first[0].children.clear()  # a caller changing its tree changes no one else's
        second = [UpdateExpressionParser.make(expression) for expression in expressions]
    finally:
        fast_expressions.revert()

    assert [_tree(tree) for tree in second] == parsed
    assert [_tree(tree) for tree in first[1:]] == parsed[1:]
    assert all(a is not b for a, b in zip(first, second, strict=True))
