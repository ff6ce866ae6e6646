"""A fast local DynamoDB: moto 5.2.5's backend without its per-request costs that grow with the table.

moto is the right embedded endpoint, but three things in its DynamoDB make a growing table slow or
fragile (issue 13):

- ``TransactWriteItems`` deep-copies every table it touches before each transaction, to roll back
  on cancellation: a comment costs time in proportion to everything ever written. Here the
  transaction snapshots only the items it names (and each touched table's stream length) and, when
  moto raises (TransactionCanceledException with its CancellationReasons, or a validation error),
  puts exactly those back and drops the stream records the cancelled writes added. moto's own
  transaction code still runs; only its whole-table copy is made a no-op.
- ``Query`` sorts the whole table for every page. Here it reads the page from sorted partitions and
  sorted secondary indexes (roomcast_local/sorted_items.py, roomcast_local/fast_query.py), with
  the same results, pages and LastEvaluatedKey as moto.
- Every use of a condition expression parses it again (nine parses in a comment's transaction):
  roomcast_local/fast_expressions.py keeps each string's parse and fills in the request's names and
  values.
- Its server answers requests on concurrent threads over shared dicts: a transaction racing a Query
  fails with a 500 ("dictionary changed size during iteration"). Here one re-entrant lock serialises
  every DynamoDB and DynamoDB Streams request.

``apply()`` is what ``python -m roomcast_local up`` and ``python -m roomcast_local aws`` call before
they start moto's server (``ROOMCAST_FAST_MOTO=0`` turns it off); it refuses any moto version other
than the one it was written against, since it replaces moto internals by name. ``revert()`` undoes it.
"""

from __future__ import annotations

import copy
import os
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import moto
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from roomcast_local import fast_expressions, fast_query, fast_serialize, fast_sqs
from roomcast_local.sorted_items import TableItems

TARGET_MOTO = "5.2.5"
SWITCH = "ROOMCAST_FAST_MOTO"

# Every DynamoDB and DynamoDB Streams request holds it: moto's backend is plain dicts and lists.
LOCK = threading.RLock()

_saved: dict[tuple[type, str], Any] = {}
_MISSING = object()


class FastMotoError(RuntimeError):
    """The installed moto is not the one this patch was written against."""


def enabled() -> bool:
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def apply_if_enabled() -> bool:
    """What the local stack calls before it starts moto: apply() unless ROOMCAST_FAST_MOTO=0."""
    if enabled():
        apply()
        fast_sqs.apply()  # the command queue's own per-message costs (fast_sqs.py)
        fast_serialize.apply()  # plain JSON answers without moto's per-value pickers (fast_serialize.py)
    return enabled()


def applied() -> bool:
    return bool(_saved)


def apply() -> None:
    if moto.__version__ != TARGET_MOTO:
        raise FastMotoError(
            f"roomcast_local.fast_moto patches moto {TARGET_MOTO}, but moto {moto.__version__} is installed: "
            f"pin moto=={TARGET_MOTO} or run with {SWITCH}=0"
        )
    if applied():
        return
    original_query = Table.query
    original_transact = DynamoDBBackend.transact_write_items
    original_update = DynamoDBBackend.update_item

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        return _query(original_query, self, *args, **kwargs)

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        _transact(original_transact, self, transact_items)

    def update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
        try:
            item: Item = original_update(self, table_name, key, *args, **kwargs)
        finally:
            # moto changes the item in place, so its index entries move here, whether it finished or not.
            _reindex(self, table_name, key)
        return item

    _replace(Table, "query", query)
    _replace(DynamoDBBackend, "transact_write_items", transact_write_items)
    _replace(DynamoDBBackend, "update_item", update_item)
    _replace(DynamoHandler, "call_action", _locked(DynamoHandler.call_action))
    _replace(DynamoDBStreamsHandler, "call_action", _locked(DynamoDBStreamsHandler.call_action))
    # moto's transaction deep-copies each table it touches through this module's ``copy``; the copy
    # is only ever put back on failure, which _transact does item by item instead.
    _replace(dynamodb_models, "copy", types.SimpleNamespace(deepcopy=_deepcopy_but_tables, copy=copy.copy))
    fast_expressions.apply()  # each condition expression parsed once per string (fast_expressions.py)


def revert() -> None:
    fast_expressions.revert()
    for (owner, name), original in _saved.items():
        if original is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _saved.clear()


