"""DynamoDB requests, and the capacity DynamoDB would charge for them, counted through botocore's event hooks.

Requests are counted on ``before-call`` (once per API call, retries excluded). Capacity is computed
from the wire request and response, per DynamoDB's published rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html and
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):

- a read: 1 unit per 4 KB of the item, rounded up, at least 1; eventually consistent reads half that;
  BatchGetItem rounds each item separately; a Query adds up the sizes of the items it reads (for an
  index, of the index entries) and rounds the total; a read that finds nothing still costs the minimum;
- a write: 1 unit per KB of the larger of the old and new item, at least 1; a delete, of the item deleted;
- TransactWriteItems: 2 units per KB for every action, ConditionCheck included (AWS documents "twice";
  that a ConditionCheck is billed as a write was measured on DynamoDB by
  https://martinhicks.dev/articles/what-a-conditional-dynamodb-transaction-costs);
- a write that adds, changes or removes an index entry also writes the index: 1 unit per KB of the
  projected entry. The documentation does not say whether that index write is doubled inside a
  transaction; this meter counts it once, and keeps it apart (``index_wcu``) so the model can tell.

Why not ``ConsumedCapacity``: moto 5.2.5 answers constants (1.0 per PutItem, DeleteItem, UpdateItem, Query
and per table of a BatchWriteItem, 0.5 per GetItem whatever its consistency, 1 per key of a BatchGetItem,
an empty list for TransactWriteItems; moto/dynamodb/responses.py). The meter still asks for it
(``ReturnConsumedCapacity=TOTAL``) and keeps moto's sum in ``reported``, so reports can show the gap.

The hooks are added to ``botocore.handlers.BUILTIN_HANDLERS``, which every new botocore session registers
on every client's ``meta.events`` (it is how moto's own mock intercepts calls): Powertools' idempotency
layer builds its own boto3 session, and a hook on one client would miss its requests.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers

from roomcast_local import template

Wire = Mapping[str, Any]  # an item or key in DynamoDB's JSON: {"PK": {"S": "Room:art"}, ...}

_CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "DeleteItem",
        "UpdateItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
_REQUEST = "bench.dynamodb.request"
_STARTED = "bench.dynamodb.started"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    keys: tuple[str, ...]  # hash key first
    projected: frozenset[str] | None  # non-key attributes projected; None: ALL


@dataclass(frozen=True)
class TableSpec:
    name: str
    keys: tuple[str, ...]  # hash key first
    indexes: tuple[IndexSpec, ...] = ()


def table_specs(provisioned: template.Provisioned) -> dict[str, TableSpec]:
    """Key schema and indexes of every table of template.yaml, by physical name."""
    specs = {}
    for logical, resource in template.resources(template.load(), "AWS::DynamoDB::Table").items():
        properties = resource["Properties"]
        indexes = []
        for index in properties.get("GlobalSecondaryIndexes", []):
            projection = index.get("Projection", {})
            kind = projection.get("ProjectionType", "ALL")
            projected = None if kind == "ALL" else frozenset(projection.get("NonKeyAttributes", []))
            indexes.append(IndexSpec(index["IndexName"], _key_names(index["KeySchema"]), projected))
        name = provisioned.refs[logical]
        specs[name] = TableSpec(name, _key_names(properties["KeySchema"]), tuple(indexes))
    return specs


def _key_names(schema: list[dict[str, str]]) -> tuple[str, ...]:
    return tuple(k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"] != "HASH"))


# ---- sizes and units -------------------------------------------------------------------------


def item_size(item: Wire | None) -> int:
    """DynamoDB's size of an item: attribute names plus values, in bytes."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def attribute_size(value: Wire) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind == "B":
        return len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def _number_size(text: str) -> int:
    """About one byte per two significant digits, plus one."""
    mantissa = re.split("[eE]", text.lstrip("+-"))[0].replace(".", "")
    significant = mantissa.strip("0") or "0"
    return (len(significant) + 1) // 2 + 1


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


# ---- what one block of code used ---------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    table: str
    index: str | None  # None: the table itself
    key: str  # the partition key's value


@dataclass
class Read:
    """One read request as charged: how many items (or index entries) and bytes it read."""

    operation: str
    partition: Partition
    items: int
    size: int
    consistent: bool
    units: float


