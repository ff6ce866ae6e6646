"""Sorted containers for moto's DynamoDB tables, so a Query reads its page instead of sorting.

moto 5.2.5 keeps a table's items in ``defaultdict(dict)`` (hash key -> range key -> Item) and, for
every Query, sorts every item of the table (``Table.all_items``) before picking the partition. Here
``TableItems`` replaces that dict with the same mapping whose partitions also keep their range keys
in a sorted list, and whose secondary indexes keep, per index hash value, their entries in moto's
own order. Both are maintained on every write that goes through the mapping (``put_item``,
``delete_item``, rollbacks) and, for moto's in-place ``update_item``, by ``reindex``.

Anything that replaces ``table.items`` with a plain dict (a restored backup, say) is simply adopted
again on the next Query: ``ensure`` rebuilds what it needs from the items.
"""

from __future__ import annotations

import bisect
import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import GlobalSecondaryIndex, Table

TableKey = tuple[DynamoType, DynamoType | None]
Entry = tuple[tuple[DynamoType, ...], TableKey]


def _entry_sort(entry: Entry) -> tuple[DynamoType, ...]:
    return entry[0]


@dataclass
class IndexView:
    """One secondary index with a single hash and at most one range attribute, in moto's Query order."""

    name: str
    hash_attr: str
    range_attr: str | None
    # What moto sorts the index's items by (Table._generate_attr_to_sort_by), minus the index hash.
    sort_attrs: list[str]
    partitions: dict[DynamoType, list[Entry]] = field(default_factory=dict)
    entries: dict[TableKey, tuple[DynamoType, Entry]] = field(default_factory=dict)

    def entry(self, item: Item) -> tuple[DynamoType, Entry] | None:
        attrs = item.attrs
        if self.hash_attr not in attrs or (self.range_attr is not None and self.range_attr not in attrs):
            return None
        if any(name not in attrs for name in self.sort_attrs):
            return None
        return attrs[self.hash_attr], (tuple(attrs[n] for n in self.sort_attrs), (item.hash_key, item.range_key))

    def discard(self, key: TableKey) -> None:
        stored = self.entries.pop(key, None)
        if stored is None:
            return
        value, entry = stored
        entries = self.partitions[value]
        position = bisect.bisect_left(entries, entry[0], key=_entry_sort)
        while entries[position][1] != key:
            position += 1
        del entries[position]

    def add(self, item: Item) -> None:
        found = self.entry(item)
        if found is None:
            return
        value, entry = found
        bisect.insort(self.partitions.setdefault(value, []), entry, key=_entry_sort)
        self.entries[entry[1]] = found


def index_signature(table: Table) -> tuple[tuple[str, str], ...]:
    return tuple((index.name, repr(index.schema)) for index in table.all_indexes())


def _view(table: Table, index: Any) -> IndexView | None:
    """moto's ordering for ``index``, or None when it has composite keys (left to moto itself)."""
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) > 1:
        return None
    # The same hash_attrs and range_attrs moto's Table.query builds for an index.
    if ranges:
        range_attrs: list[str | None] = [ranges[0], table.range_key_attr]
    elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
        range_attrs = [table.range_key_attr, table.range_key_attr]
    else:
        range_attrs = [table.hash_key_attr, table.range_key_attr]
    order = table._generate_attr_to_sort_by([hashes[0], table.hash_key_attr], range_attrs)
    if not order or order[0] != hashes[0]:
        return None
    return IndexView(index.name, hashes[0], ranges[0] if ranges else None, order[1:])


class Partition(dict[DynamoType, Item]):
    """One hash key's items by range key, with the range keys kept sorted."""

    def __init__(self, owner: TableItems) -> None:
        super().__init__()
        self.owner = owner
        self.sorted: list[DynamoType] = []

    def __setitem__(self, key: DynamoType, item: Item) -> None:
        if key not in self:
            bisect.insort(self.sorted, key)
        super().__setitem__(key, item)
        self.owner.changed((item.hash_key, key), item)

    def __delitem__(self, key: DynamoType) -> None:
        item = self[key]
        super().__delitem__(key)
        position = bisect.bisect_left(self.sorted, key)
        del self.sorted[position]
        self.owner.changed((item.hash_key, key), None)

    def pop(self, key: DynamoType, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        item = self[key]
        del self[key]
        return item

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[DynamoType, Item]:
        # A copy is moto's plain dict again (a backup, a restored table): adopted anew if ever queried.
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("moto's table partitions are only set, popped and deleted by key")

    update = setdefault = popitem = clear = _unsupported


class TableItems(defaultdict[DynamoType, Any]):
    """moto's ``Table.items`` with sorted partitions and secondary indexes kept in Query order."""

    def __init__(self, table: Table) -> None:
        super().__init__()
        self.range_table = table.range_key_attr is not None
        self.signature = index_signature(table)
        views = (_view(table, index) for index in table.all_indexes())
        self.views: dict[str, IndexView] = {view.name: view for view in views if view is not None}

    @classmethod
    def adopt(cls, table: Table) -> TableItems:
        adopted = cls(table)
        for hash_key, value in table.items.items():
            if adopted.range_table:
                for range_key, item in value.items():
                    adopted[hash_key][range_key] = item
            else:
                adopted[hash_key] = value
        return adopted

    def __missing__(self, key: DynamoType) -> Partition:
        partition = Partition(self)
        dict.__setitem__(self, key, partition)
        return partition

    def __setitem__(self, key: DynamoType, value: Any) -> None:
        if self.range_table:
            partition = self[key] if key in self else self.__missing__(key)
            for range_key in list(partition.sorted):
                if range_key not in value:
                    del partition[range_key]
            for range_key, item in value.items():
                partition[range_key] = item
            return
        super().__setitem__(key, value)
        self.changed((key, None), value)

    def __delitem__(self, key: DynamoType) -> None:
        value = self[key]
        if self.range_table:
            for range_key in list(value.sorted):
                del value[range_key]
        else:
            self.changed((key, None), None)
        super().__delitem__(key)

    def pop(self, key: DynamoType, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = self[key] if not self.range_table else dict(self[key])
        del self[key]
        return value

    def changed(self, key: TableKey, item: Item | None) -> None:
        for view in self.views.values():
            view.discard(key)
            if item is not None:
                view.add(item)

    def reindex(self, item: Item) -> None:
        """After moto changed ``item`` in place (update_item), where it sits in each index."""
        self.changed((item.hash_key, item.range_key), item)

    def resolve(self, key: TableKey) -> Item:
        hash_key, range_key = key
        value = dict.__getitem__(self, hash_key)
        return value[range_key] if self.range_table else value

    def __deepcopy__(self, memo: dict[int, Any]) -> defaultdict[DynamoType, Any]:
        plain: defaultdict[DynamoType, Any] = defaultdict(dict)
        for key, value in self.items():
            plain[copy.deepcopy(key, memo)] = copy.deepcopy(value, memo)
        return plain

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("moto's table items are only set, popped and deleted by key")

    update = setdefault = popitem = clear = _unsupported


def ensure(table: Table) -> TableItems:
    """``table.items`` as a TableItems, adopting (once) whatever moto left there."""
    items = table.items
    if not isinstance(items, TableItems) or items.signature != index_signature(table):
        items = TableItems.adopt(table)
        table.items = items
    return items
