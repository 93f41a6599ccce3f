"""Both roster sources give the same answers for the same objects.

One roster document — the demo roster plus the awkward shapes real exports have — is fed to
both: the table through the loader (DynamoStore on moto), the live source through the TimeBack
simulator (TimebackClient → LiveRoster, cached in the table). Every student, lesson, course and
Subject Track lookup is compared, including `tobedeleted` objects, students without an email or
with their org only on a role, lesson types only on the ComponentResource, and org-specific
against global tracks.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from exttests.adapters.dynamo import keys
from exttests.adapters.dynamo.store import DynamoStore
from exttests.adapters.live_roster import LiveRoster
from exttests.roster_loader import load_roster
from exttests.timeback.client import TimebackClient, TimebackConfig
from local.aws_resources import create_resources
from local.simulators.timeback import create_timeback_simulator
from tests.support import DEMO_ROSTER, ROOT

AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def roster_with_edge_cases() -> dict[str, Any]:
    roster: dict[str, Any] = json.loads(DEMO_ROSTER.read_text(encoding="utf-8"))
    ada = next(u for u in roster["users"] if u["sourcedId"] == "student-ada")

    def user(sourced_id: str, **changes: Any) -> dict[str, Any]:
        return {
            **copy.deepcopy(ada),
            "sourcedId": sourced_id,
            "email": f"{sourced_id}@example.com",
            **changes,
        }

    roster["users"] += [
        user("student-deleted", status="tobedeleted"),
        user("student-no-email", email=None),
        user("student-blank-email", email="  "),
        # No primaryOrg: the org of the primary role decides.
        user(
            "student-role-org",
            primaryOrg=None,
            roles=[
                {"roleType": "secondary", "role": "student", "org": {"sourcedId": "org-school-1"}},
                {"roleType": "primary", "role": "student", "org": {"sourcedId": "org-school-2"}},
            ],
        ),
        user(
            "teacher-2",
            roles=[{"roleType": "primary", "role": "teacher", "org": {"sourcedId": "org-school-1"}}],
        ),
    ]
    template = next(c for c in roster["componentResources"] if c["sourcedId"] == "lesson-mt-unit-math-g6")
    resource = next(r for r in roster["resources"] if r["sourcedId"] == "res-mt-unit-math-g6")
    bare = copy.deepcopy(resource)
    bare["sourcedId"] = "res-bare"
    bare["metadata"] = {k: v for k, v in bare["metadata"].items() if k != "lessonType"}
    deleted_resource = {**copy.deepcopy(resource), "sourcedId": "res-deleted", "status": "tobedeleted"}
    roster["resources"] += [bare, deleted_resource]

    def lesson(sourced_id: str, resource_id: str, **changes: Any) -> dict[str, Any]:
        return {
            **copy.deepcopy(template),
            "sourcedId": sourced_id,
            "resource": {"sourcedId": resource_id},
            **changes,
        }

    roster["componentResources"] += [
        lesson("lesson-type-on-cr", "res-bare", lessonType="placement"),
        lesson("lesson-type-in-cr-metadata", "res-bare", metadata={"lessonType": "test-out"}),
        lesson("lesson-no-type", "res-bare"),
        lesson("lesson-deleted", "res-mt-unit-math-g6", status="tobedeleted"),
        lesson("lesson-of-a-deleted-resource", "res-deleted"),
        lesson("lesson-of-a-missing-resource", "res-nowhere"),
    ]
    roster["courses"] += [{"sourcedId": "course-deleted", "status": "tobedeleted", "title": "Gone"}]
    roster["subjectTracks"] += [
        {"subject": "math", "grade": "8", "courseId": "course-math-g8-global"},
        {"subject": "Math", "grade": 8, "courseId": "course-math-g8-school2", "orgSourcedId": "org-school-2"},
        {"subject": "Science", "grade": "05", "courseId": "course-science-g5"},
    ]
    return roster


@pytest.fixture(scope="module")
def sources() -> Iterator[tuple[DynamoStore, Any, dict[str, Any]]]:
    """The table source and the live one (its cache in the same table), on the same roster."""
    roster = roster_with_edge_cases()
    simulator = create_timeback_simulator(client_id="parity", client_secret="parity-secret", roster=roster)
    simulator.start()
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        from moto import mock_aws

        with mock_aws():
            table = create_resources(ROOT / "template.yaml").table_name
            load_roster(roster, table)
            client = TimebackClient(
                TimebackConfig(
                    api_url=simulator.url,
                    token_url=simulator.token_url,
                    client_id="parity",
                    client_secret="parity-secret",
                )
            )
            cache = DynamoStore(table, roster_cache=True)
            yield DynamoStore(table), (LiveRoster(client, cache, 300), cache, client), roster
    simulator.stop()


def test_every_student_and_lesson_is_read_the_same_from_both_sources(sources: Any) -> None:
    table, (live, cache, _), roster = sources
    students = [u["sourcedId"] for u in roster["users"]] + ["student-unknown"]
    lessons = [c["sourcedId"] for c in roster["componentResources"]] + ["lesson-unknown"]
    for student, lesson in zip(students, lessons * 3, strict=False):
        from_table = table.load_context(student, lesson)
        from_platform = live.refresh(cache.load_context(student, lesson), student, lesson)
        assert from_platform.student == from_table.student, student
        assert from_platform.lesson == from_table.lesson, lesson
    for lesson in lessons:
        assert (
            live.refresh(cache.load_context("x", lesson), "x", lesson).lesson
            == table.load_context("x", lesson).lesson
        ), lesson
    # The edge cases are really there (so the comparison above means something).
    assert table.load_context("student-deleted", "x").student is None
    assert table.load_context("student-no-email", "x").student.email is None  # type: ignore[union-attr]
    assert table.load_context("student-role-org", "x").student.primary_org == "org-school-2"  # type: ignore[union-attr]
    assert table.load_context("x", "lesson-type-on-cr").lesson.lesson_type == "placement"  # type: ignore[union-attr]
    assert table.load_context("x", "lesson-deleted").lesson is None


def test_every_course_is_known_or_unknown_to_both_sources(sources: Any) -> None:
    table, (_, _, client), roster = sources
    dynamodb = boto3.client("dynamodb")
    for course in [c["sourcedId"] for c in roster["courses"]] + ["course-unknown"]:
        in_table = "Item" in dynamodb.get_item(TableName=table.table, Key=keys.course(course))
        assert in_table == (client.course(course) is not None), course
    assert client.course("course-deleted") is None


@pytest.mark.parametrize(
    ("subject", "grade", "org"),
    [
        ("Math", "6", None),
        ("Math", "6", "org-school-2"),  # the org's own track wins
        ("Math", "6", "org-school-1"),  # no track of its own: the global one
        ("MATH", "8", "org-school-2"),
        ("math", "08", None),
        ("Reading", "5", "org-school-1"),
        ("Science", "5", None),
        ("Science", "5", "org-school-3"),
        ("Math", "13", None),
        ("Art", "5", None),
    ],
)
def test_every_subject_track_lookup_gives_the_same_course(
    sources: Any, subject: str, grade: str, org: str | None
) -> None:
    table, (live, _, _), _ = sources
    from exttests.domain.grades import normalize_grade

    normalized = normalize_grade(grade)
    assert normalized is not None
    assert live.track_course(subject, normalized, org) == table.find_track_course(subject, normalized, org)
