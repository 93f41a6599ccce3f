"""Counting AWS calls, DynamoDB round trips, items and their sizes with botocore event hooks.

Attach a `DynamoCounter` to the DynamoDB client the service uses (`wiring.deps().store.client`):
every API call made through it is recorded once (`after-call`, so a call that fails with
ConditionalCheckFailed still counts as a round trip). By default only calls made on the thread
that opened the measurement count: the Step Functions executions moto runs in background threads
(and the Lambda tasks they dispatch to the real handlers) use the same client but are not part of
the use case being measured. With `this_thread_only=False` every thread counts, and each call
records whether it came from the measuring thread (the workflow's own tasks are the others).

Items read: `Item` of GetItem (0 or 1), `Items` of Query/Scan, every item in BatchGetItem's
`Responses`. Items written: PutItem/UpdateItem/DeleteItem = 1, each Put/Update/Delete of
TransactWriteItems (ConditionCheck is not a write), each request of BatchWriteItem — counted from
the request parameters, whether or not a condition let the write happen.

For the capacity model (tools/capacity.py) each call also records the sizes DynamoDB bills by:
the size of every item read (None for a requested key that did not exist), of every item
written (what kind of item, whether inside a transaction), and the writes the call caused on the
sparse index. Sizes follow DynamoDB's item-size rules (attribute names plus values, see
`item_bytes`). An UpdateItem is billed on the larger of the item before and after: the size of
the item as last read or written in the same measurement, else the key and the values it sets.
Index writes are found by following each item's index keys through the measurement: a write
that adds an item to the index or removes it is one index write, one that moves it (another
partition or sort key) is two (delete and put), one that leaves them unchanged is none (the index
projects keys only). The item layout (which key prefix is which kind of item, the index's key
attributes) is the store's and comes from bench.harness.
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
import time
from collections import Counter as _Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_ids = itertools.count()

Key = tuple[str, str]
IndexEntry = tuple[str, str] | None


@dataclass(frozen=True)
class ItemLayout:
    """What the counter needs to know about the table: how to name an item's kind from its key,
    the index's key attributes, and the index partitions that make up the sweeper's due view."""

    kind: Callable[[str, str], str]
    index_pk: str
    index_sk: str
    due_prefix: str
    pk: str = "PK"
    sk: str = "SK"


@dataclass
class WrittenItem:
    kind: str
    bytes: int
    transactional: bool = False
    condition_check: bool = False  # a ConditionCheck of a transaction: read, not written


@dataclass
class DynamoCall:
    operation: str
    params: dict[str, Any]
    items_read: int = 0
    items_written: int = 0
    error: str | None = None
    on_measuring_thread: bool = True
    read_bytes: list[int | None] = field(default_factory=list)  # None: the key did not exist
    read_kinds: list[str] = field(default_factory=list)  # the kind of item each read was for
    consistent: bool = False
    written: list[WrittenItem] = field(default_factory=list)
    index_writes: int = 0
    due_index_writes: int = 0

    def capacity(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "failed": self.error is not None,
            "consistent": self.consistent,
            "read_bytes": self.read_bytes,
            "read_kinds": self.read_kinds,
            "written": [w.__dict__ for w in self.written],
            "index_writes": self.index_writes,
            "due_index_writes": self.due_index_writes,
        }


@dataclass
class DynamoCounts:
    """What one measured block did to DynamoDB."""

    calls: list[DynamoCall] = field(default_factory=list)

    def only(self, measuring_thread: bool) -> DynamoCounts:
        return DynamoCounts([c for c in self.calls if c.on_measuring_thread is measuring_thread])

    @property
    def round_trips(self) -> int:
        return len(self.calls)

    @property
    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    @property
    def by_operation(self) -> dict[str, int]:
        return dict(_Counter(self.operations))

    @property
    def items_read(self) -> int:
        return sum(c.items_read for c in self.calls)

    @property
    def items_written(self) -> int:
        return sum(c.items_written for c in self.calls)

    @property
    def written_by_kind(self) -> dict[str, int]:
        kinds = _Counter(w.kind for c in self.calls for w in c.written if not w.condition_check)
        return dict(sorted(kinds.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "round_trips": self.round_trips,
            "items_read": self.items_read,
            "items_written": self.items_written,
            "operations": self.operations,
            "by_operation": self.by_operation,
            "written_by_kind": self.written_by_kind,
            "index_writes": sum(c.index_writes for c in self.calls),
            "due_index_writes": sum(c.due_index_writes for c in self.calls),
            "capacity": [c.capacity() for c in self.calls],
        }


# --- item sizes (DynamoDB's rules: attribute names and values, in bytes) ------------------------


def value_bytes(value: dict[str, Any]) -> int:
    """Size of one attribute value in DynamoDB JSON. Numbers: about one byte per two significant
    digits plus one; lists and maps: 3 bytes plus their elements (and, for maps, the names)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = Decimal(str(raw)).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in raw)
    if kind == "NS":
        return sum(value_bytes({"N": n}) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_bytes(v) for k, v in raw.items())
    return 0


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def items_written(operation: str, params: dict[str, Any]) -> int:
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 1
    if operation == "TransactWriteItems":
        return sum(1 for item in params.get("TransactItems") or [] if set(item) & {"Put", "Update", "Delete"})
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in (params.get("RequestItems") or {}).values())
    return 0


