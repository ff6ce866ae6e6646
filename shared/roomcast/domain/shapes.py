"""The base of every public shape: camelCase on the wire, snake_case in Python, immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class Shape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


def describe(error: ValidationError) -> str:
    """A one-line reason naming each bad field, for DLQ attributes and error frames."""
    parts = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(p) for p in detail["loc"]) or "body"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)
