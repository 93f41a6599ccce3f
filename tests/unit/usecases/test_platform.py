"""The live TimeBack roster and EduBridge enrollments, on fakes: the cache makes hot paths free,
the rules answer as with the table, and an enrollment reaches the platform exactly once."""

from __future__ import annotations

import threading

import pytest

from exttests.domain.attempt import AttemptStatus, EnrollmentStatus
from exttests.domain.events import EventType
from exttests.errors import NotFound, ProviderRejected, ProviderUnavailable
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.progress import get_progress
from exttests.usecases.results import import_results
from exttests.usecases.workflow_tasks import enroll
from tests.fakes import make_deps
from tests.fakes.deps import FakeWorld
from tests.fakes.providers import SimulatedCrash

EDU = "lesson-edu-testout-math-g5"  # test-out, Math grade 5: mastered → the grade-6 track course
ADA = "student-ada"


def _finish_mastered(world: FakeWorld) -> str:
    attempt = assign(world.deps, AssignCommand(ADA, EDU)).attempt
    assert attempt.assignment_id is not None
    world.edulastic.answer(attempt.assignment_id, [1.0] * 10)
    return attempt.assignment_id


def test_a_second_request_within_the_cache_window_makes_no_platform_call() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    assign(world.deps, AssignCommand(ADA, EDU))
    first = sum(world.platform.calls.values())
    assert first == 3  # user, lesson (component resource), its resource
    assign(world.deps, AssignCommand(ADA, EDU))
    import_results(world.deps, ADA, EDU)
    get_progress(world.deps, ADA, EDU, None)
    assert sum(world.platform.calls.values()) == first


def test_the_cache_is_read_again_from_the_platform_after_its_window() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    get_progress(world.deps, ADA, EDU, None)
    world.clock.advance(301)
    get_progress(world.deps, ADA, EDU, None)
    assert world.platform.calls["user"] == 2


def test_objects_the_platform_marks_tobedeleted_do_not_exist_and_absence_is_cached_too() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    world.platform.users[ADA]["status"] = "tobedeleted"
    for _ in range(2):
        with pytest.raises(NotFound):
            assign(world.deps, AssignCommand(ADA, EDU))
    assert world.platform.calls["user"] == 1


def test_the_enrollment_the_rules_call_for_is_made_on_the_platform_once() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    final = import_results(world.deps, ADA, EDU).attempt
    assert final.finalized and final.enrollment is EnrollmentStatus.ENROLLED
    assert final.enrolled_course_id == "course-math-g6"
    assert world.platform.enrolled(ADA, "course-math-g6") == 1
    (record,) = world.platform.enrollment_records
    assert record["school"]["id"] == "org-school-1"  # the student's primary org
    (enrolled,) = world.store.events_of(EventType.ENROLLED)
    assert enrolled.detail["enrollmentId"] == record["id"]
    import_results(world.deps, ADA, EDU)
    enroll(world.deps, ADA, EDU, 1)
    assert world.platform.calls["enroll"] == 1


def test_twenty_concurrent_finalizations_make_one_platform_enrollment() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            import_results(world.deps, ADA, EDU)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert world.platform.enrolled(ADA, "course-math-g6") == 1
    head = world.store.head(ADA, EDU)
    assert head is not None and head.enrollment is EnrollmentStatus.ENROLLED
    assert len(world.store.events_of(EventType.FINALIZED)) == 1
    assert len(world.store.events_of(EventType.ENROLLED)) == 1


def test_a_crash_after_the_platform_accepted_is_finished_without_a_second_enrollment() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    world.platform.fail_after_acting("enroll", SimulatedCrash("killed after EduBridge answered"))
    with pytest.raises(SimulatedCrash):
        import_results(world.deps, ADA, EDU)
    head = world.store.head(ADA, EDU)
    assert head is not None and head.enrollment is EnrollmentStatus.PENDING
    # The workflow's Enroll step retries for the same attempt: it looks on the platform first.
    assert enroll(world.deps, ADA, EDU, 1)["enrollment"] == "enrolled"
    assert world.platform.enrolled(ADA, "course-math-g6") == 1
    assert world.platform.calls["enrollments"] == 1  # the taker-over looked first


def test_another_attempt_waits_for_a_live_claim_then_takes_it_over_and_looks_first() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    world.store.claim_enrollment(ADA, "course-math-g6", "another-attempt", world.clock.now().timestamp() + 60)
    final = import_results(world.deps, ADA, EDU).attempt
    assert final.enrollment is EnrollmentStatus.PENDING  # the other holder is still at it
    assert enroll(world.deps, ADA, EDU, 1)["retrying"] == "Busy"
    world.clock.advance(61)  # it died: its claim runs out
    assert enroll(world.deps, ADA, EDU, 1)["enrollment"] == "enrolled"
    assert world.platform.calls["enrollments"] == 1
    assert world.platform.enrolled(ADA, "course-math-g6") == 1


def test_a_platform_outage_leaves_the_enrollment_pending_until_it_can_be_made() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    world.platform.fail_next("enroll", ProviderUnavailable("timeback", "HTTP 503 after 4 attempts"), times=3)
    final = import_results(world.deps, ADA, EDU).attempt
    assert final.finalized and final.enrollment is EnrollmentStatus.PENDING  # the import itself is fine
    progress = get_progress(world.deps, ADA, EDU, None)
    assert progress.attempt is not None and progress.attempt.enrollment_failed is False
    for step in range(2):
        pending = enroll(world.deps, ADA, EDU, 1, step)
        assert pending["enrollment"] == "pending" and pending["retrying"] == "ProviderUnavailable"
    assert pending["waitSeconds"] == world.deps.settings.waits[1]  # backing off
    assert enroll(world.deps, ADA, EDU, 1)["enrollment"] == "enrolled"
    assert world.platform.enrolled(ADA, "course-math-g6") == 1


def test_an_enrollment_still_failing_after_its_deadline_is_marked_failed() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    world.platform.fail_next("enroll", ProviderUnavailable("timeback", "down"), times=100)
    import_results(world.deps, ADA, EDU)
    world.clock.advance(world.deps.settings.enrollment_deadline_seconds + 1)
    assert enroll(world.deps, ADA, EDU, 1)["enrollment"] == "failed"
    head = world.store.head(ADA, EDU)
    assert head is not None and head.enrollment_failed is True
    (failed,) = world.store.events_of(EventType.ENROLLMENT_FAILED)
    assert "deadline" in failed.detail["reason"]


def test_a_refused_enrollment_fails_at_once() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    _finish_mastered(world)
    world.platform.fail_next("enroll", ProviderRejected("timeback", "course not found", 404))
    final = import_results(world.deps, ADA, EDU).attempt
    assert final.status is AttemptStatus.FINALIZED and final.enrollment is EnrollmentStatus.FAILED
    assert world.metrics.total("EnrollmentFailed") == 1


def test_a_course_the_platform_does_not_have_fails_the_enrollment_without_an_enroll_call() -> None:
    world = make_deps(live=True)
    assert world.platform is not None
    world.platform.courses.pop("course-math-g6")
    _finish_mastered(world)
    final = import_results(world.deps, ADA, EDU).attempt
    assert final.enrollment is EnrollmentStatus.FAILED
    assert "course 'course-math-g6' does not exist" in (final.enrollment_error or "")
    assert world.platform.calls["enroll"] == 0
