"""Counting DynamoDB round trips and items read/written with botocore event hooks.

Attach a `DynamoCounter` to the DynamoDB client the service uses (`wiring.deps().store.client`):
every API call made through it is recorded once (`after-call`, so a call that fails with
ConditionalCheckFailed still counts as a round trip). By default only calls made on the thread
that opened the measurement count: the Step Functions executions moto runs in background threads
(and the Lambda tasks they dispatch to the real handlers) use the same client but are not part of
the use case being measured.

Items read: `Item` of GetItem (0 or 1), `Items` of Query/Scan, every item in BatchGetItem's
`Responses`. Items written: PutItem/UpdateItem/DeleteItem = 1, each Put/Update/Delete of
TransactWriteItems (ConditionCheck is not a write), each request of BatchWriteItem — counted from
the request parameters, whether or not a condition let the write happen.
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
import time
from collections import Counter as _Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count()


@dataclass
class DynamoCall:
    operation: str
    params: dict[str, Any]
    items_read: int = 0
    items_written: int = 0
    error: str | None = None


@dataclass
class DynamoCounts:
    """What one measured block did to DynamoDB."""

    calls: list[DynamoCall] = field(default_factory=list)

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

    def summary(self) -> dict[str, Any]:
        return {
            "round_trips": self.round_trips,
            "items_read": self.items_read,
            "items_written": self.items_written,
            "operations": self.operations,
            "by_operation": self.by_operation,
        }


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


class DynamoCounter:
    """Records the DynamoDB calls of the attached clients while a measurement is open."""

    def __init__(self, *clients: Any, this_thread_only: bool = True) -> None:
        self.this_thread_only = this_thread_only
        self._uid = f"bench-dynamo-counter-{next(_ids)}"
        self._lock = threading.Lock()
        self._active: DynamoCounts | None = None
        self._thread: int | None = None
        self._pending = threading.local()
        self._clients: list[Any] = []
        for client in clients:
            self.attach(client)

    def attach(self, client: Any) -> DynamoCounter:
        if any(c is client for c in self._clients):
            return self
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._params, unique_id=f"{self._uid}-params")
        events.register("after-call.dynamodb", self._after, unique_id=f"{self._uid}-after")
        self._clients.append(client)
        return self

    def detach(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("provide-client-params.dynamodb", unique_id=f"{self._uid}-params")
            client.meta.events.unregister("after-call.dynamodb", unique_id=f"{self._uid}-after")
        self._clients.clear()

    def _counting(self) -> bool:
        return self._active is not None and (
            not self.this_thread_only or threading.get_ident() == self._thread
        )

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._counting():
            self._pending.params = copy.deepcopy(params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self._counting():
            return
        params = getattr(self._pending, "params", None) or {}
        self._pending.params = None
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        call = DynamoCall(
            operation=model.name,
            params=params,
            items_read=items_read(parsed) if isinstance(parsed, dict) and not error else 0,
            items_written=items_written(model.name, params),
            error=error,
        )
        with self._lock:
            if self._active is not None:
                self._active.calls.append(call)

    @contextmanager
    def measure(self) -> Iterator[DynamoCounts]:
        counts = DynamoCounts()
        with self._lock:
            self._active, self._thread = counts, threading.get_ident()
        try:
            yield counts
        finally:
            with self._lock:
                self._active, self._thread = None, None


def provider_calls(*simulators: Any) -> dict[str, int]:
    """Provider route → calls so far, over the given simulators (`calls` of GET /_control/state,
    read in-process). Take the difference of two snapshots to get one block's calls."""
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