@dataclass
class Usage:
    requests: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # wall time, by API
    rcu: float = 0.0
    wcu: float = 0.0  # table writes
    index_wcu: float = 0.0  # index writes a table write caused
    reported: float = 0.0  # the sum of the backend's own ConsumedCapacity answers
    unknown_sizes: int = 0  # writes whose old item this meter never saw (charged as under 1 KB)
    by_partition: dict[Partition, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))
    reads: list[Read] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_wcu(self) -> float:
        return self.wcu + self.index_wcu

    def describe(self) -> str:
        """The requests by API, in the order first made: "BatchGetItem 1 + TransactWriteItems 1"."""
        return " + ".join(f"{operation} {count}" for operation, count in self.requests.items()) or "none"


class Meter:
    """Meters every DynamoDB call of this process while active; ``measure()`` scopes a figure.

    It remembers every item it sees written or read, so that a later delete, overwrite or
    ConditionCheck can be charged by the item's real size, as DynamoDB charges it.
    """

    def __init__(self, tables: Mapping[str, TableSpec]) -> None:
        self.tables = dict(tables)
        self.usage = Usage()
        self._items: dict[tuple[str, str], Wire] = {}
        self._lock = threading.RLock()

    @contextmanager
    def active(self) -> Iterator[Meter]:
        global _ACTIVE
        install()
        if _ACTIVE is not None:
            raise RuntimeError("another meter is already active")
        _ACTIVE = self
        try:
            yield self
        finally:
            _ACTIVE = None

    @contextmanager
    def measure(self) -> Iterator[Usage]:
        """A fresh Usage for the block; what runs outside any block is metered too, and discarded."""
        with self._lock:
            outer, self.usage = self.usage, Usage()
            usage = self.usage
        try:
            yield usage
        finally:
            with self._lock:
                self.usage = outer

    # ---- recording ---------------------------------------------------------------------------

    def record(self, operation: str, request: Wire, response: Wire, ok: bool, seconds: float = 0.0) -> None:
        with self._lock:
            self.usage.requests[operation] += 1
            self.usage.seconds[operation] += seconds
            self.usage.reported += _reported_units(response.get("ConsumedCapacity"))
            charge = _CHARGES.get(operation)
            if charge is not None:
                charge(self, request, response, ok)

    def _get_item(self, request: Wire, response: Wire, ok: bool) -> None:
        table, item = request["TableName"], response.get("Item")
        consistent = bool(request.get("ConsistentRead", False))
        size = item_size(item)
        self._read("GetItem", table, None, self._hash_value(table, request["Key"]), 1 if item else 0, size, consistent)
        if item:
            self._remember(table, item)

    def _batch_get_item(self, request: Wire, response: Wire, ok: bool) -> None:
        for table, wanted in request["RequestItems"].items():
            consistent = bool(wanted.get("ConsistentRead", False))
            found = {self._key_id(table, item): item for item in response.get("Responses", {}).get(table, [])}
            unprocessed = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            skipped = {self._key_id(table, key) for key in unprocessed}
            for key in wanted["Keys"]:
                key_id = self._key_id(table, key)
                if key_id in skipped:
                    continue
                item = found.get(key_id)
                # Each item of a batch is rounded up on its own, as a GetItem would be.
                self._read(
                    "BatchGetItem",
                    table,
                    None,
                    self._hash_value(table, key),
                    1 if item else 0,
                    item_size(item),
                    consistent,
                )
                if item:
                    self._remember(table, item)

    def _query(self, request: Wire, response: Wire, ok: bool) -> None:
        table, index_name = request["TableName"], request.get("IndexName")
        index = self._index(table, index_name)
        items = response.get("Items", [])
        projected_request = "ProjectionExpression" in request or request.get("Select") in (
            "SPECIFIC_ATTRIBUTES",
            "COUNT",
        )
        size = 0
        for returned in items:
            # A projection trims the answer, not the bill: the whole item (index entry) is read.
            full = (self._recall(table, returned) or returned) if projected_request else returned
            size += item_size(_projection(full, self.tables.get(table), index))
            if index is None and not projected_request:
                self._remember(table, returned)
        key = _key_condition_value(request, index.keys[0] if index else self._hash_name(table))
        self._read("Query", table, index_name, key, len(items), size, bool(request.get("ConsistentRead", False)))

    def _put_item(self, request: Wire, response: Wire, ok: bool) -> None:
        self._write_put(request["TableName"], request["Item"], factor=1, ok=ok)

    def _delete_item(self, request: Wire, response: Wire, ok: bool) -> None:
        self._write_delete(request["TableName"], request["Key"], factor=1, ok=ok, old=response.get("Attributes"))

    def _update_item(self, request: Wire, response: Wire, ok: bool) -> None:
        table, key = request["TableName"], request["Key"]
        old = self._recall(table, key)
        # UPDATED_NEW returns only the changed attributes: laid over the old item, that is the new one.
        new = {**(old or key), **response.get("Attributes", {})}
        self._charge_write(table, key, write_units(max(item_size(old), item_size(new))))
        self._index_writes(table, old, new)
        if ok:
            self._remember(table, new)

    def _batch_write_item(self, request: Wire, response: Wire, ok: bool) -> None:
        for table, writes in request["RequestItems"].items():
            unprocessed = {json.dumps(w, sort_keys=True) for w in response.get("UnprocessedItems", {}).get(table, [])}
            for write in writes:
                if json.dumps(write, sort_keys=True) in unprocessed:
                    continue
                if "PutRequest" in write:
                    self._write_put(table, write["PutRequest"]["Item"], factor=1, ok=ok)
                else:
                    self._write_delete(table, write["DeleteRequest"]["Key"], factor=1, ok=ok)

    def _transact_write_items(self, request: Wire, response: Wire, ok: bool) -> None:
        if not ok:
            return  # not charged here: a cancelled transaction is outside what the benchmarks run
        for action in request["TransactItems"]:
            ((kind, body),) = action.items()
            table = body["TableName"]
            if kind == "Put":
                self._write_put(table, body["Item"], factor=2, ok=ok)
            elif kind == "Delete":
                self._write_delete(table, body["Key"], factor=2, ok=ok)
            else:  # ConditionCheck, or an Update (a comment's join item, under 1 KB either way): as it stands
                old = self._recall(table, body["Key"])
                if old is None:
                    self.usage.unknown_sizes += 1
                self._charge_write(table, body["Key"], 2 * write_units(item_size(old)))

    # ---- charging --------------------------------------------------------------------------------

    def _read(
        self, operation: str, table: str, index: str | None, key: str, items: int, size: int, consistent: bool
    ) -> None:
        units = read_units(size, consistent)
        partition = Partition(table, index, key)
        self.usage.rcu += units
        self.usage.by_partition[partition][0] += units
        self.usage.reads.append(Read(operation, partition, items, size, consistent, units))

    def _charge_write(self, table: str, key: Wire, units: float, index: str | None = None) -> None:
        partition = Partition(table, index, self._hash_value(table, key, index))
        if index is None:
            self.usage.wcu += units
        else:
            self.usage.index_wcu += units
        self.usage.by_partition[partition][1] += units

    def _write_put(self, table: str, new: Wire, factor: int, ok: bool) -> None:
        old = self._recall(table, new)
        self._charge_write(table, new, factor * write_units(max(item_size(old), item_size(new))))
        self._index_writes(table, old, new)
        if ok:
            self._remember(table, new)

    def _write_delete(self, table: str, key: Wire, factor: int, ok: bool, old: Wire | None = None) -> None:
        old = old or self._recall(table, key)
        if old is None:
            self.usage.unknown_sizes += 1
        self._charge_write(table, key, factor * write_units(item_size(old)))
        self._index_writes(table, old, None)
        if ok:
            self._items.pop((table, self._key_id(table, key)), None)

    def _index_writes(self, table: str, old: Wire | None, new: Wire | None) -> None:
        """Index entries a table write adds, changes or removes, at the standard rate (see the module doc)."""
        spec = self.tables.get(table)
        for index in spec.indexes if spec else ():
            before = _projection(old, spec, index) if old and all(k in old for k in index.keys) else None
            after = _projection(new, spec, index) if new and all(k in new for k in index.keys) else None
            if before == after:
                continue  # not in the index, or an update that changes nothing the index holds
            if before is not None and after is not None and all(before[k] == after[k] for k in index.keys):
                units = write_units(max(item_size(before), item_size(after)))
            else:  # added, removed, or moved to another index key (a delete plus a put)
                units = sum(write_units(item_size(entry)) for entry in (before, after) if entry is not None)
            entry = after if after is not None else before
            assert entry is not None
            self._charge_write(table, entry, units, index=index.name)

    # ---- the item cache ----------------------------------------------------------------------------

    def _remember(self, table: str, item: Wire) -> None:
        if table in self.tables:
            self._items[(table, self._key_id(table, item))] = dict(item)

    def _recall(self, table: str, key: Wire) -> Wire | None:
        return self._items.get((table, self._key_id(table, key)))

    def _key_id(self, table: str, item: Wire) -> str:
        spec = self.tables.get(table)
        names = spec.keys if spec else tuple(sorted(item))
        return json.dumps([item.get(name) for name in names], sort_keys=True)

    def _hash_name(self, table: str) -> str:
        spec = self.tables.get(table)
        return spec.keys[0] if spec else "PK"

    def _hash_value(self, table: str, item: Wire, index: str | None = None) -> str:
        spec = self._index(table, index)
        name = spec.keys[0] if spec else self._hash_name(table)
        value = item.get(name)
        return str(next(iter(value.values()))) if value else ""

    def _index(self, table: str, name: str | None) -> IndexSpec | None:
        spec = self.tables.get(table)
        if spec is None or name is None:
            return None
        return next(index for index in spec.indexes if index.name == name)


