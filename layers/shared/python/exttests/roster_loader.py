"""Load a OneRoster-shaped JSON file into the service table.

File shape: {"users", "orgs", "courses", "courseComponents", "resources",
"componentResources", "subjectTracks"} — each a list of OneRoster 1.2 JSON objects
(subject tracks: {"subject", "grade", "courseId", "orgSourcedId"?}).

The whole file is validated and turned into items before the first write, so a bad file
leaves the table untouched. Every write is a full PutItem of a deterministic item, so
loading the same file again leaves the same items.

CLI: python -m exttests.roster_loader --table NAME FILE
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exttests.adapters.dynamo import keys
from exttests.domain.grades import normalize_grade

BATCH_SIZE = 25  # BatchWriteItem's hard limit
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
MAX_BATCH_ATTEMPTS = 10

Item = dict[str, dict[str, str]]
KeyFn = Callable[[str], Item]

# File list → (count name, key function). Order is the order items are written in.
PLAIN_LISTS: tuple[tuple[str, str, KeyFn], ...] = (
    ("orgs", "orgs", keys.org),
    ("users", "users", keys.user),
    ("courses", "courses", keys.course),
    ("courseComponents", "courseComponents", keys.course_component),
    ("resources", "resources", keys.resource),
)
COMPONENT_RESOURCES = "componentResources"
SUBJECT_TRACKS = "subjectTracks"
KNOWN_LISTS = (*(name for name, _, _ in PLAIN_LISTS), COMPONENT_RESOURCES, SUBJECT_TRACKS)

# Kept swappable so tests of the retry path do not actually sleep.
_sleep: Callable[[float], None] = time.sleep


class RosterFileError(ValueError):
    """The roster file is malformed; the message names the list and index at fault."""


class RosterWriteError(RuntimeError):
    """DynamoDB kept refusing part of a batch after every retry."""


@dataclass(frozen=True)
class _Entry:
    where: str  # e.g. "users[3]", for error messages
    obj: dict[str, Any]


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_deleted(obj: Mapping[str, Any]) -> bool:
    status = obj.get("status")
    return isinstance(status, str) and status.strip().lower() == "tobedeleted"


def _entries(doc: Mapping[str, Any], name: str) -> tuple[list[_Entry], int]:
    """The live objects of one list (validated), and how many were skipped as tobedeleted."""
    if name not in doc:
        return [], 0
    value = doc[name]
    if not isinstance(value, list):
        raise RosterFileError(f"{name}: must be a list, got {type(value).__name__}")
    entries: list[_Entry] = []
    skipped = 0
    for index, obj in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(obj, dict):
            raise RosterFileError(f"{where}: must be an object, got {type(obj).__name__}")
        if _is_deleted(obj):
            skipped += 1
            continue
        entries.append(_Entry(where, obj))
    return entries, skipped


def _require_sourced_ids(entries: list[_Entry]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        sourced_id = entry.obj.get("sourcedId")
        if not _nonempty_str(sourced_id):
            raise RosterFileError(f"{entry.where}: sourcedId must be a non-empty string")
        assert isinstance(sourced_id, str)
        # Two objects with one id would silently overwrite each other (and DynamoDB rejects
        # a batch holding the same key twice), so the file is ambiguous: refuse it.
        if sourced_id in seen:
            raise RosterFileError(
                f"{entry.where}: duplicate sourcedId {sourced_id!r} (also at {seen[sourced_id]})"
            )
        seen[sourced_id] = entry.where


def _encode(entry: _Entry, payload: object) -> str:
    try:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise RosterFileError(f"{entry.where}: not JSON-serializable: {exc}") from exc
    # Leave headroom for the key attributes; an oversized item would fail mid-load otherwise.
    if len(text.encode()) > MAX_ITEM_BYTES - 1024:
        raise RosterFileError(f"{entry.where}: object too large for one DynamoDB item")
    return text


def _item(key: Item, doc_text: str, **extra: str) -> Item:
    item: Item = dict(key)
    item[keys.DOC] = {"S": doc_text}
    for name, value in extra.items():
        item[name] = {"S": value}
    return item


def _track_item(entry: _Entry) -> Item:
    track = entry.obj
    subject, grade, course_id = track.get("subject"), track.get("grade"), track.get("courseId")
    org_id = track.get("orgSourcedId")
    if not _nonempty_str(subject):
        raise RosterFileError(f"{entry.where}: subject must be a non-empty string")
    normalized = normalize_grade(grade)
    if normalized is None:
        raise RosterFileError(f"{entry.where}: grade {grade!r} is not a OneRoster grade (-1..13)")
    if not _nonempty_str(course_id):
        raise RosterFileError(f"{entry.where}: courseId must be a non-empty string")
    if org_id is not None and not isinstance(org_id, str):
        raise RosterFileError(f"{entry.where}: orgSourcedId must be a string or absent")
    assert isinstance(subject, str) and isinstance(course_id, str)
    key = keys.subject_track(subject, normalized, (org_id or "").strip() or None)
    # courseId is also a top-level attribute so the enrollment rule can project just it.
    return _item(key, _encode(entry, track), courseId=course_id.strip())


def _ref_id(value: object) -> str | None:
    ref = value.get("sourcedId") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None


def build_items(doc: object) -> tuple[list[Item], dict[str, int]]:
    """Validate the roster document and produce every item to write, plus counts per kind."""
    if not isinstance(doc, dict):
        raise RosterFileError(f"roster file: top level must be an object, got {type(doc).__name__}")

    items: list[Item] = []
    counts: dict[str, int] = {}
    by_id: dict[str, dict[str, dict[str, Any]]] = {}
    for list_name, count_name, key_fn in PLAIN_LISTS:
        entries, _ = _entries(doc, list_name)
        _require_sourced_ids(entries)
        by_id[list_name] = {entry.obj["sourcedId"]: entry.obj for entry in entries}
        for entry in entries:
            items.append(_item(key_fn(entry.obj["sourcedId"]), _encode(entry, entry.obj)))
        counts[count_name] = len(entries)

    # A lesson item embeds its Resource and CourseComponent so the service reads a lesson
    # with one GetItem. References that point outside the file (or at a skipped object)
    # are stored as null; the assign rule reports such a lesson as unusable.
    lessons, _ = _entries(doc, COMPONENT_RESOURCES)
    _require_sourced_ids(lessons)
    for entry in lessons:
        cr = entry.obj
        lesson_doc = {
            "componentResource": cr,
            "resource": by_id["resources"].get(_ref_id(cr.get("resource")) or ""),
            "courseComponent": by_id["courseComponents"].get(_ref_id(cr.get("courseComponent")) or ""),
        }
        items.append(_item(keys.lesson(cr["sourcedId"]), _encode(entry, lesson_doc)))
    counts["lessons"] = len(lessons)

    tracks, _ = _entries(doc, SUBJECT_TRACKS)
    seen_tracks: dict[tuple[str, str], str] = {}
    for entry in tracks:
        item = _track_item(entry)
        track_key = (item[keys.PK]["S"], item[keys.SK]["S"])
        if track_key in seen_tracks:
            raise RosterFileError(
                f"{entry.where}: duplicate subject track for the same subject, grade and org "
                f"(also at {seen_tracks[track_key]})"
            )
        seen_tracks[track_key] = entry.where
        items.append(item)
    counts["subjectTracks"] = len(tracks)
    return items, counts


def _write_batch(client: Any, table_name: str, batch: list[Item]) -> None:
    request: dict[str, list[dict[str, Any]]] = {
        table_name: [{"PutRequest": {"Item": item}} for item in batch]
    }
    for attempt in range(MAX_BATCH_ATTEMPTS):
        response = client.batch_write_item(RequestItems=request)
        unprocessed = response.get("UnprocessedItems") or {}
        if not any(unprocessed.values()):
            return
        request = unprocessed
        # Unprocessed items mean the table is throttling; back off exponentially with
        # jitter so parallel loaders do not retry in lockstep.
        _sleep(min(5.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))
    left = sum(len(requests) for requests in request.values())
    raise RosterWriteError(f"{left} item(s) still unprocessed after {MAX_BATCH_ATTEMPTS} attempts")


def load_roster(doc: dict[str, Any], table_name: str, *, client: Any = None) -> dict[str, int]:
    """Validate `doc` and write it to `table_name`; returns the number of items per kind."""
    items, counts = build_items(doc)
    if client is None:
        import boto3  # deferred so validation alone works without AWS configuration

        client = boto3.client("dynamodb")
    for start in range(0, len(items), BATCH_SIZE):
        _write_batch(client, table_name, items[start : start + BATCH_SIZE])
    return counts


def read_roster_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise RosterFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise RosterFileError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise RosterFileError(f"{path}: not UTF-8 text") from exc
    if not isinstance(doc, dict):
        raise RosterFileError(f"{path}: top level must be an object, got {type(doc).__name__}")
    return doc


def load_roster_file(path: str, table_name: str, *, client: Any = None) -> dict[str, int]:
    return load_roster(read_roster_file(path), table_name, client=client)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exttests.roster_loader",
        description="Load a OneRoster-shaped JSON roster into the service's DynamoDB table.",
    )
    parser.add_argument(
        "--table",
        default=os.environ.get("TABLE_NAME"),
        help="DynamoDB table name (default: $TABLE_NAME)",
    )
    parser.add_argument("file", help="roster JSON file")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table is required (or set TABLE_NAME)")
    try:
        counts = load_roster_file(args.file, args.table)
    except RosterFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RosterWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(counts, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
