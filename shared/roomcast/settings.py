"""The environment a function runs in, parsed once into a model."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Environment variables that template.yaml gives the functions."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    idempotency_table_name: str = Field(default="", alias="IDEMPOTENCY_TABLE_NAME")
    dead_letter_queue_url: str = Field(default="", alias="DEAD_LETTER_QUEUE_URL")
    # How long a command id is remembered; producers retrying later than this are new commands.
    idempotency_ttl_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    # Secrets Manager secret with the key that signs connection tokens; only the authorizer reads it.
    jwt_secret_arn: str = Field(default="", alias="JWT_SECRET_ARN")
    # The @connections endpoint: https://{api}.execute-api.{region}.amazonaws.com/{stage}, or the local gateway.
    websocket_callback_url: str = Field(default="", alias="WEBSOCKET_CALLBACK_URL")
    # API Gateway closes a connection after 2 hours; items outlive it a little, then TTL removes them.
    connection_ttl_seconds: int = Field(default=7_500, alias="CONNECTION_TTL_SECONDS", ge=1)
    frame_limit_bytes: int = Field(default=32 * 1024, alias="FRAME_LIMIT_BYTES", ge=1024)
    # Posts in flight at once per invocation: bounded, because @connections shares the account's
    # 10,000 requests/s API Gateway quota with every other API.
    fanout_max_workers: int = Field(default=16, alias="FANOUT_MAX_WORKERS", ge=1, le=256)
    # Cleanup of a deleted room hands over to a new invocation when less than this is left.
    cleanup_margin_ms: int = Field(default=20_000, alias="CLEANUP_MARGIN_MS", ge=0)
    post_max_attempts: int = Field(default=4, alias="POST_MAX_ATTEMPTS", ge=1, le=10)


@cache
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
