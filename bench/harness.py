"""The service under moto, in-process, outside pytest: the same set-up as tests/conftest.py's
`service` fixture (mock_aws_with_workflow + create_resources from template.yaml + Lambda dispatch
to the real handlers + roster + environment), reusing its helpers.

With `platform=` (a TimeBack simulator, `start_platform()`) the service reads its roster live
(ROSTER_SOURCE=timeback): the simulator is seeded with the roster instead of the table, and
enrollments are made on it through EduBridge.

This module is the only part of the bench that reaches into the service's internals (everything
else goes through the handlers, the local stack or the test helpers): `wiring.deps()` /
`wiring.reset()` and the clients of the store, the cipher and the workflow, the live roster
(`deps().roster`) to fill its cache, `providers.http.reset_state`, `roster_loader.load_roster`,
`adapters.step_functions.execution_name`, the `Attempt` record, the DynamoDB store's item layout
(`keys`, `DynamoStore._attempt_item`) and the outbox publisher's EventBridge client. When the
service's code moves, this is the file to adapt.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.conftest import AWS_ENV, Service, service_env
from tests.support import DEMO_ROSTER, ROOT

EDU_LESSON = "lesson-edu-testout-math-g5"
EDU_PLACEMENT = "lesson-edu-placement-math-g5"  # placement, 5 questions: mastered, no enrollment is due
MT_LESSON = "lesson-mt-testout-math-g5"
MT_UNIT = "lesson-mt-unit-math-g6"  # a unit test: never an enrollment


def student_id(i: int) -> str:
    return f"bench-student-{i}"


def mt_student_id(i: int) -> str:
    """The MasteryTrack use cases' students: not enrolled by the Edulastic ones (both test-outs
    lead to the same course, and a second enrollment is a no-op that would hide the cost)."""
    return f"bench-mt-student-{i}"


def question_lesson(questions: int) -> str:
    return f"bench-lesson-edu-q{questions}"


def question_test(questions: int) -> str:
    return f"bench-test-q{questions}"


def bench_roster(students: int, question_counts: tuple[int, ...] = ()) -> dict[str, Any]:
    """The demo roster plus `students` synthetic students of each set (org-school-1, grade 5) and
    one Edulastic test-out lesson per question count (same course component and track as the
    demo's Math grade 5 test-out)."""
    doc: dict[str, Any] = json.loads(DEMO_ROSTER.read_text())
    ada = next(u for u in doc["users"] if u["sourcedId"] == "student-ada")
    for i in range(students):
        for sourced_id, mail in ((student_id(i), "student"), (mt_student_id(i), "mt.student")):
            user = copy.deepcopy(ada)
            user.update(
                sourcedId=sourced_id,
                givenName="Bench",
                familyName=f"Student{i}",
                email=f"bench.{mail}.{i}@students.example.com",
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


PLATFORM_CLIENT_ID = "bench-service"
PLATFORM_CLIENT_SECRET = "bench-platform-secret"  # the simulator's own test client, local only


def start_platform() -> Any:
    """The TimeBack platform simulator on a free port (seeded per service, see `service`)."""
    from local.simulators.timeback import create_timeback_simulator

    return create_timeback_simulator(
        client_id=PLATFORM_CLIENT_ID, client_secret=PLATFORM_CLIENT_SECRET
    ).start()


@dataclass
class BenchService(Service):
    """The tests' Service plus the TimeBack platform when the roster is read live."""

    platform: Any = None

    @property
    def simulators(self) -> tuple[Any, ...]:
        sims = (self.edulastic, self.mastery_track)
        return (*sims, self.platform) if self.platform is not None else sims


def simulators_of(service: Any) -> tuple[Any, ...]:
    """Every simulator the service talks to (the tests' Service has no platform)."""
    return tuple(getattr(service, "simulators", (service.edulastic, service.mastery_track)))


@contextmanager
def service(
    simulators: tuple[Any, Any],
    *,
    waits: str = "3600",
    roster: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    platform: Any = None,
) -> Iterator[BenchService]:
    """A fresh moto world with the service deployed in it; restores the environment on exit.
    With `platform`, the roster lives on the platform (ROSTER_SOURCE=timeback), not in the table."""
    from exttests import wiring
    from exttests.providers.http import reset_state
    from local.aws_resources import create_resources
    from local.lambda_dispatch import install, mock_aws_with_workflow

    saved = dict(os.environ)
    document = roster or json.loads(DEMO_ROSTER.read_text())
    try:
        os.environ.update(AWS_ENV)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        edulastic, mastery_track = simulators
        for sim in (edulastic, mastery_track):
            base = sim.url.rsplit("/", 1)[0]
            requests.post(f"{base}/_control/reset", json={}, timeout=10).raise_for_status()
        if platform is not None:
            requests.post(f"{platform.url}/_control/reset", json={}, timeout=10).raise_for_status()
            requests.post(f"{platform.url}/_control/roster", json=document, timeout=30).raise_for_status()
        with mock_aws_with_workflow():
            resources = create_resources(ROOT / "template.yaml")
            install(resources.dispatch_registry())
            os.environ.update(service_env(edulastic, mastery_track, resources, waits))
            if platform is not None:
                os.environ.update(
                    ROSTER_SOURCE="timeback",
                    TIMEBACK_API_URL=platform.url,
                    TIMEBACK_TOKEN_URL=platform.token_url,
                    TIMEBACK_CLIENT_ID=PLATFORM_CLIENT_ID,
                    TIMEBACK_CLIENT_SECRET=PLATFORM_CLIENT_SECRET,
                )
            else:
                load_roster(document, resources.table_name)
            os.environ.update(env or {})
            wiring.reset()
            reset_state()
            try:
                yield BenchService(resources, edulastic, mastery_track, platform)
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


def service_aws_clients() -> list[Any]:
    """The service's other AWS clients a request may use: KMS (student passwords) and Step
    Functions (start, wake)."""
    from exttests import wiring

    deps = wiring.deps()
    return [deps.cipher.client, deps.workflow.client]  # type: ignore[attr-defined]


def _item_kind(pk: str, sk: str) -> str:
    """The kind of an item of the single table, from its key (exttests.adapters.dynamo.keys)."""
    from exttests.adapters.dynamo import keys

    if pk.startswith("RESULT#"):
        return "attempt" if sk == "HEAD" else "attempt archive"
    if pk.startswith(keys.OUTBOX_PREFIX):
        return "event (outbox)"
    if pk.startswith("USER#") and sk.startswith("PROVIDER#"):
        return "provider account"
    if pk.startswith("USER#") and sk.startswith("ENROLLMENT#"):
        return "enrollment"
    prefixes = {
        "AR#": "result alias",
        "RCACHE#": "roster cache",
        "COURSE#": "course",
        "TRACK#": "subject track",
    }
    return next((kind for prefix, kind in prefixes.items() if pk.startswith(prefix)), "roster")


def item_layout() -> Any:
    from bench.counters import ItemLayout
    from exttests.adapters.dynamo import keys

    return ItemLayout(kind=_item_kind, index_pk=keys.GSI1PK, index_sk=keys.GSI1SK, due_prefix=keys.DUE)


def release_moto_memory(table: str) -> None:
    """Let go of what moto keeps for nobody in-process, between requests (moto 5.2.5 internals):
    the table's stream records (nothing reads them: the bench publishes the outbox itself), and
    moto's register of every model instance ever created (for its dashboard). moto deep-copies
    the whole table before every TransactWriteItems, and each copied item lands in that register:
    without this the bench slows down with every request and grows to tens of gigabytes."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.model_instances import reset_model_data
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].tables[table].stream_shard
    if shard is not None:
        shard.items.clear()
    reset_model_data()


def drop_roster_cache(table: str, student: str, lesson: str) -> None:
    """Forget the live roster's cached student, lesson and Subject Tracks: the next request is
    the first for them (or the first after the cache window)."""
    import boto3

    from exttests.adapters.dynamo import keys
    from exttests.adapters.live_roster import LESSON, STUDENT, TRACKS

    client = boto3.client("dynamodb")
    for kind, object_id in ((STUDENT, student), (LESSON, lesson), (TRACKS, "all")):
        client.delete_item(TableName=table, Key=keys.cached(kind, object_id))


def fill_roster_cache(student: str, lesson: str) -> None:
    """Read the student, the lesson and the Subject Tracks into the live roster's cache, as an
    earlier request inside the cache window would have."""
    from exttests import wiring

    deps = wiring.deps()
    deps.roster.refresh(deps.store.load_context(student, lesson), student, lesson)  # type: ignore[attr-defined]
    deps.roster.track_course("Math", "5", None)  # type: ignore[attr-defined]


def publisher_events_client() -> Any:
    """The EventBridge client of the outbox publisher function (its module-level publisher)."""
    from local.lambda_dispatch import load_module

    return load_module(ROOT / "functions" / "event_publisher").publisher().client


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
    from exttests.config import Settings
    from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
    from exttests.domain.models import LessonType, ToolProvider

    # Spread over the due view's shards as the service writes them (the default shard count).
    store = DynamoStore(table, due_shards=Settings().due_index_shards)
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
