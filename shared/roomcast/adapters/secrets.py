"""The token signing key, from Secrets Manager through Powertools' cached provider.

During a rotation the key that signed a client's token may already be the previous version
(``AWSPREVIOUS``); it is accepted too, so no token issued in the last minutes is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Secrets Manager is read at most once per warm container and 5 minutes: a rotated key is
# picked up quickly without a call on every connection.
SECRET_MAX_AGE_SECONDS = 300
CURRENT_STAGE = "AWSCURRENT"
PREVIOUS_STAGE = "AWSPREVIOUS"


def secrets_provider(client: Any) -> Any:
    """A provider of our own (not Powertools' process-wide default), so a reset forgets it with its client."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)


def signing_secret(provider: Any, secret_arn: str) -> str:
    """The secret's string; ``roomcast.auth`` refuses an empty one."""
    # The stage named: moto 5.2.5 answers a request without one with the version that was current
    # before the last rotation, where AWS answers AWSCURRENT.
    return str(provider.get(secret_arn, max_age=SECRET_MAX_AGE_SECONDS, VersionStage=CURRENT_STAGE) or "")


class SigningKeys:
    """The current key, then the previous one while it exists; both cached for SECRET_MAX_AGE_SECONDS."""

    def __init__(self, client: Any, secret_arn: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._current = secrets_provider(client)
        self._secret_arn = secret_arn
        self._clock = clock
        self._previous: tuple[float, str | None] | None = None

    def keys(self) -> tuple[str, ...]:
        current = signing_secret(self._current, self._secret_arn)
        previous = self._previous_key()
        return (current, previous) if previous and previous != current else (current,)

    def _previous_key(self) -> str | None:
        now = self._clock()
        # Cached even when absent: a secret never rotated has no previous version, and asking
        # again on every connection would double the authorizer's calls to Secrets Manager.
        if self._previous is None or now - self._previous[0] >= SECRET_MAX_AGE_SECONDS:
            self._previous = (now, self._fetch_previous())
        return self._previous[1]

    def _fetch_previous(self) -> str | None:
        from botocore.exceptions import ClientError

        try:
            value = self._client.get_secret_value(SecretId=self._secret_arn, VersionStage=PREVIOUS_STAGE)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            return None
        return str(value.get("SecretString") or "") or None