def items_read(parsed: dict[str, Any]) -> int:
    count = 0
    if isinstance(parsed.get("Items"), list):
        count += len(parsed["Items"])
    if parsed.get("Item"):
        count += 1
    for items in (
        (parsed.get("Responses") or {}).values() if isinstance(parsed.get("Responses"), dict) else []
    ):
        count += len(items)
    return count


class _ItemStates:
    """The size and index entry of every item seen so far in one measurement (read or written),
    to size UpdateItems and to tell which writes touch the index."""

    def __init__(self, layout: ItemLayout) -> None:
        self.layout = layout
        self.size: dict[Key, int] = {}
        self.entry: dict[Key, IndexEntry] = {}

    def key(self, key: dict[str, Any]) -> Key:
        return str(key[self.layout.pk]["S"]), str(key[self.layout.sk]["S"])

    def index_entry(self, item: dict[str, Any]) -> IndexEntry:
        pk, sk = item.get(self.layout.index_pk), item.get(self.layout.index_sk)
        return (str(pk["S"]), str(sk["S"])) if pk and sk else None

    def seen(self, item: dict[str, Any]) -> None:
        key = self.key(item)
        self.size[key] = item_bytes(item)
        self.entry[key] = self.index_entry(item)

    def missing(self, key: dict[str, Any]) -> None:
        self.size[self.key(key)] = 0
        self.entry[self.key(key)] = None

    def move(self, key: Key, new: IndexEntry) -> tuple[int, int]:
        """(index writes, of which on the due view) for the item's entry becoming `new`."""
        old = self.entry.get(key)
        self.entry[key] = new
        if old == new:
            return 0, 0
        touched = [e for e in (old, new) if e is not None]
        due = sum(1 for e in touched if e[0].startswith(self.layout.due_prefix))
        return len(touched), due


def _updated_entry(states: _ItemStates, key: Key, params: dict[str, Any]) -> IndexEntry:
    """The index entry after an UpdateItem of the shape the store uses (SET / REMOVE of the index
    key attributes through expression attribute names or directly)."""
    expression = str(params.get("UpdateExpression") or "")
    names = {alias: name for alias, name in (params.get("ExpressionAttributeNames") or {}).items()}
    values = params.get("ExpressionAttributeValues") or {}
    pk, sk = states.entry.get(key) or (None, None)
    layout = states.layout
    for clause in expression.replace(" REMOVE ", "\nREMOVE ").split("\n"):
        action, _, body = clause.strip().partition(" ")
        for part in body.split(","):
            target, _, value = part.partition("=")
            name = names.get(target.strip(), target.strip())
            if name not in (layout.index_pk, layout.index_sk):
                continue
            new = None if action == "REMOVE" else str(values.get(value.strip(), {}).get("S"))
            if name == layout.index_pk:
                pk = new
            else:
                sk = new
    return (pk, sk) if pk is not None and sk is not None else None


def _write_sizes(states: _ItemStates, action: str, body: dict[str, Any]) -> tuple[Key, int]:
    if action == "Put":
        item = body["Item"]
        return states.key(item), item_bytes(item)
    key = states.key(body["Key"])
    if action == "Update":
        values = body.get("ExpressionAttributeValues") or {}
        fallback = item_bytes(body["Key"]) + sum(value_bytes(v) for v in values.values())
        return key, max(states.size.get(key, 0), fallback)
    return key, max(states.size.get(key, 0), item_bytes(body["Key"]))


