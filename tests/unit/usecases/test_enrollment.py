"""Enrollment after finalization: the four rules, Subject Tracks, failures, and an enrollment left
pending by a crash finished exactly once by whoever comes next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exttests.adapters.dynamo import keys
from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from exttests.domain.events import EventType
from exttests.usecases import workflow_tasks as tasks
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.finalize import complete_enrollment
from exttests.usecases.results import import_results
from tests.fakes import FakeWorld, make_deps
from tests.fakes.deps import demo_roster
from tests.fakes.providers import SimulatedCrash
from tests.fakes.scenarios import (
    ADA,
    EDU_PLACEMENT,
    EDU_TESTOUT,
    EDU_UNIT,
    KATHERINE,
    MARY,
    MT_PLACEMENT,
    MT_TESTOUT,
    MT_UNIT,
    assigned,
    final_with_enrollment_pending,
    finished,
    head,
)


def final(world: FakeWorld, lesson: str, accuracy: float, student: str = ADA, **command: Any) -> Attempt:
    assigned(world, lesson, student, **command)
    return finished(world, lesson, accuracy, student)


def enrolled_courses(world: FakeWorld, student: str = ADA) -> list[str]:
    return [course for (who, course) in world.store.enrollments if who == student]


@pytest.mark.parametrize(
    ("lesson", "accuracy", "course"),
    [
        pytest.param(EDU_PLACEMENT, 40, "course-math-g5-foundations", id="placement-fail-courseIdOnFail"),
        pytest.param(MT_PLACEMENT, 89.99, "course-reading-g5", id="placement-fail-track-same-grade"),
        pytest.param(MT_TESTOUT, 90, "course-math-g6", id="test-out-mastered-track-next-grade"),
        pytest.param(EDU_TESTOUT, 100, "course-math-g6", id="test-out-mastered-pulled"),
    ],
)
def test_the_rules_that_call_for_an_enrollment_enroll_in_the_right_course(
    lesson: str, accuracy: float, course: str
) -> None:
    world = make_deps()
    attempt = final(world, lesson, accuracy)
    assert attempt.enrollment is EnrollmentStatus.ENROLLED and attempt.enrolled_course_id == course
    assert attempt.enrollment_failed is False
    assert enrolled_courses(world) == [course]
    enrollment = world.store.enrollments[(ADA, course)]
    assert enrollment["sourcedId"] == attempt.enrollment_id
    assert enrollment["user"] == {"sourcedId": ADA} and enrollment["course"] == {"sourcedId": course}
    assert enrollment["metadata"]["lessonId"] == lesson and enrollment["metadata"]["attempt"] == 1


@pytest.mark.parametrize(
    ("lesson", "accuracy"),
    [
        pytest.param(MT_PLACEMENT, 90, id="placement-mastered"),
        pytest.param(EDU_PLACEMENT, 100, id="placement-mastered-pulled"),
        pytest.param(MT_TESTOUT, 89.99, id="test-out-not-mastered"),
        pytest.param(MT_UNIT, 100, id="unit-test-mastered"),
        pytest.param(EDU_UNIT, 10, id="unit-test-failed"),
    ],
)
def test_the_rules_that_call_for_no_enrollment_enroll_nobody_and_nothing_failed(
    lesson: str, accuracy: float
) -> None:
    world = make_deps()
    attempt = final(world, lesson, accuracy)
    assert attempt.enrollment is EnrollmentStatus.NOT_DUE and attempt.enrollment_failed is False
    assert world.store.enrollments == {}
    assert not attempt.needs_workflow


def test_the_mastery_threshold_is_configurable() -> None:
    world = make_deps().with_settings(mastery_threshold=80)
    assert final(world, MT_TESTOUT, 85).enrolled_course_id == "course-math-g6"


@pytest.mark.parametrize("student", [KATHERINE, MARY])
def test_the_track_of_the_students_own_org_wins_over_the_global_one(student: str) -> None:
    # Katherine's primaryOrg and Mary's primary role are org-school-2, which has its own track.
    world = make_deps()
    attempt = final(world, MT_TESTOUT, 95, student=student)
    assert attempt.enrolled_course_id == "course-math-g6-school2"
    assert enrolled_courses(world, student) == ["course-math-g6-school2"]


def test_without_a_track_of_its_own_the_org_falls_back_to_the_global_track() -> None:
    world = make_deps()
    assert final(world, MT_PLACEMENT, 40, student=KATHERINE).enrolled_course_id == "course-reading-g5"


def with_test_out_grade(grade: object, *track_grades: str) -> dict[str, Any]:
    roster = demo_roster()
    for resource in roster["resources"]:
        if resource["sourcedId"] == "res-mt-testout-math-g5":
            resource["metadata"]["grade"] = grade
    roster["courses"] += [{"sourcedId": f"course-math-{g}", "title": f"Math {g}"} for g in track_grades]
    roster["subjectTracks"] += [
        {"subject": "Math", "grade": g, "courseId": f"course-math-{g}"} for g in track_grades
    ]
    return roster


@pytest.mark.parametrize(
    ("grade", "course"),
    [("KG", "course-math-1"), ("0", "course-math-1"), ("-1", "course-math-0"), (12, "course-math-13")],
)
def test_grade_plus_one_is_the_next_step_on_the_oneroster_scale(grade: object, course: str) -> None:
    world = make_deps(with_test_out_grade(grade, "0", "1", "13"))
    assert final(world, MT_TESTOUT, 100).enrolled_course_id == course


def test_a_test_out_of_the_top_grade_has_no_course_to_enroll_in() -> None:
    world = make_deps(with_test_out_grade("13", "13"))
    attempt = final(world, MT_TESTOUT, 100)
    assert attempt.finalized and attempt.enrollment_failed is True
    assert attempt.enrollment_error == "no grade above 13"


def test_no_subject_track_fails_the_enrollment_with_a_reason_and_nothing_else() -> None:
    world = make_deps()
    world.store.remove_roster_item(keys.subject_track("Reading", "5", None))
    attempt = final(world, MT_PLACEMENT, 40)
    assert attempt.finalized and attempt.score == 40 and attempt.xp == 0
    assert attempt.enrollment is EnrollmentStatus.FAILED and attempt.enrollment_failed is True
    assert attempt.enrollment_error == "no subject track for Reading grade 5"
    assert world.store.enrollments == {}
    assert not attempt.needs_workflow  # a failed enrollment is final too: nobody retries it


def test_a_lesson_without_a_subject_fails_the_enrollment() -> None:
    roster = demo_roster()
    for resource in roster["resources"]:
        if resource["sourcedId"] == "res-mt-testout-math-g5":
            del resource["metadata"]["subject"]
    attempt = final(make_deps(roster), MT_TESTOUT, 100, test_id="mt-test-42")
    assert (
        attempt.enrollment_failed is True and attempt.enrollment_error == "the lesson has no subject or grade"
    )


def test_a_course_that_does_not_exist_fails_the_enrollment() -> None:
    world = make_deps()
    world.store.remove_roster_item(keys.course("course-math-g5-foundations"))
    attempt = final(world, EDU_PLACEMENT, 0)
    assert attempt.enrollment_failed is True
    assert attempt.enrollment_error == "course 'course-math-g5-foundations' does not exist"
    assert world.store.enrollments == {}


def test_skip_course_enrollment_enrolls_nobody_and_is_not_a_failure() -> None:
    world = make_deps()
    attempt = final(world, EDU_PLACEMENT, 0, skip_course_enrollment=True)
    assert attempt.enrollment is EnrollmentStatus.SKIPPED and attempt.enrollment_failed is False
    assert world.store.enrollments == {}
    assert (
        world.store.events_of(EventType.ENROLLED) == world.store.events_of(EventType.ENROLLMENT_FAILED) == []
    )


def test_skip_course_enrollment_applies_to_its_attempt_only() -> None:
    world = make_deps()
    final(world, EDU_PLACEMENT, 0, skip_course_enrollment=True)
    assert final(world, EDU_PLACEMENT, 0).enrollment is EnrollmentStatus.ENROLLED


def test_enrolling_in_the_same_course_twice_keeps_the_first_enrollment() -> None:
    world = make_deps()
    first = final(world, EDU_PLACEMENT, 10)
    second = final(world, EDU_PLACEMENT, 20)
    assert second.attempt == 2 and second.enrollment is EnrollmentStatus.ENROLLED
    assert second.enrollment_id == first.enrollment_id
    assert enrolled_courses(world) == ["course-math-g5-foundations"]
    assert world.store.enrollments[(ADA, "course-math-g5-foundations")]["metadata"]["attempt"] == 1


# --- an enrollment left pending (a crash between "final" and "enrolled") ---------------------


def by_complete_enrollment(world: FakeWorld) -> Attempt:
    ctx = world.store.load_context(ADA, MT_TESTOUT)
    assert ctx.lesson is not None
    return complete_enrollment(world.deps, head(world, MT_TESTOUT), ctx.lesson, ctx.student)


def by_the_workflows_enroll_task(world: FakeWorld) -> Attempt:
    assert tasks.enroll(world.deps, ADA, MT_TESTOUT, 1)["enrollment"] == "enrolled"
    return head(world, MT_TESTOUT)


def by_the_workflows_poll(world: FakeWorld) -> Attempt:
    assert tasks.poll(world.deps, ADA, MT_TESTOUT, 1, 0, [])["finalized"] is True
    return head(world, MT_TESTOUT)


def by_an_import(world: FakeWorld) -> Attempt:
    return import_results(world.deps, ADA, MT_TESTOUT).attempt


def by_the_next_assign(world: FakeWorld) -> Attempt:
    assert assign(world.deps, AssignCommand(ADA, MT_TESTOUT)).attempt.attempt == 2
    attempt = world.store.get_attempt(ADA, MT_TESTOUT, 1)
    assert attempt is not None
    return attempt


COMPLETIONS = [
    by_complete_enrollment,
    by_the_workflows_enroll_task,
    by_the_workflows_poll,
    by_an_import,
    by_the_next_assign,
]


@pytest.mark.parametrize("complete", COMPLETIONS)
def test_an_enrollment_left_pending_is_completed_once(complete: Callable[[FakeWorld], Attempt]) -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    pending = final_with_enrollment_pending(world, MT_TESTOUT, accuracy=95)
    assert pending.finalized and pending.enrollment is EnrollmentStatus.PENDING and pending.needs_workflow

    done = complete(world)
    complete(world)

    assert done.enrollment is EnrollmentStatus.ENROLLED and done.enrolled_course_id == "course-math-g6"
    assert not done.needs_workflow
    assert enrolled_courses(world) == ["course-math-g6"]
    assert len(world.store.events_of(EventType.ENROLLED)) == 1
    assert world.store.events_of(EventType.FINALIZED) == []  # it was final already
    assert world.mastery_track.calls["assign"] == (2 if complete is by_the_next_assign else 1)


def test_a_crash_right_after_the_enrollment_was_stored_is_not_enrolled_again() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    final_with_enrollment_pending(world, MT_TESTOUT, accuracy=95)
    world.store.crash_after("save_enrollment")
    with pytest.raises(SimulatedCrash):
        by_the_workflows_enroll_task(world)

    by_the_workflows_enroll_task(world)  # the state machine retries the task

    assert head(world, MT_TESTOUT).enrollment is EnrollmentStatus.ENROLLED
    assert len(world.store.events_of(EventType.ENROLLED)) == 1
    assert world.store.calls["save_enrollment"] == 1


def test_two_tasks_finishing_the_same_pending_enrollment_at_once_write_it_once() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    final_with_enrollment_pending(world, MT_TESTOUT, accuracy=95)
    winner: list[Attempt] = []
    world.store.before_next("save_enrollment", lambda: winner.append(by_the_workflows_enroll_task(world)))

    done = by_an_import(world)  # loses the race to the enroll task, re-reads, finds it done

    assert done == winner[0] == head(world, MT_TESTOUT)  # not written a second time
    assert len(world.store.events_of(EventType.ENROLLED)) == 1


def test_an_enrollment_write_that_failed_leaves_it_pending_for_the_retry() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    final_with_enrollment_pending(world, MT_TESTOUT, accuracy=95)
    world.store.fail_next("save_enrollment", ConnectionError("DynamoDB unreachable"))
    with pytest.raises(ConnectionError):
        by_the_workflows_enroll_task(world)
    assert head(world, MT_TESTOUT).enrollment is EnrollmentStatus.PENDING
    assert world.store.enrollments == {}

    assert by_the_workflows_enroll_task(world).enrollment is EnrollmentStatus.ENROLLED
    assert len(world.store.events_of(EventType.ENROLLED)) == 1


def test_the_finalizing_write_carries_its_enrollment_so_no_crash_can_separate_them() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    world.store.crash_after("save_enrollment")
    with pytest.raises(SimulatedCrash):
        finished(world, MT_TESTOUT, 95)
    stored = head(world, MT_TESTOUT)
    assert stored.status is AttemptStatus.FINALIZED and stored.enrollment is EnrollmentStatus.ENROLLED
    assert world.store.calls["save"] == 1  # only the assignment: final and enrolled were one write
