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


@cache
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
