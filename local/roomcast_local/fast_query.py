"""moto's Table.query, reading only the page from the sorted containers of sorted_items.

The result is moto 5.2.5's, item for item and page for page: the same order (ScanIndexForward), the
same Limit and 1 MB page rules (moto checks them on every item of the partition it walks, matching
or not, so LastEvaluatedKey follows it), the same ExclusiveStartKey skipping, the same ScannedCount,
the same projection and filter steps. What differs is the cost: bisect to the key condition's range
and to ExclusiveStartKey, then walk only until the page is full. Anything this does not plan for
(composite index keys, the legacy QueryFilter, hash-only tables) is left to moto's own query.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

from roomcast_local.sorted_items import ensure

# moto refuses items over 405,000 bytes (dynamo_type.LimitedSizeDict); with a margin for its rounding.
MAX_ITEM_SIZE = 410_000


@dataclass
class Plan:
    """Where a Query reads: sorted keys, how to order and resolve them, and where ExclusiveStartKey sits."""

    keys: Sequence[Any]
    sort_key: Callable[[Any], Any] | None  # bisect key over ``keys`` for ExclusiveStartKey
    range_key: Callable[[Any], DynamoType]  # the value the key condition's range part compares
    resolve: Callable[[Any], Item]
    range_attr: str | None
    start: Any  # ExclusiveStartKey in ``sort_key``'s terms, or None


def plan(table: Table, query: dict[str, Any]) -> Plan | None:
    """How to read this Query from the sorted containers, or None to leave it to moto."""
    limit = query["limit"]
    conditions = query["range_key_conditions"] or []
    if query["filter_kwargs"] or (limit is not None and limit < 1) or len(conditions) > 1:
        return None
    if query["range_comparison"] and not conditions:
        return None
    if query["index_name"]:
        return _index_plan(table, query)
    return _table_plan(table, query)


def _table_plan(table: Table, query: dict[str, Any]) -> Plan | None:
    hash_key, conditions, start = query["hash_key"], query["range_key_conditions"], query["exclusive_start_key"]
    range_attr = table.range_key_attr
    if range_attr is None or hash_key is None or (conditions and conditions[-1][0] != range_attr):
        return None
    items = ensure(table)
    partition = dict.get(items, hash_key)
    start_key = None
    if start is not None:
        if table.hash_key_attr not in start or range_attr not in start:
            return None
        if DynamoType(start[table.hash_key_attr]) != hash_key:
            return None
        start_key = DynamoType(start[range_attr])
    if partition is None:
        return Plan([], None, _identity, _identity, range_attr, start_key)
    return Plan(partition.sorted, None, _identity, partition.__getitem__, range_attr, start_key)


def _index_plan(table: Table, query: dict[str, Any]) -> Plan | None:
    name, hash_conditions, conditions = query["index_name"], query["hash_key_conditions"], query["range_key_conditions"]
    index = {i.name: i for i in table.all_indexes()}.get(name)
    if index is None or (query["consistent_read"] and index in table.global_indexes):
        return None  # moto's own query raises the right error
    view = ensure(table).views.get(name)
    if view is None or not hash_conditions or len(hash_conditions) != 1 or hash_conditions[0][0] != view.hash_attr:
        return None
    if query["range_comparison"] and (view.range_attr is None or conditions[-1][0] != view.range_attr):
        return None
    value = hash_conditions[0][1]
    start_key = None
    start = query["exclusive_start_key"]
    if start is not None:
        if any(attr not in start for attr in [view.hash_attr, *view.sort_attrs]):
            return None
        if DynamoType(start[view.hash_attr]) != value:
            return None
        start_key = tuple(DynamoType(start[attr]) for attr in view.sort_attrs)
    items = ensure(table)
    return Plan(
        view.partitions.get(value, []),
        _entry_sort,
        _entry_range,
        lambda entry: items.resolve(entry[1]),
        view.range_attr,
        start_key,
    )


def _identity(key: Any) -> Any:
    return key


def _entry_sort(entry: Any) -> Any:
    return entry[0]


def _entry_range(entry: Any) -> DynamoType:
    return entry[0][0]


def bounds(found: Plan, comparison: str | None, values: list[DynamoType]) -> tuple[int, int]:
    """The slice of ``found.keys`` whose range value meets the key condition."""
    keys, key = found.keys, found.range_key
    count = len(keys)
    if not comparison:
        return 0, count
    operator = comparison.upper()
    left = lambda v: bisect.bisect_left(keys, v, key=key)  # noqa: E731
    right = lambda v: bisect.bisect_right(keys, v, key=key)  # noqa: E731
    if operator in ("=", "EQ"):
        return left(values[0]), right(values[0])
    if operator in ("<", "LT"):
        return 0, left(values[0])
    if operator in ("<=", "LE"):
        return 0, right(values[0])
    if operator in (">", "GT"):
        return right(values[0]), count
    if operator in (">=", "GE"):
        return left(values[0]), count
    if operator == "BETWEEN":
        low = left(values[0])
        return low, max(low, right(values[1]))
    if operator == "BEGINS_WITH":
        low, prefix = left(values[0]), values[0].cast_value
        # Past ``low`` the keys that start with the prefix come first: bisect on "does not start with it".
        return low, bisect.bisect_left(keys, True, lo=low, key=lambda k: not key(k).cast_value.startswith(prefix))
    raise ValueError(f"no plan for key condition {comparison!r}")


def _walk(found: Plan, first: int, last: int, forward: bool, end: int) -> tuple[range, range]:
    """Indexes of the matching slice and of the tail after it, in scan order, past ExclusiveStartKey."""
    keys, start = found.keys, found.start
    if forward:
        skip = 0 if start is None else bisect.bisect_right(keys, start, key=found.sort_key)
        begin = max(first, skip)
        return range(begin, max(begin, last)), range(max(last, skip), end)
    skip = end if start is None else bisect.bisect_left(keys, start, key=found.sort_key)
    stop = min(last, skip)
    return range(stop - 1, first - 1, -1), range(min(first, skip) - 1, -1, -1)


def run(table: Table, found: Plan, query: dict[str, Any]) -> tuple[list[Item], int, dict[str, Any] | None]:
    comparison, values, limit = query["range_comparison"], query["range_objs"], query["limit"]
    index_name = query["index_name"]
    first, last = bounds(found, comparison, values)
    matching, tail = _walk(found, first, last, query["scan_index_forward"] is not False, len(found.keys))
    results: list[Item] = []
    size = scanned = 0
    last_key = None
    for position in matching:
        item = found.resolve(found.keys[position])
        item_size = item.size()  # a walk over every attribute: once per item
        if len(results) == limit or size + item_size > RESULT_SIZE_LIMIT:
            last_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        if not comparison or item.attrs[found.range_attr].compare(comparison, values):  # type: ignore[index]
            results.append(item)
            size += item_size
            scanned += 1
    else:
        if results and _tail_ends_page(found, tail, len(results) == limit, size):
            last_key = table._get_last_evaluated_key(results[-1], index_name)
    # moto deep-copies the page here; its only caller, DynamoHandler.query, reads the items into new
    # dicts (dynamo_to_dict) under fast_moto's lock, and projections build new items: the copy of
    # every attribute of every item of the page was pure cost (a quarter of a 100-item Query).
    if index_name:
        index = table.get_index(index_name)
        results = [index.project(r) for r in results]
    if query["filter_expression"] is not None:
        results = [item for item in results if query["filter_expression"].expr(item)]
    if query["projection_expressions"]:
        results = [r.project(query["projection_expressions"]) for r in results]
    return results, scanned, last_key


def _tail_ends_page(found: Plan, tail: range, full: bool, size: int) -> bool:
    """moto's loop goes on past the key condition's range: its next item ends the page when it is full,
    and any item too big for what is left of the 1 MB does too."""
    if not tail:
        return False
    if full:
        return True
    if size + MAX_ITEM_SIZE <= RESULT_SIZE_LIMIT:
        return False
    return any(size + found.resolve(found.keys[p]).size() > RESULT_SIZE_LIMIT for p in tail)
