"""The authorizer's edge admits a token's claims: single-use tokens are spent once, or refused where they cannot be."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerRequestEvent

from roomcast.domain.tokens import TokenClaims
from roomcast.edges.authorizer import Spend, authorize

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/$connect"


def event() -> APIGatewayAuthorizerRequestEvent:
    return APIGatewayAuthorizerRequestEvent({"methodArn": METHOD_ARN, "queryStringParameters": {"token": "t"}})


def verifier(claims: TokenClaims) -> Callable[[str | None], TokenClaims]:
    return lambda token: claims


def ledger() -> tuple[Spend, list[tuple[str, int]]]:
    spent: list[tuple[str, int]] = []

    def spend(token_id: str, expires_at: int) -> bool:
        if any(token_id == seen for seen, _ in spent):
            return False
        spent.append((token_id, expires_at))
        return True

    return spend, spent


def test_a_token_id_is_spent_once() -> None:
    spend, spent = ledger()
    claims = TokenClaims(user_id="bob", expires_at=1_800_000_000, token_id="01JABCDEFGHJKMNPQRSTVWXYZ0")

    first = authorize(event(), verifier(claims), spend)
    second = authorize(event(), verifier(claims), spend)

    assert (first.refused, first.policy["principalId"]) == (None, "bob")
    assert (second.refused, second.policy["principalId"]) == ("token already used", "anonymous")
    assert spent == [("01JABCDEFGHJKMNPQRSTVWXYZ0", 1_800_000_000)]


def test_a_single_use_token_is_refused_where_nothing_records_it() -> None:
    claims = TokenClaims(user_id="bob", expires_at=1_800_000_000, token_id="01JABCDEFGHJKMNPQRSTVWXYZ0")
    assert authorize(event(), verifier(claims)).refused == "single-use tokens are not accepted here"


@pytest.mark.parametrize("required", [False, True])
def test_a_reusable_token_when_single_use_is_required(required: bool) -> None:
    spend, spent = ledger()
    decision = authorize(event(), verifier(TokenClaims(user_id="bob", expires_at=0)), spend, required)
    assert decision.refused == ("single-use token required (no jti)" if required else None)
    assert spent == []


def test_a_verifier_that_returns_the_user_id_still_works() -> None:
    assert authorize(event(), lambda token: "alice").policy["context"] == {"userId": "alice"}