_CHARGES = {
    "GetItem": Meter._get_item,
    "BatchGetItem": Meter._batch_get_item,
    "Query": Meter._query,
    "PutItem": Meter._put_item,
    "DeleteItem": Meter._delete_item,
    "UpdateItem": Meter._update_item,
    "BatchWriteItem": Meter._batch_write_item,
    "TransactWriteItems": Meter._transact_write_items,
}


def _projection(item: Wire | None, table: TableSpec | None, index: IndexSpec | None) -> dict[str, Any]:
    """What an index entry holds of an item: table keys, index keys, projected attributes."""
    if item is None:
        return {}
    if index is None or index.projected is None or table is None:
        return dict(item)
    kept = {*table.keys, *index.keys, *index.projected}
    return {name: value for name, value in item.items() if name in kept}


def _key_condition_value(request: Wire, hash_name: str) -> str:
    """The partition key a Query reads: the value its key condition compares the hash key with."""
    names = {alias: name for alias, name in request.get("ExpressionAttributeNames", {}).items()}
    condition = request.get("KeyConditionExpression", "")
    for match in re.finditer(r"([#\w]+)\s*=\s*(:\w+)", condition):
        if names.get(match.group(1), match.group(1)) == hash_name:
            value = request.get("ExpressionAttributeValues", {}).get(match.group(2), {})
            return str(next(iter(value.values()), ""))
    return ""


