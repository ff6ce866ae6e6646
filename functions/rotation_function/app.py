"""Secrets Manager rotation of the token signing key (JwtSecret), on the template's schedule."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from roomcast import bootstrap

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    logger.info("rotation step", extra={"step": event.get("Step"), "version": event.get("ClientRequestToken")})
    bootstrap.rotate_signing_key(event["SecretId"], event["ClientRequestToken"], event["Step"])
