"""What an operator does by hand, on fakes: show, list, redrive, retry a failed enrollment —
each with the automatic paths' exactly-once guarantees."""

from __future__ import annotations

import pytest

from exttests.domain.attempt import AttemptStatus, EnrollmentStatus
from exttests.domain.events import EventType
from exttests.errors import BadRequest, NotFound, ProviderUnavailable
from exttests.ports import AttemptView
from exttests.providers.base import WorkflowWait
from exttests.usecases import operations
from exttests.usecases.results import import_results
from tests.fakes import make_deps
from tests.fakes.deps import FakeWorld
from tests.fakes.scenarios import ADA, EDU_TESTOUT, assigned, head


def _fail_an_enrollment(world: FakeWorld) -> None:
    """A mastered test-out whose grade-6 track course is missing from the roster: enrollment failed."""
    world.store.remove_roster_item({"PK": {"S": "COURSE#course-math-g6"}, "SK": {"S": "COURSE"}})
    attempt = assigned(world, EDU_TESTOUT)
    assert attempt.assignment_id is not None
    world.edulastic.answer(attempt.assignment_id, [1.0] * 5)
    final = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert final.enrollment is EnrollmentStatus.FAILED


def test_show_tells_the_attempt_its_history_its_workflow_and_its_enrollment() -> None:
    world = make_deps()
    attempt = assigned(world, EDU_TESTOUT)
    report = operations.show_attempt(world.deps, ADA, EDU_TESTOUT)
    assert report.attempt.sourced_id == attempt.sourced_id
    assert [a.attempt for a in report.history] == [1]
    assert report.execution is not None and report.execution.status == "RUNNING"
    assert report.enrollment is None
    assert operations.show_result(world.deps, attempt.sourced_id).attempt.attempt == 1
    with pytest.raises(NotFound):
        operations.show_attempt(world.deps, ADA, EDU_TESTOUT, 2)


def test_lists_show_stuck_attempts_and_failed_enrollments() -> None:
    world = make_deps()
    _fail_an_enrollment(world)
    failed = operations.list_attempts(world.deps, AttemptView.ENROLLMENT_FAILED)
    assert [(k.student, k.lesson) for k in failed.keys] == [(ADA, EDU_TESTOUT)]
    assigned(world, "lesson-mt-testout-math-g5")
    assert operations.list_attempts(world.deps, AttemptView.DUE, stuck_only=True).keys == []
    world.clock.advance(10 * 3600)  # past the callback timeout and the sweeper's grace
    stuck = operations.list_attempts(world.deps, AttemptView.DUE, stuck_only=True)
    assert [k.lesson for k in stuck.keys] == ["lesson-mt-testout-math-g5"]


def test_a_failed_enrollment_retried_by_hand_is_made_once_with_its_event() -> None:
    world = make_deps()
    _fail_an_enrollment(world)
    world.store.load_roster({"courses": [{"sourcedId": "course-math-g6", "title": "Math 6"}]})  # fixed
    retried = operations.retry_enrollment(world.deps, ADA, EDU_TESTOUT)
    assert retried.attempt.enrollment is EnrollmentStatus.ENROLLED and retried.redriven is None
    assert list(world.store.enrollments) == [(ADA, "course-math-g6")]
    assert [
        e.detail_type for e in world.store.outbox if e.detail_type.value.startswith(("Student", "Enroll"))
    ] == [
        EventType.ENROLLMENT_FAILED,
        EventType.ENROLLED,
    ]
    with pytest.raises(BadRequest):  # nothing left to retry
        operations.retry_enrollment(world.deps, ADA, EDU_TESTOUT)
    assert list(world.store.enrollments) == [(ADA, "course-math-g6")]


def test_a_retry_the_platform_cannot_take_yet_keeps_retrying_in_a_restarted_workflow() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    attempt = assigned(world, EDU_TESTOUT)
    assert attempt.assignment_id is not None
    world.edulastic.answer(attempt.assignment_id, [1.0] * 5)
    world.platform.fail_next("enroll", ProviderUnavailable("timeback", "down"), times=100)
    import_results(world.deps, ADA, EDU_TESTOUT)
    world.clock.advance(world.deps.settings.enrollment_deadline_seconds + 1)
    from exttests.usecases.workflow_tasks import enroll

    assert enroll(world.deps, ADA, EDU_TESTOUT, 1)["enrollment"] == "failed"
    retried = operations.retry_enrollment(world.deps, ADA, EDU_TESTOUT)
    assert retried.attempt.enrollment is EnrollmentStatus.PENDING
    assert retried.redriven is not None and retried.redriven.endswith("-g1")
    assert world.platform.enrolled(ADA, "course-math-g6") == 0


def test_redrive_starts_a_new_generation_and_stops_the_running_one() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    before = head(world, EDU_TESTOUT)
    done = operations.redrive(world.deps, ADA, EDU_TESTOUT)
    assert done.stopped_previous is True
    assert done.attempt.workflow_generation == before.workflow_generation + 1
    assert done.execution.endswith("-g1") and world.workflow.started[done.execution] is WorkflowWait.POLL
    assert head(world, EDU_TESTOUT).status is AttemptStatus.ASSIGNED


def test_redrive_refuses_an_attempt_that_needs_no_workflow() -> None:
    world = make_deps()
    attempt = assigned(world, EDU_TESTOUT)
    assert attempt.assignment_id is not None
    world.edulastic.answer(attempt.assignment_id, [0.0] * 5)  # not mastered: no enrollment due
    import_results(world.deps, ADA, EDU_TESTOUT)
    with pytest.raises(BadRequest):
        operations.redrive(world.deps, ADA, EDU_TESTOUT)