def _reported_units(consumed: Any) -> float:
    if isinstance(consumed, dict):
        return float(consumed.get("CapacityUnits", 0.0))
    if isinstance(consumed, list):
        return sum(float(c.get("CapacityUnits", 0.0)) for c in consumed)
    return 0.0


# ---- the hooks ------------------------------------------------------------------------------

_ACTIVE: Meter | None = None
_INSTALLED = False


def install() -> None:
    """Add the hooks for every botocore session created from now on (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    botocore.handlers.BUILTIN_HANDLERS.extend(
        [
            ("before-parameter-build.dynamodb", _ask_for_capacity),
            ("before-call.dynamodb", _before_call),
            ("after-call.dynamodb", _after_call),
        ]
    )
    _INSTALLED = True


def _ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    if _ACTIVE is not None and model.name in _CAPACITY_OPERATIONS:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def _before_call(model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    if _ACTIVE is not None:
        body = params.get("body") or b"{}"
        context[_REQUEST] = json.loads(body)
        context[_STARTED] = time.perf_counter()


def _after_call(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
    meter, request = _ACTIVE, context.get(_REQUEST)
    if meter is None or request is None:
        return
    try:
        response = json.loads(http_response.content or b"{}")
    except ValueError:
        response = {}
    seconds = time.perf_counter() - context.get(_STARTED, time.perf_counter())
    meter.record(model.name, request, response, ok=http_response.status_code < 300, seconds=seconds)