def _writes_of(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(action, body, transactional) of every item the call writes or checks."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(operation.removesuffix("Item"), params, False)]
    if operation == "TransactWriteItems":
        return [
            (action, body, True)
            for entry in params.get("TransactItems") or []
            for action, body in entry.items()
        ]
    if operation == "BatchWriteItem":
        found = []
        for requests in (params.get("RequestItems") or {}).values():
            for request in requests:
                if "PutRequest" in request:
                    found.append(("Put", request["PutRequest"], False))
                elif "DeleteRequest" in request:
                    found.append(("Delete", request["DeleteRequest"], False))
        return found
    return []


def describe(call: DynamoCall, parsed: dict[str, Any], states: _ItemStates) -> None:
    """Fill in the sizes and index writes of `call` and advance the item states."""
    params = call.params
    layout = states.layout
    if call.operation in ("GetItem", "BatchGetItem", "Query", "Scan") and call.error is None:
        if call.operation == "GetItem":
            call.consistent = bool(params.get("ConsistentRead"))
            if parsed.get("Item"):
                states.seen(parsed["Item"])
                call.read_bytes.append(item_bytes(parsed["Item"]))
            else:
                states.missing(params["Key"])
                call.read_bytes.append(None)
            call.read_kinds.append(layout.kind(*states.key(params["Key"])))
        elif call.operation == "BatchGetItem":
            found: dict[Key, int] = {}
            for items in (parsed.get("Responses") or {}).values():
                for item in items:
                    states.seen(item)
                    found[states.key(item)] = item_bytes(item)
            for request in (params.get("RequestItems") or {}).values():
                call.consistent = bool(request.get("ConsistentRead"))
                for key in request.get("Keys") or []:
                    if states.key(key) not in found:
                        states.missing(key)
                    call.read_bytes.append(found.get(states.key(key)))
                    call.read_kinds.append(layout.kind(*states.key(key)))
        else:
            call.consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
            # A query is billed on the sum of what it returns (index entries: keys only).
            call.read_bytes.append(sum(item_bytes(item) for item in parsed.get("Items") or []))
            call.read_kinds.append("index entries" if params.get("IndexName") else "query")
        return
    for action, body, transactional in _writes_of(call.operation, params):
        key, size = _write_sizes(states, action, body)
        kind = layout.kind(*key)
        if action == "ConditionCheck":
            call.written.append(WrittenItem(kind, size, transactional, condition_check=True))
            continue
        call.written.append(WrittenItem(kind, size, transactional))
        if call.error is not None:
            continue  # refused by a condition (the whole transaction): billed, nothing changed
        if action == "Put":
            new = states.index_entry(body["Item"])
        elif action == "Update":
            new = _updated_entry(states, key, body)
        else:
            new = None
        writes, due = states.move(key, new)
        call.index_writes += writes
        call.due_index_writes += due
        states.size[key] = 0 if action == "Delete" else size


# --- the hooks --------------------------------------------------------------------------------


class _Recorder:
    """botocore hooks on some clients that record their calls while a measurement is open."""

    def __init__(self, *clients: Any, this_thread_only: bool = True) -> None:
        self.this_thread_only = this_thread_only
        self._uid = f"bench-counter-{next(_ids)}"
        self._lock = threading.Lock()
        self._active = False
        self._thread: int | None = None
        self._pending = threading.local()
        self._clients: list[Any] = []
        for client in clients:
            self.attach(client)

    def _event(self, client: Any, name: str) -> str:
        return f"{name}.{client.meta.service_model.service_id.hyphenize()}"

    def attach(self, client: Any) -> _Recorder:
        if any(c is client for c in self._clients):
            return self
        events = client.meta.events
        events.register(
            self._event(client, "provide-client-params"), self._params, unique_id=f"{self._uid}-p"
        )
        events.register(self._event(client, "after-call"), self._after, unique_id=f"{self._uid}-a")
        self._clients.append(client)
        return self

    def detach(self) -> None:
        for client in self._clients:
            client.meta.events.unregister(
                self._event(client, "provide-client-params"), unique_id=f"{self._uid}-p"
            )
            client.meta.events.unregister(self._event(client, "after-call"), unique_id=f"{self._uid}-a")
        self._clients.clear()

    def _counting(self) -> bool:
        return self._active and (not self.this_thread_only or threading.get_ident() == self._thread)

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._counting():
            self._pending.params = copy.deepcopy(params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self._counting():
            return
        params = getattr(self._pending, "params", None) or {}
        self._pending.params = None
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        with self._lock:
            if self._active:
                self._record(model, params, parsed if isinstance(parsed, dict) else {}, error)

    def _record(self, model: Any, params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> None:
        raise NotImplementedError

    def _open(self) -> None:
        with self._lock:
            self._active, self._thread = True, threading.get_ident()

    def _close(self) -> None:
        with self._lock:
            self._active, self._thread = False, None


class DynamoCounter(_Recorder):
    """Records the DynamoDB calls of the attached clients while a measurement is open."""

    def __init__(self, *clients: Any, layout: ItemLayout, this_thread_only: bool = True) -> None:
        super().__init__(*clients, this_thread_only=this_thread_only)
        self.layout = layout
        self._counts: DynamoCounts | None = None
        self._states: _ItemStates | None = None

    def _record(self, model: Any, params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> None:
        assert self._counts is not None and self._states is not None
        call = DynamoCall(
            operation=model.name,
            params=params,
            items_read=items_read(parsed) if not error else 0,
            items_written=items_written(model.name, params),
            error=error,
            on_measuring_thread=threading.get_ident() == self._thread,
        )
        describe(call, parsed, self._states)
        self._counts.calls.append(call)

    @contextmanager
    def measure(self) -> Iterator[DynamoCounts]:
        counts = DynamoCounts()
        self._counts, self._states = counts, _ItemStates(self.layout)
        self._open()
        try:
            yield counts
        finally:
            self._close()


class CallCounter(_Recorder):
    """`service:Operation` → calls, for the attached clients (KMS, Step Functions, EventBridge)."""

    def __init__(self, *clients: Any, this_thread_only: bool = True) -> None:
        super().__init__(*clients, this_thread_only=this_thread_only)
        self._calls: _Counter[str] | None = None

    def _record(self, model: Any, params: dict[str, Any], parsed: dict[str, Any], error: str | None) -> None:
        assert self._calls is not None
        self._calls[f"{model.service_model.service_id.hyphenize()}:{model.name}"] += 1

    @contextmanager
    def measure(self) -> Iterator[_Counter[str]]:
        calls: _Counter[str] = _Counter()
        self._calls = calls
        self._open()
        try:
            yield calls
        finally:
            self._close()


def provider_calls(*simulators: Any) -> dict[str, int]:
    """Route → calls so far, over the given simulators (`calls` of GET /_control/state, read
    in-process), named `<simulator>:<route>`. Take the difference of two snapshots to get one
    block's calls."""
    total: dict[str, int] = {}
    for sim in simulators:
        for route, count in sim.server.calls().items():
            key = f"{sim.server.name}:{route}" if hasattr(sim.server, "name") else route
            total[key] = total.get(key, 0) + count
    return total


def calls_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
    return {k: v for k, v in sorted(delta.items()) if v}


class MotoCpu:
    """CPU time each thread spends inside moto's in-process emulation of AWS: botocore hands every
    request to moto's `before-send` handler (`moto.core.models.botocore_stubber`, moto 5.2.5),
    whose `process_request` computes the answer in the calling thread. In Lambda that work is done
    by AWS, so it is taken out of the handler's CPU. Outermost calls only (no double counting)."""

    def __init__(self) -> None:
        from moto.core.models import botocore_stubber

        self._local = threading.local()
        original = botocore_stubber.process_request

        @functools.wraps(original)
        def timed(request: Any) -> Any:
            depth = getattr(self._local, "depth", 0)
            self._local.depth = depth + 1
            started = time.thread_time()
            try:
                return original(request)
            finally:
                self._local.depth = depth
                if depth == 0:
                    self._local.seconds = self.seconds() + time.thread_time() - started

        botocore_stubber.process_request = timed  # type: ignore[method-assign]  # shadows the method

    def seconds(self) -> float:
        """This thread's total so far (take the difference around a block)."""
        return float(getattr(self._local, "seconds", 0.0))


@functools.cache
def moto_cpu() -> MotoCpu:
    return MotoCpu()
