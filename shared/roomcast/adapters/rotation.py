"""Rotation of the token signing key: the four steps Secrets Manager asks a rotation function for.

The key is only ever read from the secret (the authorizer, token issuers), so there is nothing to set
elsewhere: createSecret stages a new random key as AWSPENDING, finishSecret makes it AWSCURRENT and
Secrets Manager leaves the old one as AWSPREVIOUS, which the authorizer still accepts (secrets.py).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

KEY_LENGTH = 64
# Alphanumerics only, as the template's GenerateSecretString: the string is the key, verbatim.
_ALPHABET = string.ascii_letters + string.digits
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(RuntimeError):
    """A rotation Secrets Manager should not go on with: it retries the step, then marks the rotation failed."""


def new_key() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH))


def rotate(client: Any, secret_arn: str, token: str, step: str) -> None:
    """One step of the rotation that ``token`` (the new version's id) names."""
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {step!r}")
    stages = client.describe_secret(SecretId=secret_arn).get("VersionIdsToStages", {})
    if step == "createSecret" and token not in stages:
        # Secrets Manager stages the version id before this step; staging it here does the same.
        _create(client, secret_arn, token)
        return
    if token not in stages:
        raise RotationError(f"version {token} is not a version of the secret")
    if "AWSCURRENT" in stages[token]:
        return  # this version is already the key: a retried or repeated step
    if "AWSPENDING" not in stages[token]:
        raise RotationError(f"version {token} is not pending rotation")
    if step == "createSecret":
        _create(client, secret_arn, token)
    elif step == "testSecret":
        value = client.get_secret_value(SecretId=secret_arn, VersionId=token, VersionStage="AWSPENDING")
        if len(value.get("SecretString") or "") < 32:
            raise RotationError("the pending key is too short to sign tokens")
    elif step == "finishSecret":
        current = next(version for version, names in stages.items() if "AWSCURRENT" in names)
        client.update_secret_version_stage(
            SecretId=secret_arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )


def _create(client: Any, secret_arn: str, token: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client.get_secret_value(SecretId=secret_arn, VersionId=token, VersionStage="AWSPENDING")
        return  # staged by an earlier try of this step
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    client.put_secret_value(
        SecretId=secret_arn, ClientRequestToken=token, SecretString=new_key(), VersionStages=["AWSPENDING"]
    )
