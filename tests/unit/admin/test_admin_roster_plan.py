"""`roster load`'s comparison of a roster file with the table, its batched writes and its progress."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest

from exttests.admin import roster_sync
from exttests.admin.progress import Progress
from exttests.roster_loader import RosterWriteError, build_items
from tests.fakes.deps import demo_roster

# Items of other kinds that share the roster's partitions or the table: never the roster's to remove.
SERVICE_ITEMS = [
    {"PK": {"S": "USER#student-ada"}, "SK": {"S": "ENROLLMENT#course-math-g6"}, "doc": {"S": "{}"}},
    {"PK": {"S": "USER#student-ada"}, "SK": {"S": "PROVIDER#edulastic"}, "doc": {"S": "{}"}},
    {"PK": {"S": "RESULT#11:student-ada#lesson-1"}, "SK": {"S": "HEAD"}, "doc": {"S": "{}"}},
    {"PK": {"S": "AR#ear-1"}, "SK": {"S": "AR"}, "doc": {"S": "{}"}},
    {"PK": {"S": "OUTBOX#e-1"}, "SK": {"S": "OUTBOX"}, "doc": {"S": "{}"}},
    {"PK": {"S": "RCACHE#student#s"}, "SK": {"S": "RCACHE"}, "doc": {"S": "{}"}},
]


def plan_for(doc: dict[str, Any], table_items: list[dict[str, Any]]) -> roster_sync.RosterPlan:
    items, _ = build_items(doc)
    return roster_sync.plan(items, set(doc), table_items)


def loaded(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return build_items(doc)[0] + SERVICE_ITEMS


def test_the_same_file_again_changes_nothing() -> None:
    roster = demo_roster()
    plan = plan_for(roster, loaded(roster))
    assert plan.writes == 0
    assert {kind: c.unchanged for kind, c in plan.changes.items()} == build_items(roster)[1]


def test_each_kind_counts_what_is_added_updated_and_removed() -> None:
    before = demo_roster()
    after = copy.deepcopy(before)
    after["courses"] = [c for c in after["courses"] if c["sourcedId"] != "course-math-g6"]
    after["users"][0]["givenName"] = "Augusta"
    after["orgs"].append({"sourcedId": "org-new", "name": "New school"})
    after["subjectTracks"][0]["courseId"] = "course-math-g5"  # same key, other course
    after["resources"][0]["status"] = "tobedeleted"  # no longer there
    plan = plan_for(after, loaded(before))
    summary = {
        k: (c.added, c.updated, c.removed)
        for k, c in plan.changes.items()
        if c.added or c.updated or c.removed
    }
    assert summary == {
        "orgs": (["org-new"], [], []),
        "users": ([], ["student-ada"], []),
        "courses": ([], [], ["course-math-g6"]),
        "resources": ([], [], ["res-edu-testout-math-g5"]),
        # The lesson embeds its resource: without it the lesson item changes too.
        "lessons": ([], ["lesson-edu-testout-math-g5"], []),
        "subjectTracks": ([], ["math#4@*"], []),
    }
    assert len(plan.puts) == 4 and len(plan.deletes) == 2
    assert {"PK": {"S": "COURSE#course-math-g6"}, "SK": {"S": "COURSE"}} in plan.deletes


def test_a_kind_the_file_does_not_carry_is_left_as_it_is() -> None:
    before = demo_roster()
    plan = plan_for({"courses": before["courses"]}, loaded(before))
    assert plan.writes == 0
    assert plan.changes["courses"].in_file and plan.changes["courses"].unchanged == len(before["courses"])
    assert not plan.changes["users"].in_file and plan.changes["users"].removed == []


def test_an_empty_list_removes_its_whole_kind_and_nothing_else() -> None:
    before = demo_roster()
    plan = plan_for({"subjectTracks": []}, loaded(before))
    assert len(plan.deletes) == len(before["subjectTracks"])
    assert all(key["PK"]["S"].startswith("TRACK#") for key in plan.deletes)


def test_items_the_service_writes_are_never_roster_items() -> None:
    assert [roster_sync.kind_of(i["PK"]["S"], i["SK"]["S"]) for i in SERVICE_ITEMS] == [None] * len(
        SERVICE_ITEMS
    )
    plan = plan_for({name: [] for name in ("users", "orgs", "courses", "componentResources")}, SERVICE_ITEMS)
    assert plan.deletes == []


class ThrottlingClient:
    """BatchWriteItem that leaves the last request of a batch unprocessed `throttle` times."""

    def __init__(self, throttle: int) -> None:
        self.throttle = throttle
        self.batches: list[list[dict[str, Any]]] = []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        ((table, requests),) = RequestItems.items()
        self.batches.append(requests)
        if self.throttle > 0:
            self.throttle -= 1
            return {"UnprocessedItems": {table: requests[-1:]}}
        return {"UnprocessedItems": {}}


def test_writes_go_in_batches_of_25_unprocessed_ones_again_and_progress_counts_them() -> None:
    plan = roster_sync.RosterPlan(
        {}, [{"PK": {"S": f"USER#{n}"}} for n in range(30)], [{"PK": {"S": "COURSE#x"}}]
    )
    client = ThrottlingClient(throttle=2)
    seen: list[int] = []
    pauses: list[float] = []
    roster_sync.apply(client, "table-1", plan, seen.append, pauses.append)
    assert [len(batch) for batch in client.batches] == [25, 1, 1, 6]
    assert seen == [25, 31] and len(pauses) == 2
    assert "DeleteRequest" in client.batches[-1][-1]


def test_a_table_that_keeps_throttling_fails_the_load_with_a_count() -> None:
    plan = roster_sync.RosterPlan({}, [{"PK": {"S": "USER#1"}}], [])
    with pytest.raises(RosterWriteError, match="1 write"):
        roster_sync.apply(
            ThrottlingClient(throttle=100), "table-1", plan, lambda done: None, lambda pause: None
        )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_a_few_plain_lines_otherwise() -> None:
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = Progress(100, stream, "writing")
        for done in range(1, 101):
            progress(done)
    assert terminal.getvalue().count("\r") == 100 and terminal.getvalue().endswith("] 100/100\n")
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and lines[0] == "writing: 10/100 (10%)" and lines[-1] == "writing: 100/100 (100%)"
    assert "\r" not in log.getvalue()