@contextmanager
def patched() -> Iterator[None]:
    """apply() for the duration of the block (tests compare patched and plain moto in one process)."""
    was = applied()
    apply()
    try:
        yield
    finally:
        if not was:
            revert()


def _replace(owner: Any, name: str, value: Any) -> None:
    _saved[(owner, name)] = owner.__dict__.get(name, _MISSING)
    setattr(owner, name, value)


def _locked(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def locked(self: Any) -> Any:
        with LOCK:
            return call_action(self)

    return locked


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _query(original: Callable[..., Any], table: Table, *args: Any, **kwargs: Any) -> Any:
    names = (
        "hash_key",
        "range_comparison",
        "range_objs",
        "limit",
        "exclusive_start_key",
        "scan_index_forward",
        "projection_expressions",
        "index_name",
        "consistent_read",
        "filter_expression",
        "hash_key_conditions",
        "range_key_conditions",
    )
    query: dict[str, Any] = dict.fromkeys(names)
    query.update(zip(names, args, strict=False))
    query.update((k, v) for k, v in kwargs.items() if k in names)
    query["filter_kwargs"] = {k: v for k, v in kwargs.items() if k not in names}
    with LOCK:
        found = fast_query.plan(table, query)
        if found is not None:
            try:
                return fast_query.run(table, found, query)
            except (TypeError, AttributeError):
                pass  # values moto itself cannot order or prefix-match: its own query says how it fails
        return original(table, *args, **kwargs)


Snapshot = tuple[Table, DynamoType, DynamoType | None, Item | None]


def _transact(original: Callable[..., None], backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with LOCK:
        snapshots, streams = _snapshot(backend, transact_items)
        try:
            original(backend, transact_items)
        except Exception:
            _restore(snapshots, streams)
            raise


def _snapshot(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> tuple[list[Snapshot], dict[int, tuple[Table, int]]]:
    """A copy of each item the transaction names (None: absent) and each touched table's stream length."""
    snapshots: list[Snapshot] = []
    streams: dict[int, tuple[Table, int]] = {}
    for action in transact_items[:100]:
        if len(action) != 1:
            continue  # moto refuses it before writing anything
        op_type, op = next(iter(action.items()))
        table = backend.tables.get(str(op.get("TableName"))) if isinstance(op, dict) else None
        if table is None:
            continue
        found = _keys(table, op.get("Item") if op_type == "Put" else op.get("Key"))
        if found is None:
            continue  # moto cannot address it either: nothing of it will be written
        current = _stored(table, *found)
        snapshots.append((table, *found, copy.deepcopy(current)))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table, len(table.stream_shard.items)))
    return snapshots, streams


def _restore(snapshots: list[Snapshot], streams: dict[int, tuple[Table, int]]) -> None:
    # Backwards, so that an item named twice ends as it was before the first.
    for table, hash_key, range_key, old in reversed(snapshots):
        items: Any = table.items  # moto's typing of it is loose: hash -> item, or hash -> range -> item
        if table.range_key_attr is None:
            if old is None:
                items.pop(hash_key, None)
            else:
                items[hash_key] = old
        elif old is not None:
            items[hash_key][range_key] = old
        elif hash_key in items:
            items[hash_key].pop(range_key, None)
    for table, length in streams.values():
        if table.stream_shard is not None:
            del table.stream_shard.items[length:]


def _keys(table: Table, source: Any) -> tuple[DynamoType, DynamoType | None] | None:
    if not isinstance(source, dict) or table.hash_key_attr not in source:
        return None
    if table.range_key_attr is not None and table.range_key_attr not in source:
        return None
    try:
        hash_key = DynamoType(source[table.hash_key_attr])
        range_key = DynamoType(source[table.range_key_attr]) if table.range_key_attr else None
    except (TypeError, IndexError, AttributeError):
        return None
    return hash_key, range_key


def _stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    """The item at this key, without creating an empty partition as moto's get_item does."""
    value: Any = dict.get(table.items, hash_key)
    if value is None or range_key is None:
        return value
    return dict.get(value, range_key)


def _reindex(backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
    table = backend.tables.get(table_name)
    if table is None or not isinstance(table.items, TableItems):
        return
    found = _keys(table, key)
    item = _stored(table, *found) if found is not None else None
    if item is not None:
        table.items.reindex(item)
