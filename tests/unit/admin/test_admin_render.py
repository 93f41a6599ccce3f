"""Text for people: aligned tables, ids from the table escaped so they cannot drive the terminal."""

from __future__ import annotations

from exttests.admin import render
from exttests.admin.roster_sync import KindChanges, RosterPlan
from exttests.ports import AttemptKey


def test_an_unprintable_id_is_escaped_and_cannot_forge_a_line() -> None:
    key = AttemptKey(
        "student-\x1b[2Jevil\nerror: forged", "lesson-\u202eflipped", None, "2025-05-01T10:00:00+00:00"
    )
    text = render.listing_text("failed-enrollment", [key], 100)
    assert "\x1b" not in text and "\u202e" not in text and "\nerror: forged" not in text
    assert "student-\\x1b[2Jevil\\nerror: forged" in text


def test_numbers_are_right_aligned_and_text_left_aligned() -> None:
    lines = render.table(["KIND", "ADDED"], [("users", 3), ("subjectTracks", 120)]).splitlines()
    assert lines == ["KIND           ADDED", "users              3", "subjectTracks    120"]


def test_a_list_says_when_it_was_cut_at_the_limit() -> None:
    keys = [AttemptKey(f"s{n}", "l", 2, f"2025-05-0{n + 1}") for n in range(2)]
    assert "(the first 2)" in render.listing_text("expired", keys, 2)
    assert "(the first" not in render.listing_text("expired", keys, 3)
    assert render.listing_text("stuck", [], 100) == "no stuck attempts (workflow overdue)"


def test_the_roster_summary_names_what_is_removed_and_what_the_file_leaves_alone() -> None:
    plan = RosterPlan(
        {
            "users": KindChanges(True, added=["u1"], unchanged=4),
            "courses": KindChanges(True, removed=[f"course-{n}" for n in range(25)]),
            "orgs": KindChanges(False),
        },
        puts=[{}],
        deletes=[{}] * 25,
    )
    text = render.roster_text("r.json", "table-1", plan, dry_run=True)
    assert "dry run: nothing written (26 write(s) would be made)" in text
    assert "courses would be removed: course-0, course-1" in text and "and 5 more" in text
    assert "not in the file: left as it is" in text
    document = render.roster_json("r.json", "table-1", plan, dry_run=False)
    assert (document["written"], document["deleted"]) == (1, 25)
    assert document["kinds"]["courses"]["removedIds"][-1] == "course-24"
    assert document["kinds"]["orgs"] == {
        "inFile": False,
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "removedIds": [],
    }
