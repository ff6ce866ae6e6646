"""A DynamoDB Streams event source mapping's settings and what it reads: the template's properties,
Lambda's filter patterns (``invocation-eventfiltering.html``), and records shaped as Lambda shapes them."""

from __future__ import annotations

import base64
import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roomcast_local.template import Provisioned

_MISSING = object()

Record = dict[str, Any]
Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class StreamSourceConfig:
    batch_size: int = 100
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1 = infinite, as Lambda's default
    maximum_record_age_seconds: int = -1  # -1 = infinite
    report_batch_item_failures: bool = False
    filter_patterns: tuple[dict[str, Any], ...] = ()  # parsed JSON patterns; empty = no filtering
    on_failure_queue_url: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")

    @classmethod
    def from_template(cls, event_properties: Mapping[str, Any], provisioned: Provisioned) -> StreamSourceConfig:
        """The settings of a SAM ``Type: DynamoDB`` event, from its Properties."""
        filters = event_properties.get("FilterCriteria", {}).get("Filters", [])
        on_failure = event_properties.get("DestinationConfig", {}).get("OnFailure")
        return cls(
            batch_size=int(event_properties.get("BatchSize", 100)),
            bisect_on_error=bool(event_properties.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=int(event_properties.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(event_properties.get("MaximumRecordAgeInSeconds", -1)),
            report_batch_item_failures="ReportBatchItemFailures" in event_properties.get("FunctionResponseTypes", []),
            filter_patterns=tuple(json.loads(f["Pattern"]) for f in filters),
            on_failure_queue_url=_on_failure_queue(on_failure, provisioned) if on_failure else None,
        )


def _on_failure_queue(on_failure: Mapping[str, Any], provisioned: Provisioned) -> str:
    """The URL of the stack's queue that an OnFailure destination (an SQS ARN) names."""
    if on_failure.get("Type", "SQS") != "SQS":
        raise ValueError(f"only SQS on-failure destinations run locally, not {on_failure['Type']}")
    arn = provisioned.resolve(on_failure["Destination"])
    for (logical, attribute), value in provisioned.attrs.items():
        if attribute == "Arn" and value == arn and logical in provisioned.refs:
            return provisioned.refs[logical]
    raise ValueError(f"on-failure destination {arn} is not a queue of this stack")


# ---- filter patterns ---------------------------------------------------------------------


def compile_pattern(pattern: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """A Lambda/EventBridge filter pattern as a predicate over one event record.

    Supported: nested objects, arrays of exact values (strings, numbers, booleans, null), and the
    operators ``prefix``, ``suffix``, ``equals-ignore-case``, ``exists``, ``anything-but`` (values,
    or a ``prefix``/``suffix``) and ``numeric``. Anything else raises ValueError, as Lambda refuses
    such criteria when the mapping is created rather than when a record arrives.
    """
    if not isinstance(pattern, Mapping) or not pattern:
        raise ValueError(f"a filter pattern is a non-empty JSON object, not {pattern!r}")
    fields = [(key, _compile_field(rule)) for key, rule in pattern.items()]

    def matches(record: Mapping[str, Any]) -> bool:
        return all(match(record.get(key, _MISSING)) for key, match in fields)

    return matches


def _compile_field(rule: Any) -> Predicate:
    if isinstance(rule, Mapping):
        nested = compile_pattern(rule)
        # An absent object is matched as an empty one, so {"exists": false} below it still holds.
        return lambda value: nested(value if isinstance(value, Mapping) else {})
    if not isinstance(rule, list):
        raise ValueError(f"filter values are arrays or objects, not {rule!r}")
    alternatives = [_compile_value(item) for item in rule]

    def matches(value: Any) -> bool:
        # An array in the record matches when any of its elements does.
        candidates = value if isinstance(value, list) else [value]
        return any(alternative(c) for alternative in alternatives for c in candidates)

    return matches


def _compile_value(item: Any) -> Predicate:
    if not isinstance(item, Mapping):
        if isinstance(item, list):
            raise ValueError(f"nested arrays are not a filter value: {item!r}")
        return lambda value: _same(value, item)
    if len(item) != 1:
        raise ValueError(f"a filter operator object has one key: {item!r}")
    ((name, argument),) = item.items()
    if name == "exists" and isinstance(argument, bool):
        return lambda value: (value is not _MISSING) == argument
    if name == "anything-but":
        excluded = _compile_exclusion(argument)
        return lambda value: value is not _MISSING and not excluded(value)
    if name == "numeric":
        return _compile_numeric(argument)
    text = _TEXT_OPERATORS.get(name)
    if text is None or not isinstance(argument, str):
        raise ValueError(f"unsupported filter operator {item!r}")
    return lambda value: isinstance(value, str) and text(value, argument)


def _compile_exclusion(argument: Any) -> Predicate:
    """What ``anything-but`` excludes: exact values, or one text operator (``{"prefix": ...}``)."""
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in _TEXT_OPERATORS:
            raise ValueError(f"anything-but takes values or a prefix/suffix/equals-ignore-case, not {argument!r}")
        return _compile_value(argument)
    values = argument if isinstance(argument, list) else [argument]
    if not values or any(isinstance(v, Mapping | list) for v in values):
        raise ValueError(f"anything-but takes values or a prefix/suffix/equals-ignore-case, not {argument!r}")
    return _compile_field(values)


_TEXT_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "prefix": str.startswith,
    "suffix": str.endswith,
    "equals-ignore-case": lambda value, argument: value.casefold() == argument.casefold(),
}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compile_numeric(argument: Any) -> Predicate:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise ValueError(f"numeric takes [op, n] or [op, n, op, n], not {argument!r}")
    terms = list(zip(argument[::2], argument[1::2], strict=True))
    if not all(op in _COMPARISONS and _is_number(n) for op, n in terms):
        raise ValueError(f"invalid numeric filter {argument!r}")
    # DynamoDB's "N" values are strings in the record, so numeric never matches them (as in Lambda);
    # it applies to numbers such as dynamodb.ApproximateCreationDateTime or SizeBytes.
    return lambda value: _is_number(value) and all(_COMPARISONS[op](value, n) for op, n in terms)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, expected: Any) -> bool:
    if _is_number(value) and _is_number(expected):
        return bool(value == expected)
    return type(value) is type(expected) and value == expected


# ---- records -----------------------------------------------------------------------------


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> Record:
    """One record of a DynamoDB stream event, as Lambda shapes it from a GetRecords record."""
    shaped: Record = _as_json(record)
    # The API reference defines awsRegion as the region that served GetRecords: the stream's.
    # moto writes "us-east-1" whatever the table's region.
    shaped["awsRegion"] = stream_arn.split(":")[3]
    shaped["eventSourceARN"] = stream_arn
    return shaped


def _as_json(value: Any) -> Any:
    """Undo boto3's parsing: Lambda's event is the wire JSON, with epoch seconds and base64 binaries."""
    if isinstance(value, datetime):
        # Epoch seconds rounded down, as the Streams API documents it; Lambda's events carry a float.
        return float(math.floor(value.timestamp()))
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value


def is_unchanged(record: Record) -> bool:
    """A MODIFY that changed nothing: DynamoDB writes no stream record for it, moto does (put_item/update_item)."""
    change = record["dynamodb"]
    return record["eventName"] == "MODIFY" and "NewImage" in change and change.get("NewImage") == change.get("OldImage")


def sequence_of(record: Record) -> str:
    sequence: str = record["dynamodb"]["SequenceNumber"]
    return sequence
