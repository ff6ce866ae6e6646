"""DynamoWindows.append's answers to a cancelled transaction, on a real boto3 DynamoDB client (the resource's,
as the adapter uses) with botocore's Stubber: the cases moto does not produce (a conflict, a retried batch
whose first attempt died before its claim or its send, a flush copy racing another's lease) and the refusal
that must not claim. The transaction's actions: the batch's ``Held:`` marker, the head, the batch item."""

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
    cancelled(stubber, "None", code, "None")

    with pytest.raises(raised, match=code if raised is TransientError else "TransactionCanceled"):
        windows.append("art#i1", 1_800_000_000, [COMMENT], 1_800_003_600)


def test_a_closed_or_full_window_refuses_without_claiming_its_flush(dynamodb: tuple[DynamoWindows, Stubber]) -> None:
    windows, stubber = dynamodb
    cancelled(stubber, "None", "ConditionalCheckFailed", "None")
    # The window is sealed (no later batch lands before this one); no claim stubbed: a claim would fail
    stubber.add_response("update_item", {}, {**SEAL, "Key": {"PK": "Pace:art#i1", "SK": "Window:001800000000"}})

    assert windows.append("art#i1", 1_800_000_000, [COMMENT], 1_800_003_600) is Appended.REFUSED


def test_a_batch_held_before_markers_existed_still_claims_an_unclaimed_flush(
    dynamodb: tuple[DynamoWindows, Stubber],
) -> None:
    windows, stubber = dynamodb
    cancelled(stubber, "None", "None", "ConditionalCheckFailed")  # its item is there, no marker: written earlier
    stubber.add_response("update_item", {})  # and died before claiming: this attempt sends the flush

    assert windows.append("art#i1", 1_800_000_000, [COMMENT], 1_800_003_600) is Appended.FIRST


def test_a_batch_bigger_than_a_window_is_refused_unwritten(dynamodb: tuple[DynamoWindows, Stubber]) -> None:
    windows, _ = dynamodb
    big = [COMMENT.model_copy(update={"comment_id": f"c{n}", "text": "x" * 2_000}) for n in range(100)]

    assert windows.append("art#i1", 1_800_000_000, big, 1_800_003_600) is Appended.REFUSED


@pytest.mark.parametrize("head", ["None", "ConditionalCheckFailed"])
def test_a_retried_batch_is_told_it_is_held_even_when_its_window_closed(
    dynamodb: tuple[DynamoWindows, Stubber], head: str
) -> None:
    """Its marker's condition wins over the head's: a retry is never appended to a second window."""
    windows, stubber = dynamodb
    cancelled(stubber, "ConditionalCheckFailed", head, "None")  # no claim stubbed

    assert windows.append("art#i1", 1_800_000_003, [COMMENT], 1_800_003_603) is Appended.HELD


START = 1_800_000_000


@pytest.mark.parametrize(
    ("head", "unsent"),
    [
        ({"Scheduled": {"BOOL": True}}, (START, 0)),  # claimed, then the send failed or the invocation died
        ({"Scheduled": {"BOOL": True}, "Closed": {"N": "1"}, "Seconds": {"N": "3"}}, (START, 3)),  # and the fallback
        # died after its close; its own w given back (the sixth review's M1)
        ({"Scheduled": {"BOOL": True}, "Sent": {"BOOL": True}}, None),
        ({"Scheduled": {"BOOL": True}, "Closed": {"N": "1"}, "Handed": {"BOOL": True}}, None),
    ],
)
def test_a_retry_finds_whether_its_windows_flush_was_sent(
    dynamodb: tuple[DynamoWindows, Stubber], head: dict[str, object], unsent: tuple[int, int] | None
) -> None:
    windows, stubber = dynamodb
    stubber.add_response("get_item", {"Item": {"PK": {"S": "Pace:art#i1"}, "Start": {"N": str(START)}}})
    stubber.add_response("get_item", {"Item": {"PK": {"S": "Pace:art#i1"}, **head}})

    assert windows.unsent("art#i1", [COMMENT]) == unsent


def test_a_retry_claims_the_flush_its_earlier_attempt_did_not(dynamodb: tuple[DynamoWindows, Stubber]) -> None:
    windows, stubber = dynamodb
    stubber.add_response("get_item", {"Item": {"PK": {"S": "Pace:art#i1"}, "Start": {"N": str(START)}}})
    stubber.add_response("get_item", {"Item": {"PK": {"S": "Pace:art#i1"}, "Appends": {"N": "1"}}})
    stubber.add_response("update_item", {})  # the claim

    assert windows.unsent("art#i1", [COMMENT]) == (START, 0)


def condition_failed(stubber: Stubber) -> None:
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException")


def test_a_flush_copy_finding_the_window_closed_within_anothers_lease_gets_no_comments(
    dynamodb: tuple[DynamoWindows, Stubber],
) -> None:
    windows, stubber = dynamodb
    condition_failed(stubber)  # the close: closed before
    condition_failed(stubber)  # the take-over: the other flusher's lease is live
    stubber.add_response("get_item", {"Item": {"PK": {"S": "Pace:art#i1"}, "Closed": {"N": "1"}}})

    closed = windows.close("art#i1", START)  # no Query stubbed: reading the comments would fail the test

    assert closed is not None and (closed.already_closed, closed.handed, closed.leased) == (True, False, True)
    assert closed.comments == []


def test_a_flush_copy_finding_the_window_handed_over_reads_no_batch(dynamodb: tuple[DynamoWindows, Stubber]) -> None:
    windows, stubber = dynamodb
    condition_failed(stubber)  # the close: closed before
    condition_failed(stubber)  # the take-over: handed over
    stubber.add_response(
        "get_item", {"Item": {"PK": {"S": "Pace:art#i1"}, "Closed": {"N": "1"}, "Handed": {"BOOL": True}}}
    )

    closed = windows.close("art#i1", START)  # no Query stubbed: reading the comments would fail the test

    assert closed is not None and (closed.handed, closed.comments) == (True, [])


@pytest.mark.parametrize(
    ("head", "taken", "appended"),
    [
        ({"Scheduled": {"N": "5"}}, True, Appended.FIRST),  # its claimer died before the send: taken over
        ({"Scheduled": {"N": "5"}}, False, Appended.JOINED),  # another writer took it over first
        ({"Scheduled": {"BOOL": True}}, True, Appended.FIRST),  # claimed by the version before claim times
        ({"Scheduled": {"N": "5"}, "Sent": {"BOOL": True}}, None, Appended.JOINED),
        ({"Scheduled": {"N": "5"}, "Closed": {"N": "1"}}, None, Appended.JOINED),
    ],
)
def test_a_claim_never_followed_by_its_send_is_taken_over_once(
    dynamodb: tuple[DynamoWindows, Stubber], head: dict[str, object], taken: bool | None, appended: Appended
) -> None:
    windows, stubber = dynamodb
    stubber.add_response("transact_write_items", {})
    stubber.add_client_error(
        "update_item",
        service_error_code="ConditionalCheckFailedException",
        modeled_fields={"Item": {"PK": {"S": "Pace:art#i1"}, **head}},
    )
    if taken is not None:  # the take-over, conditioned on the claim the refusal returned
        if taken:
            stubber.add_response("update_item", {})
        else:
            condition_failed(stubber)

    assert windows.append("art#i1", START, [COMMENT], START + 3600) is appended
