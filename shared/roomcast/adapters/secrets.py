"""The token signing key, from Secrets Manager through Powertools' cached provider."""

from __future__ import annotations

from typing import Any

# Secrets Manager is read at most once per warm container and 5 minutes: a rotated key is
# picked up quickly without a call on every connection.
SECRET_MAX_AGE_SECONDS = 300


def secrets_provider(client: Any) -> Any:
    """A provider of our own (not Powertools' process-wide default), so a reset forgets it with its client."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)


def signing_secret(provider: Any, secret_arn: str) -> str:
    """The secret's string; ``roomcast.auth`` refuses an empty one."""
    return str(provider.get(secret_arn, max_age=SECRET_MAX_AGE_SECONDS) or "")
