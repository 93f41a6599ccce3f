"""TransactWriteItems for moto at the cost of the items it touches, not of the whole table.

moto makes a transaction undoable by deep-copying every table it names, once per operation, and
putting the copies back when the transaction is cancelled. The copy grows with the table: on a
table of 1,000 items a four-operation transaction takes ~0.3 s of CPU, and the local stack's table
grows for as long as it runs. Here the undo is a journal instead: before moto runs the
transaction, the items its operations name (and the length of the table's stream) are saved;
when moto cancels it, exactly those are put back. moto's own code does everything else, so the
answers (conditions, cancellation reasons, errors) are moto's.

Installed once per process (`install`), under the lock that already runs moto's DynamoDB
requests one at a time (`local.lambda_dispatch.serialize_dynamodb`), so no other write can come
between the journal and the undo.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_installed = False
_lock = threading.Lock()


class _KeepTables:
    """Stands in for the `copy` module inside moto.dynamodb.models: a Table is "copied" as itself
    (the journal undoes a cancelled transaction), anything else really is copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _operation_key(backend: Any, operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(table name, key) of one transaction entry, or None when moto will refuse it anyway."""
    try:
        [(kind, op)] = operation.items()
        name = op["TableName"]
        table = backend.tables[name]
        if kind == "Put":
            item = op["Item"]
            key = {table.hash_key_attr: item[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = item[table.range_key_attr]
            return name, key
        return name, dict(op["Key"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _restore(table: Any, key: dict[str, Any], saved: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
    if range_value is not None:
        bucket = table.items[hash_value]
        if saved is None:
            bucket.pop(range_value, None)
        else:
            bucket[range_value] = saved
    elif saved is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = saved


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.dynamodb import models as dynamodb_models
        from moto.dynamodb.models.table import Table

        original = dynamodb_models.DynamoDBBackend.transact_write_items

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            journal: list[tuple[Any, dict[str, Any], Any]] = []
            streams: dict[int, tuple[Any, int]] = {}
            for operation in transact_items[:100]:
                found = _operation_key(self, operation)
                if found is None:
                    continue
                name, key = found
                table = self.tables[name]
                try:
                    current = self.get_item(name, key)
                except Exception:  # a malformed key: moto cancels the transaction itself
                    current = None
                journal.append((table, key, copy.deepcopy(current)))
                if table.stream_shard is not None:
                    streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
            try:
                original(self, transact_items)
            except Exception:
                for table, key, saved in reversed(journal):
                    _restore(table, key, saved)
                for shard, length in streams.values():
                    del shard.items[length:]
                raise

        dynamodb_models.copy = _KeepTables(Table)  # type: ignore[attr-defined,assignment]
        dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _installed = True
