"""DynamoWindows.append's answers to a cancelled transaction, on a real boto3 DynamoDB client (the resource's,
as the adapter uses) with botocore's Stubber: the cases moto does not produce (a conflict, a retried batch
whose first attempt died before its claim) and the refusal that must not claim."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from roomcast.adapters.dynamodb.windows import DynamoWindows
from roomcast.domain.chat import CommentView
from roomcast.domain.errors import TransientError
from roomcast.usecases.pacing import Appended

COMMENT = CommentView(
    comment_id="c1", user_id="u1", text="hi", created_at="2026-11-30T23:00:00.000Z", position="0000000001"
)

SEAL = {
    "TableName": "chat",
    "UpdateExpression": "SET Sealed = :yes",
    "ConditionExpression": "attribute_exists(PK)",
    "ExpressionAttributeValues": {":yes": True},
}


@pytest.fixture
def dynamodb() -> Iterator[tuple[DynamoWindows, Stubber]]:
    resource = boto3.resource("dynamodb", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    client = resource.meta.client
    with Stubber(client) as stubber:
        yield DynamoWindows("chat", client), stubber
        stubber.assert_no_pending_responses()


def cancelled(stubber: Stubber, *codes: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


@pytest.mark.parametrize(
    ("code", "raised"),
    [("TransactionConflict", TransientError), ("ValidationError", ClientError)],
)
def test_a_transaction_cancelled_for_another_reason_raises(
    dynamodb: tuple[DynamoWindows, Stubber], code: str, raised: type[Exception]
) -> None:
    """A conflict is retried with the stream batch; anything else is a bug and propagates."""
    windows, stubber = dynamodb
    cancelled(stubber, code, "None")

    with pytest.raises(raised, match=code if raised is TransientError else "TransactionCanceled"):
        windows.append("art#i1", 1_800_000_000, [COMMENT], 1_800_003_600)


def test_a_closed_or_full_window_refuses_without_claiming_its_flush(dynamodb: tuple[DynamoWindows, Stubber]) -> None:
    windows, stubber = dynamodb
    cancelled(stubber, "ConditionalCheckFailed", "None")
    # The window is sealed (no later batch lands before this one); no claim stubbed: a claim would fail
    stubber.add_response("update_item", {}, {**SEAL, "Key": {"PK": "Pace:art#i1", "SK": "Window:001800000000"}})

    assert windows.append("art#i1", 1_800_000_000, [COMMENT], 1_800_003_600) is Appended.REFUSED


def test_a_retried_batch_already_held_still_claims_an_unclaimed_flush(
    dynamodb: tuple[DynamoWindows, Stubber],
) -> None:
    windows, stubber = dynamodb
    cancelled(stubber, "None", "ConditionalCheckFailed")  # its item is there: the first attempt committed
    stubber.add_response("update_item", {})  # and died before claiming: this attempt sends the flush

    assert windows.append("art#i1", 1_800_000_000, [COMMENT], 1_800_003_600) is Appended.FIRST


def test_a_batch_bigger_than_a_window_is_refused_unwritten(dynamodb: tuple[DynamoWindows, Stubber]) -> None:
    windows, _ = dynamodb
    big = [COMMENT.model_copy(update={"comment_id": f"c{n}", "text": "x" * 2_000}) for n in range(100)]

    assert windows.append("art#i1", 1_800_000_000, big, 1_800_003_600) is Appended.REFUSED
