"""The embedded endpoint's DynamoDB items, saved when the stack stops and put back when it starts.

Only the tables of the in-process moto are kept: messages on the queues and WebSocket connections
die with the process, so connection and subscription items are left out (a restored subscription
would name a connection that no longer exists). Items are read and written through moto's table
models rather than the DynamoDB API: 20,000 items are saved in a fraction of a second and restored
in a few (bench/stop.py), where BatchWriteItem over HTTP took about 3 s a thousand; and the restore
writes no stream records, so nothing restored is fanned out or applied again.

The file (``tables.json`` in the state dir) is written to a temporary name, then renamed over the
old one: a stop killed halfway leaves the previous snapshot whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.backends import get_backend

from roomcast.adapters.dynamodb import keys
from roomcast_local.state import write_atomically
from roomcast_local.template import ACCOUNT

FILE_NAME = "tables.json"
_VERSION = 1
# Keyed by a live WebSocket connection, which a restart ends: they would only mislead fan-out.
_LIVE_PARTITIONS = (keys.CONNECTION_PREFIX, keys.SUBSCRIBERS_PREFIX)


class SnapshotError(Exception):
    """The saved file cannot be restored (unreadable, or another format)."""


@dataclass(frozen=True)
class Tables:
    """The template's tables on the embedded endpoint: logical id -> physical name."""

    names: Mapping[str, str]
    region: str

    def _table(self, name: str) -> Any:
        return get_backend("dynamodb")[ACCOUNT][self.region].tables[name]

    def save(self, path: Path) -> int:
        """Write every item but the live ones to ``path``, atomically; returns how many."""
        saved = {logical: list(_durable(self._table(name))) for logical, name in self.names.items()}
        # dumps, not dump: only the one-shot encoder is the C one, about ten times faster here.
        text = json.dumps({"version": _VERSION, "tables": saved}, separators=(",", ":"))
        write_atomically(path, text, durable=True)
        return sum(len(items) for items in saved.values())

    def restore(self, path: Path) -> int:
        """Put the items saved in ``path`` back into the (new, empty) tables; returns how many."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as error:
            raise SnapshotError(f"cannot read the saved tables in {path}: {error}") from error
        if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("tables"), dict):
            raise SnapshotError(f"{path} is not a table snapshot of version {_VERSION}; start with --fresh")
        restored = 0
        for logical, items in data["tables"].items():
            name = self.names.get(logical)
            if name is not None:  # a table the template no longer has is dropped
                restored += _put_all(self._table(name), items)
        return restored


def _durable(table: Any) -> Iterator[dict[str, Any]]:
    # list() copies under the GIL, so a request still being served cannot change the dicts mid-walk.
    for partition in list(table.items.values()):
        for item in list(partition.values()) if isinstance(partition, dict) else [partition]:
            attributes: dict[str, Any] = item.to_json()["Attributes"]
            key = attributes.get(table.hash_key_attr, {}).get("S", "")
            if not key.startswith(_LIVE_PARTITIONS):
                yield attributes


def _put_all(table: Any, items: list[dict[str, Any]]) -> int:
    # Detached while restoring: restored items were fanned out and applied in the run that wrote them.
    stream, table.stream_shard = table.stream_shard, None
    try:
        for item in items:
            table.put_item(item, overwrite=True)
    finally:
        table.stream_shard = stream
    return len(items)
