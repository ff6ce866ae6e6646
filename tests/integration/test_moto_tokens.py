"""TransactWriteItems idempotent by its ClientRequestToken on every moto backend, as on DynamoDB
(roomcast_local/moto_tokens.py). botocore's retry after a read timeout sends the same request with the
same token; these tests send it twice themselves, which is what reaches the server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from roomcast_local import moto_tokens
from support.stack import Stack

pytestmark = pytest.mark.integration


def put_once(stack: Stack, sk: str) -> dict[str, Any]:
    """A conditional Put, as the comment's transaction makes (it fails if written before)."""
    return {
        "Put": {
            "TableName": stack.table_name,
            "Item": {"PK": {"S": "Token:test"}, "SK": {"S": sk}},
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def items(stack: Stack) -> list[str]:
    answer = stack.dynamodb.query(
        TableName=stack.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "Token:test"}},
    )
    return [item["SK"]["S"] for item in answer["Items"]]


def test_a_retried_transaction_succeeds_and_changes_nothing(stack: Stack) -> None:
    token = str(uuid.uuid4())
    stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")], ClientRequestToken=token)

    # When the same request comes again (botocore's retry after its read timeout)
    stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")], ClientRequestToken=token)

    # Then it is answered as applied, and applied once: without the token its condition would fail
    assert items(stack) == ["a"]
    with pytest.raises(ClientError) as without_token:
        stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")])
    assert without_token.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_a_transaction_with_a_binary_attribute_is_applied_once(stack: Stack) -> None:
    token = str(uuid.uuid4())
    put = put_once(stack, "bin")
    put["Put"]["Item"]["Data"] = {"B": b"\x00\xff"}
    for _ in range(2):
        stack.dynamodb.transact_write_items(TransactItems=[put], ClientRequestToken=token)

    assert items(stack) == ["bin"]


def test_the_same_token_with_other_items_is_refused(stack: Stack) -> None:
    token = str(uuid.uuid4())
    stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")], ClientRequestToken=token)

    with pytest.raises(ClientError) as refused:
        stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "b")], ClientRequestToken=token)

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert items(stack) == ["a"]


def test_a_cancelled_transaction_may_be_tried_again_with_its_token(stack: Stack) -> None:
    stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")])
    token = str(uuid.uuid4())
    for _ in range(2):
        with pytest.raises(ClientError) as cancelled:
            stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")], ClientRequestToken=token)
        assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"


def test_a_token_still_running_answers_in_progress() -> None:
    key = ("123456789012", "eu-west-1", str(uuid.uuid4()))
    assert moto_tokens._claim(key, "digest") is False  # the first request runs

    with pytest.raises(moto_tokens.TransactionInProgress):
        moto_tokens._claim(key, "digest")


def test_without_the_patch_moto_applies_a_retry_again(stack: Stack) -> None:
    """Why moto_tokens exists; if moto honours the token one day, this fails and the patch can go."""
    if stack.backend == "moto-fast":
        pytest.skip("the local stack's endpoint runs in its own process, always patched")
    moto_tokens.revert()
    try:
        token = str(uuid.uuid4())
        stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")], ClientRequestToken=token)
        with pytest.raises(ClientError) as again:
            stack.dynamodb.transact_write_items(TransactItems=[put_once(stack, "a")], ClientRequestToken=token)
        assert again.value.response["Error"]["Code"] == "TransactionCanceledException"
    finally:
        moto_tokens.apply()
