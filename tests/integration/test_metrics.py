"""Every business and health metric, captured as the EMF lines the real handlers print, on the
path that emits it (namespace and dimensions as the alarms and the dashboard read them)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from exttests import wiring
from exttests.adapters.dynamo import keys
from tests.integration.test_results import ADA, EDU_TESTOUT, MT_TESTOUT, finish, writeback_body

ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]


class Emitted:
    """The EMF metrics printed to stdout since the last `take`."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def take(self) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
        found: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        for line in self.capsys.readouterr().out.splitlines():
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            blob = json.loads(line)
            (directive,) = blob["_aws"]["CloudWatchMetrics"]
            assert directive["Namespace"] == "ExternalTests"
            (dimension_names,) = directive["Dimensions"]
            dimensions = tuple(sorted((name, blob[name]) for name in dimension_names))
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found[(metric["Name"], dimensions)] += sum(value) if isinstance(value, list) else value
        return found


def service_only(name: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, (("service", "external-tests"),)


def per_lesson(name: str, provider: str, lesson_type: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, (("lessonType", lesson_type), ("provider", provider), ("service", "external-tests"))


def per_provider(name: str, provider: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, (("provider", provider), ("service", "external-tests"))


@pytest.fixture
def emitted(service: Any, capsys: pytest.CaptureFixture[str]) -> Emitted:
    capsys.readouterr()
    return Emitted(capsys)


def test_assign_import_finalize_and_enroll_are_counted_where_they_happen(
    service: Any, emitted: Emitted
) -> None:
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    first = emitted.take()
    assert first[per_lesson("AssignmentCreated", "edulastic", "test-out")] == 1
    assert first[per_provider("ProviderCalls", "edulastic")] >= 1

    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    assert emitted.take()[per_lesson("AssignmentReused", "edulastic", "test-out")] == 1

    finish(service, EDU_TESTOUT, ALL_CORRECT)
    assert service.import_results(ADA, EDU_TESTOUT)[1]["finalized"] is True
    done = emitted.take()
    assert done[per_lesson("ResultsImported", "edulastic", "test-out")] == 1
    assert done[per_lesson("TestFinalized", "edulastic", "test-out")] == 1
    assert done[service_only("StudentEnrolled")] == 1


def test_write_backs_and_failed_enrollments_are_counted(service: Any, emitted: Emitted) -> None:
    # A mastered test-out whose grade-6 track course is missing from the roster: enrollment fails.
    boto3.client("dynamodb").delete_item(TableName=service.table, Key=keys.course("course-math-g6"))
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    sourced_id = service.wait_for_callback(ADA, MT_TESTOUT).sourced_id
    emitted.take()
    assert service.write_back(sourced_id, writeback_body(score=95))[0] == 200
    written = emitted.take()
    assert written[service_only("WriteBackReceived")] == 1
    assert written[per_lesson("TestFinalized", "mastery-track", "test-out")] == 1
    assert written[service_only("EnrollmentFailed")] == 1


def test_provider_failures_and_the_opened_circuit_are_counted_per_provider(
    service: Any, emitted: Emitted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVIDER_BREAKER_THRESHOLD", "1")
    monkeypatch.setenv("PROVIDER_MAX_ATTEMPTS", "1")
    wiring.reset()
    service.edulastic_control("faults", {"outage": True})
    assert service.assign(ADA, EDU_TESTOUT)[0] == 502
    failed = emitted.take()
    assert failed[per_provider("ProviderCallFailed", "edulastic")] == 1
    assert failed[per_provider("CircuitOpened", "edulastic")] == 1


def test_the_sweeper_counts_its_restarts_its_errors_and_the_oldest_overdue_attempt(
    service: Any, emitted: Emitted
) -> None:
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    deps = wiring.deps()
    head = deps.store.get_head(ADA, EDU_TESTOUT)
    assert head is not None
    overdue = datetime.now(UTC) - timedelta(minutes=30)
    # As if its execution had never started, and the sweeper's grace had passed.
    deps.store.save(head.evolve({"due_at": overdue.isoformat(), "workflow_started": False}))
    emitted.take()
    service.invoke("sweeper", {"source": "aws.events", "detail-type": "Scheduled Event"})
    swept = emitted.take()
    assert swept[service_only("SweeperRestarted")] == 1
    assert swept[service_only("SweeperErrors")] == 0
    assert swept[service_only("OldestOverdueAttemptSeconds")] >= 30 * 60


def test_an_expiry_is_counted(service: Any, emitted: Emitted, monkeypatch: pytest.MonkeyPatch) -> None:
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    deps = wiring.deps()
    head = deps.store.get_head(ADA, EDU_TESTOUT)
    assert head is not None
    deps.store.save(head.evolve({"deadline": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}))
    emitted.take()
    answer: dict[str, Any] = service.invoke(
        "workflow_tasks", {"task": "poll", "student": ADA, "lesson": EDU_TESTOUT, "attempt": 1, "step": 0}
    )
    assert answer["expired"] is True
    assert emitted.take()[service_only("AttemptExpired")] == 1
