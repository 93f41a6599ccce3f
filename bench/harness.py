"""The service under moto, in-process, outside pytest: the same set-up as tests/conftest.py's
`service` fixture (mock_aws_with_workflow + create_resources from template.yaml + Lambda dispatch
to the real handlers + roster + environment), reusing its helpers.

This module is the only part of the bench that reaches into the service's internals (everything
else goes through the handlers, the local stack or the test helpers): `wiring.deps()` /
`wiring.reset()` and the store's DynamoDB client, `providers.http.reset_state`,
`roster_loader.load_roster`, `adapters.step_functions.execution_name`, the `Attempt` record and
the DynamoDB store's item layout (`keys.attempt_head`, `DynamoStore._attempt_item`). When the
service's code moves, this is the file to adapt.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.conftest import AWS_ENV, Service, service_env
from tests.support import DEMO_ROSTER, ROOT

EDU_LESSON = "lesson-edu-testout-math-g5"
MT_LESSON = "lesson-mt-testout-math-g5"


def student_id(i: int) -> str:
    return f"bench-student-{i}"


def question_lesson(questions: int) -> str:
    return f"bench-lesson-edu-q{questions}"


def question_test(questions: int) -> str:
    return f"bench-test-q{questions}"


def bench_roster(students: int, question_counts: tuple[int, ...] = ()) -> dict[str, Any]:
    """The demo roster plus `students` synthetic students (org-school-1, grade 5) and one
    Edulastic test-out lesson per question count (same course component and track as the demo's
    Math grade 5 test-out)."""
    doc: dict[str, Any] = json.loads(DEMO_ROSTER.read_text())
    ada = next(u for u in doc["users"] if u["sourcedId"] == "student-ada")
    for i in range(students):
        user = copy.deepcopy(ada)
        user.update(
            sourcedId=student_id(i),
            givenName="Bench",
            familyName=f"Student{i}",
            email=f"bench.student.{i}@students.example.com",
        )
        doc["users"].append(user)
    base_cr = next(c for c in doc["componentResources"] if c["sourcedId"] == EDU_LESSON)
    base_res = next(r for r in doc["resources"] if r["sourcedId"] == base_cr["resource"]["sourcedId"])
    for n in question_counts:
        resource = copy.deepcopy(base_res)
        resource["sourcedId"] = f"bench-res-edu-q{n}"
        resource["vendorResourceId"] = question_test(n)
        resource["metadata"]["vendorId"] = question_test(n)
        resource["title"] = f"Bench test-out, {n} questions"
        component = copy.deepcopy(base_cr)
        component["sourcedId"] = question_lesson(n)
        component["resource"] = {"sourcedId": resource["sourcedId"]}
        component["title"] = resource["title"]
        doc["resources"].append(resource)
        doc["componentResources"].append(component)
    return doc


def register_question_tests(edulastic: Any, question_counts: tuple[int, ...]) -> None:
    for n in question_counts:
        requests.post(
            f"{edulastic.app_url}/_control/tests",
            json={
                "testId": question_test(n),
                "title": f"Bench {n} questions",
                "questions": [{"title": f"Question {i + 1}", "maxScore": 1} for i in range(n)],
            },
            timeout=10,
        ).raise_for_status()


@contextmanager
def service(
    simulators: tuple[Any, Any],
    *,
    waits: str = "3600",
    roster: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Service]:
    """A fresh moto world with the service deployed in it; restores the environment on exit."""
    from exttests import wiring
    from exttests.providers.http import reset_state
    from local.aws_resources import create_resources
    from local.lambda_dispatch import install, mock_aws_with_workflow

    saved = dict(os.environ)
    try:
        os.environ.update(AWS_ENV)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        edulastic, mastery_track = simulators
        for sim in (edulastic, mastery_track):
            base = sim.url.rsplit("/", 1)[0]
            requests.post(f"{base}/_control/reset", json={}, timeout=10).raise_for_status()
        with mock_aws_with_workflow():
            resources = create_resources(ROOT / "template.yaml")
            install(resources.dispatch_registry())
            os.environ.update(service_env(edulastic, mastery_track, resources, waits))
            os.environ.update(env or {})
            load_roster(roster or json.loads(DEMO_ROSTER.read_text()), resources.table_name)
            wiring.reset()
            reset_state()
            try:
                yield Service(resources, edulastic, mastery_track)
            finally:
                wiring.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- the service internals the bench uses -----------------------------------------------------


def load_roster(doc: dict[str, Any], table: str) -> None:
    from exttests.roster_loader import load_roster as load

    load(doc, table)


def service_dynamo_client() -> Any:
    """The DynamoDB client the handlers use (built on first use of the service's dependencies)."""
    from exttests import wiring

    return wiring.deps().store.client  # type: ignore[attr-defined]


def execution_arn(svc: Service, student: str, lesson: str) -> str:
    """The finalization execution of the student's current attempt."""
    from exttests.adapters.step_functions import execution_name

    prefix = svc.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{prefix}:{execution_name(svc.head(student, lesson))}"


def attempt_head_items(
    table: str, n_first: int, count: int, *, final: bool, lesson: str
) -> list[dict[str, Any]]:
    """`count` current-attempt items (bench-bulk-<n> students) as the store writes them: final ones
    (off the sweeper's index) or assigned ones whose workflow is two hours overdue."""
    from exttests.adapters.dynamo import keys
    from exttests.adapters.dynamo.store import DynamoStore
    from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
    from exttests.domain.models import LessonType, ToolProvider

    store = DynamoStore(table)
    due = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    items = []
    for n in range(n_first, n_first + count):
        attempt = Attempt(
            student_id=f"bench-bulk-{n}",
            lesson_id=lesson,
            attempt=1,
            sourced_id=f"ear-bench-bulk-{n}",
            line_item_id=f"eali-bench-bulk-{n}",
            status=AttemptStatus.FINALIZED if final else AttemptStatus.ASSIGNED,
            tool_provider=ToolProvider.EDULASTIC,
            lesson_type=LessonType.TEST_OUT,
            assignment_id=f"asg-bench-{n}",
            class_id="class-int-1",
            test_id="edu-test-algebra-1",
            test_url="https://example.test/t",
            workflow_started=True,
            enrollment=EnrollmentStatus.NOT_DUE if final else None,
            deadline=deadline,
            due_at=due,
            version=1,
        )
        items.append(store._attempt_item(attempt, keys.attempt_head(attempt.student_id, attempt.lesson_id)))
    return items
