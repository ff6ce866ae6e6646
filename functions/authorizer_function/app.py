"""WebSocket ``$connect`` → Lambda REQUEST authorizer: the connection acts as the user its token names."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerRequestEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap
from roomcast.auth import verify_claims
from roomcast.edges.authorizer import authorize
from roomcast.settings import AuthorizerSettings

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = AuthorizerSettings.from_env()
    decision = authorize(
        APIGatewayAuthorizerRequestEvent(event),
        lambda token: verify_claims(
            token, bootstrap.signing_secrets(settings), max_lifetime_seconds=settings.token_max_lifetime_seconds
        ),
        bootstrap.tokens(settings.table_name).spend,
        settings.token_single_use,
    )
    if decision.refused is not None:
        logger.info("connection refused", extra={"reason": decision.refused})
    return decision.policy
