"""`roster load`: a roster file against the roster already in the table.

The whole file is validated and turned into items first (`roster_loader.build_items`, as the
loader does: a bad file changes nothing), then compared with the roster items in the table —
read with a paginated, projected Scan, acceptable for an operator's tool (the service itself
never scans) — kind by kind: added, updated, unchanged, removed. Only what changed is
written; objects in the table that the file no longer has are deleted. A kind whose list the
file does not have at all is left as it is, so a file with only `courses` cannot wipe the users.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..adapters.dynamo import keys
from ..adapters.dynamo.keys import DOC, PK, SK
from ..roster_loader import (
    BATCH_SIZE,
    COMPONENT_RESOURCES,
    MAX_BATCH_ATTEMPTS,
    PLAIN_LISTS,
    SUBJECT_TRACKS,
    RosterWriteError,
)

Item = dict[str, Any]
KeyFn = Callable[[str], dict[str, dict[str, str]]]

# Kind (as the loader counts it), the file's list that carries it, and its items' key shape:
# the loader's own table, so a kind it learns is compared here too.
_KEYED_KINDS: tuple[tuple[str, str, KeyFn], ...] = (
    *((count, name, fn) for name, count, fn in PLAIN_LISTS),
    ("lessons", COMPONENT_RESOURCES, keys.lesson),
)
TRACKS = SUBJECT_TRACKS
KINDS = (*(kind for kind, _, _ in _KEYED_KINDS), TRACKS)
_LIST_OF = {**{kind: name for kind, name, _ in _KEYED_KINDS}, TRACKS: SUBJECT_TRACKS}
# (partition prefix, sort key) of each keyed kind, read off the key functions themselves.
_SHAPES = {kind: (fn("")[PK]["S"], fn("")[SK]["S"]) for kind, _, fn in _KEYED_KINDS}
_TRACK_PREFIX = keys.subject_track("subject", "grade", None)[PK]["S"].split("#")[0] + "#"
_TRACK_SK_PREFIX = "ORG#"
# Every attribute the loader writes on a roster item.
_ATTRIBUTES = (PK, SK, DOC, "courseId")


@dataclass
class KindChanges:
    in_file: bool  # the file has this kind's list (else the kind is left as it is)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


@dataclass
class RosterPlan:
    changes: dict[str, KindChanges]
    puts: list[Item]
    deletes: list[Item]  # keys

    @property
    def writes(self) -> int:
        return len(self.puts) + len(self.deletes)


def kind_of(pk: str, sk: str) -> str | None:
    for kind, (prefix, sort_key) in _SHAPES.items():
        if pk.startswith(prefix) and sk == sort_key:
            return kind
    if pk.startswith(_TRACK_PREFIX) and sk.startswith(_TRACK_SK_PREFIX):
        return TRACKS
    return None


def object_id(kind: str, pk: str, sk: str) -> str:
    if kind == TRACKS:
        return f"{pk.removeprefix(_TRACK_PREFIX)}@{sk.removeprefix(_TRACK_SK_PREFIX)}"
    return pk.removeprefix(_SHAPES[kind][0])


def plan(items: Iterable[Item], listed: Collection[str], table_items: Iterable[Item]) -> RosterPlan:
    """What writing `items` (`roster_loader.build_items` of a file that has the lists `listed`)
    changes in a table that holds `table_items`."""
    changes = {kind: KindChanges(in_file=_LIST_OF[kind] in listed) for kind in KINDS}
    current: dict[tuple[str, str], Item] = {}
    for item in table_items:
        current[(item[PK]["S"], item[SK]["S"])] = item
    puts: list[Item] = []
    for item in items:
        pk, sk = item[PK]["S"], item[SK]["S"]
        kind = kind_of(pk, sk)
        assert kind is not None, f"the loader built an item of no known kind: {pk}"
        before = current.pop((pk, sk), None)
        name = object_id(kind, pk, sk)
        if before is None:
            changes[kind].added.append(name)
        elif _comparable(before) != _comparable(item):
            changes[kind].updated.append(name)
        else:
            changes[kind].unchanged += 1
            continue
        puts.append(item)
    deletes: list[Item] = []
    for (pk, sk), item in current.items():
        kind = kind_of(pk, sk)
        if kind is not None and changes[kind].in_file:
            changes[kind].removed.append(object_id(kind, pk, sk))
            deletes.append({PK: item[PK], SK: item[SK]})
    return RosterPlan(changes, puts, deletes)


def _comparable(item: Item) -> dict[str, Any]:
    return {name: item[name] for name in _ATTRIBUTES if name in item}


def read_roster_items(client: Any, table: str) -> list[Item]:
    """Every roster item in the table, only the attributes the loader writes."""
    markers = sorted({sort_key for _, sort_key in _SHAPES.values()})
    marker_values = {f":m{n}": {"S": marker} for n, marker in enumerate(markers)}
    names = {f"#a{n}": name for n, name in enumerate(_ATTRIBUTES)}  # PK is #a0, SK #a1
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": ", ".join(names),
        "FilterExpression": f"#a1 IN ({', '.join(marker_values)}) OR begins_with(#a0, :track)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {**marker_values, ":track": {"S": _TRACK_PREFIX}},
        "ConsistentRead": True,
    }
    found: list[Item] = []
    while True:
        page = client.scan(**request)
        found += [i for i in page.get("Items", []) if kind_of(i[PK]["S"], i[SK]["S"]) is not None]
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def apply(
    client: Any,
    table: str,
    roster: RosterPlan,
    progress: Callable[[int], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write the plan in batches; `progress` hears the running count of writes done."""
    requests = [{"PutRequest": {"Item": item}} for item in roster.puts]
    requests += [{"DeleteRequest": {"Key": key}} for key in roster.deletes]
    done = 0
    for start in range(0, len(requests), BATCH_SIZE):
        batch = requests[start : start + BATCH_SIZE]
        _write(client, table, batch, sleep)
        done += len(batch)
        progress(done)


def _write(client: Any, table: str, batch: list[dict[str, Any]], sleep: Callable[[float], None]) -> None:
    pending: dict[str, list[dict[str, Any]]] = {table: batch}
    for attempt in range(MAX_BATCH_ATTEMPTS):
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not any(pending.values()):
            return
        # Unprocessed requests: the table is throttling. Back off, with jitter.
        sleep(min(5.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))
    left = sum(len(requests) for requests in pending.values())
    raise RosterWriteError(f"{left} write(s) still unprocessed after {MAX_BATCH_ATTEMPTS} attempts")
