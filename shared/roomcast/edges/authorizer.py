"""The $connect authorizer's edge: a token in, an Allow or Deny policy on exactly this $connect out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponseWebSocket,
    parse_api_gateway_arn,
)

from roomcast.domain.errors import Unauthorized
from roomcast.domain.tokens import TokenClaims

# True the first time a token id is spent, False on any later use (adapters/dynamodb/tokens.py).
Spend = Callable[[str, int], bool]


@dataclass(frozen=True)
class Decision:
    policy: dict[str, Any]
    refused: str | None = None  # the reason, safe to log: never the token


def authorize(
    event: APIGatewayAuthorizerRequestEvent,
    verify: Callable[[str | None], str | TokenClaims],
    spend: Spend | None = None,
    single_use_required: bool = False,
) -> Decision:
    """``verify`` turns a token into its claims (or the user id it was issued to), or raises Unauthorized.

    A token carrying an id (``jti``) opens one connection only: ``spend`` records it; with
    ``single_use_required`` a token without one is refused.
    """
    # Browsers cannot set headers on a WebSocket upgrade, so the token rides in the query string.
    # With IdentitySource route.request.querystring.token, API Gateway answers 401 itself when it
    # is missing and never calls us; the check still runs here for the local gateway, which has none.
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        user_id = _admitted(verify(token), spend, single_use_required)
    except Unauthorized as refused:
        # The reason only: the token is a bearer credential and stays out of the logs.
        return Decision(_policy(event.method_arn, "anonymous", allow=False), refused.message)
    return Decision(_policy(event.method_arn, user_id, allow=True, context={"userId": user_id}))


def _admitted(claims: str | TokenClaims, spend: Spend | None, single_use_required: bool) -> str:
    if isinstance(claims, str):
        claims = TokenClaims(user_id=claims, expires_at=0)
    if claims.token_id is None:
        if single_use_required:
            raise Unauthorized("single-use token required (no jti)")
        return claims.user_id
    if spend is None:
        # Fail closed: a token meant for one use must not be reusable where nothing records it.
        raise Unauthorized("single-use tokens are not accepted here")
    if not spend(claims.token_id, claims.expires_at):
        raise Unauthorized("token already used")
    return claims.user_id


def _policy(method_arn: str, principal_id: str, allow: bool, context: dict[str, str] | None = None) -> dict[str, Any]:
    """Allow or Deny on exactly this $connect (API Gateway turns a Deny into 403)."""
    arn = parse_api_gateway_arn(method_arn, is_websocket_authorizer=True)
    # Built by hand rather than with from_route_arn, which drops the ARN's partition.
    policy = APIGatewayAuthorizerResponseWebSocket(
        principal_id, arn.region, arn.aws_account_id, arn.api_id, arn.stage, context=context, partition=arn.partition
    )
    if allow:
        policy.allow_route(arn.resource)
    else:
        policy.deny_route(arn.resource)
    return policy.asdict()
