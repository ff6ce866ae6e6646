"""moto 5.2.5's JSON answers (DynamoDB, DynamoDB Streams, SQS) without its model-driven serializer's per-value work.

moto 5.2.5 serializes every answer by walking the operation's output shape: for each member of each
structure it builds a picker context and tries up to six alias providers (each a new object, with
``xform_name`` on every candidate) before it finds the value. A Query of the 100 subscriptions of a
room is some 2,000 such look-ups; in the local stack's process, profiled under bench/e2e.py's
workload, this was the largest single cost of the DynamoDB requests (more than the operations'
own work).

Most answers of these services are already plain data: dicts whose keys are exactly the shape's
member names, lists, strings and numbers. For those the walk's outcome is known without the
pickers: each member's value is the dict's own entry, converted as moto converts it (``int`` for
integers, ``float`` for doubles, base64 for blobs, moto's own TimestampSerializer for timestamps),
members in the shape's order, ``None`` members left out, then ``json.dumps`` as moto calls it. So
the same body, byte for byte (tests/integration/test_fast_serialize.py compares every answer of
a workload against moto's own serializer). Anything else — model objects, a key that is not a
member (an alias the pickers might resolve), a member whose aliases could name another member,
an unexpected type, an error, an event stream, a service with response transformers — goes to
moto's serializer unchanged.

Applied with the fast local DynamoDB (fast_moto.apply_if_enabled, so ``ROOMCAST_FAST_MOTO=0`` runs
plain moto); ``apply()`` is idempotent, ``revert()`` undoes it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape, StructureShape
from moto import settings
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import (
    AttributePickerContext,
    JSONSerializer,
    TimestampSerializer,
    XFormedAttributePicker,
)

_saved: dict[str, Any] = {}
_TIMESTAMPS = TimestampSerializer(JSONSerializer.DEFAULT_TIMESTAMP_FORMAT)


class NotPlain(Exception):
    """The value is not one whose serialization is known without moto's pickers."""


@dataclass(frozen=True)
class _Plan:
    """A structure shape: its members in order, each with its serialized name and shape."""

    shape: StructureShape  # held, so that its id, the cache's key, is never another shape's
    members: tuple[tuple[str, str, Shape], ...]
    names: frozenset[str]
    safe: bool  # no member's picker aliases name another member: a dict's own entries are what moto picks
    by_key: dict[str, tuple[str, Shape]]


_plans: dict[int, _Plan] = {}


def _plan(shape: StructureShape) -> _Plan:
    plan = _plans.get(id(shape))
    if plan is None or plan.shape is not shape:
        names = frozenset(shape.members)
        picker = XFormedAttributePicker()
        safe = True
        for key, member in shape.members.items():
            member.parent = shape  # as moto's serializer sets it before picking
            context = AttributePickerContext(obj={}, key=key, shape=member)
            if any(alias != key and alias in names for alias in picker.get_possible_keys(context)):
                safe = False
        members = tuple((key, member.serialization.get("name", key), member) for key, member in shape.members.items())
        by_key = {key: (name, member) for key, name, member in members}
        plan = _plans[id(shape)] = _Plan(shape, members, names, safe, by_key)
    return plan


def _structure(value: Any, shape: StructureShape) -> dict[str, Any]:
    if shape.is_document_type:
        return value
    if type(value) is not dict:
        raise NotPlain
    plan = _plan(shape)
    if not plan.safe or not value.keys() <= plan.names:
        raise NotPlain
    if len(value) == 1:  # an AttributeValue, most often: one member, so the shape's order is the dict's
        ((key, item),) = value.items()
        if item is None:
            return {}
        name, member = plan.by_key[key]
        return {name: _value(item, member)}
    out: dict[str, Any] = {}
    for key, name, member in plan.members:
        item = value.get(key)
        if item is not None:
            out[name] = _value(item, member)
    return out


def _list(value: Any, shape: Any) -> list[Any]:
    member = shape.member
    # moto keeps an item under the member's serialized name only when that is the member's own name.
    if type(value) is not list or member.serialization.get("name", member.name) != member.name:
        raise NotPlain
    return [_value(item, member) for item in value]


def _map(value: Any, shape: Any) -> dict[Any, Any]:
    member = shape.value
    if type(value) is not dict or "name" in member.serialization:
        raise NotPlain
    return {key: _value(item, member) for key, item in value.items()}


def _string(value: Any, shape: Shape) -> str:
    if type(value) is not str:
        raise NotPlain
    return value


def _integer(value: Any, shape: Shape) -> int:
    if type(value) is not int:
        raise NotPlain
    return value


def _double(value: Any, shape: Shape) -> float:
    if type(value) not in (int, float):
        raise NotPlain
    return float(value)


def _boolean(value: Any, shape: Shape) -> bool:
    if type(value) is not bool:
        raise NotPlain
    return value


def _blob(value: Any, shape: Shape) -> str:
    if type(value) is str:
        value = value.encode("utf-8")
    elif type(value) is not bytes:
        raise NotPlain
    return base64.b64encode(value).strip().decode("utf-8")


def _timestamp(value: Any, shape: Shape) -> Any:
    holder: dict[str, Any] = {}
    _TIMESTAMPS.serialize(holder, value, shape, "value")
    return holder["value"]


_BY_TYPE: dict[str, Callable[[Any, Any], Any]] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "float": _double,
    "double": _double,
    "boolean": _boolean,
    "blob": _blob,
    "timestamp": _timestamp,
}


def _value(value: Any, shape: Shape) -> Any:
    convert = _BY_TYPE.get(shape.type_name)
    if convert is None or value is None:
        raise NotPlain
    return convert(value, shape)


def plain_body(result: Any, context: ActionContext) -> str:
    """The JSON body moto's JSONSerializer writes for ``result``, or NotPlain."""
    operation = context.operation_model
    if (
        context.serializer_class is not JSONSerializer
        or isinstance(result, Exception)
        or operation.has_event_stream_output
        or getattr(context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
    ):
        raise NotPlain
    shape = operation.output_shape
    body = {} if shape is None else _structure(result, shape)
    return json.dumps(body, indent=4 if settings.PRETTIFY_RESPONSES else None)


def _content_type(context: ActionContext) -> str:
    service = context.operation_model.service_model
    if service.protocol == "json":
        return JSONSerializer.APPLICATION_AMZ_JSON.format(version=service.metadata.get("jsonVersion", "1.0"))
    return JSONSerializer.CONTENT_TYPE


def _execute_result(self: ActionResult, context: ActionContext) -> Any:
    # Every ActionResult ends here, PaginatedResult after its paging: only the serialization is replaced.
    try:
        body = plain_body(self.result, context)
    except NotPlain:
        return _saved["execute_result"](self, context)
    status = context.operation_model.http.get("responseCode", JSONSerializer.DEFAULT_RESPONSE_CODE)
    return status, {"Content-Type": _content_type(context)}, body


def apply() -> None:
    if _saved:
        return
    _saved["execute_result"] = ActionResult.__dict__["execute_result"]
    ActionResult.execute_result = _execute_result  # type: ignore[method-assign]


def revert() -> None:
    if _saved:
        ActionResult.execute_result = _saved.pop("execute_result")  # type: ignore[method-assign]
