"""The transition to final, and the enrollment the rules call for after it.

A change that makes an attempt final is written together with its enrollment (one transaction,
the course's existence checked inside it), so there is no moment where the attempt is final
and its enrollment lost. An enrollment left pending (an older version, a crash) is finished by
`complete_enrollment`, once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from ..domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from ..domain.models import Lesson, Student
from ..domain.rules import plan_enrollment, xp_for
from ..observability import logger
from ..ports import CourseMissing
from .attempts import Change, persist, retry_on_conflict
from .deps import Deps, iso


def finalize(deps: Deps, attempt: Attempt, lesson: Lesson) -> Attempt:
    """The attempt as it is on the transition to final: XP fixed, enrollment planned."""
    now = deps.clock.now()
    multiplier, xp = xp_for(lesson.xp, attempt.accuracy, attempt.attempt)
    plan = plan_enrollment(lesson, attempt, deps.settings.mastery_threshold)
    return attempt.evolve(
        {
            "status": AttemptStatus.FINALIZED,
            "finalized_at": iso(now),
            "multiplier": multiplier,
            "xp": xp,
            "enrollment": plan.status,
            "lease_until": None,
            # Only still pending when an enrollment is owed; the sweeper finishes it if we crash.
            "due_at": iso(now + timedelta(seconds=deps.settings.sweeper_grace_seconds)),
        }
    )


def apply_results(
    deps: Deps, attempt: Attempt, change: Change, lesson: Lesson, student: Student | None
) -> Attempt:
    """Apply new results (None = nothing to do); a change that makes the attempt final is saved
    with the enrollment it owes. Retries on concurrent updates."""
    target: EnrollmentTarget | None = None

    def step(current: Attempt) -> Attempt:
        nonlocal target
        changed = change(current)
        if changed is None:
            return current
        if not current.is_final and changed.enrollment is EnrollmentStatus.PENDING:
            target = target or resolve_enrollment(deps, changed, lesson, student)
            return _save_with_enrollment(deps, current, changed, target)
        return persist(deps, current, changed)

    return retry_on_conflict(deps, attempt, step)


@dataclass(frozen=True)
class EnrollmentTarget:
    course_id: str | None
    error: str | None


def resolve_enrollment(
    deps: Deps, attempt: Attempt, lesson: Lesson, student: Student | None
) -> EnrollmentTarget:
    """Which course the rules enroll in, or why they cannot (→ enrollmentFailed)."""
    plan = plan_enrollment(lesson, attempt, deps.settings.mastery_threshold)
    if plan.reason is not None or plan.course_id is not None:
        return EnrollmentTarget(plan.course_id, plan.reason)
    assert plan.track_subject is not None and plan.track_grade is not None
    org = student.primary_org if student else None
    course_id = deps.store.find_track_course(plan.track_subject, plan.track_grade, org)
    if course_id is None:
        return EnrollmentTarget(None, f"no subject track for {plan.track_subject} grade {plan.track_grade}")
    return EnrollmentTarget(course_id, None)


def _save_with_enrollment(deps: Deps, before: Attempt, attempt: Attempt, target: EnrollmentTarget) -> Attempt:
    error = target.error
    if target.course_id is not None and error is None:
        record = _enrollment_record(attempt, target.course_id, iso(deps.clock.now()))
        enrolled = attempt.evolve(
            {
                "enrollment": EnrollmentStatus.ENROLLED,
                "enrolled_course_id": target.course_id,
                "enrollment_id": record["sourcedId"],
            }
        )
        try:
            return persist(deps, before, enrolled, enrollment=(target.course_id, record))
        except CourseMissing:
            error = f"course '{target.course_id}' does not exist"
    logger.info("enrollment failed", extra={"reason": error})
    failed = attempt.evolve({"enrollment": EnrollmentStatus.FAILED, "enrollment_error": error})
    return persist(deps, before, failed)


def complete_enrollment(deps: Deps, attempt: Attempt, lesson: Lesson, student: Student | None) -> Attempt:
    """Finish an enrollment left pending (a crash between "final" and "enrolled"), once."""
    if attempt.enrollment is not EnrollmentStatus.PENDING:
        return attempt
    target = resolve_enrollment(deps, attempt, lesson, student)

    def step(current: Attempt) -> Attempt:
        if current.enrollment is not EnrollmentStatus.PENDING:
            return current
        return _save_with_enrollment(deps, current, current, target)

    return retry_on_conflict(deps, attempt, step)


def _enrollment_record(attempt: Attempt, course_id: str, now: str) -> dict[str, object]:
    """A OneRoster-shaped enrollment; the id is derived so a repeat writes the same record."""
    sourced_id = uuid.uuid5(uuid.NAMESPACE_URL, f"enrollment:{attempt.student_id}:{course_id}")
    return {
        "sourcedId": f"enr-{sourced_id}",
        "status": "active",
        "dateLastModified": now,
        "role": "student",
        "primary": False,
        "beginDate": now[:10],
        "user": {"sourcedId": attempt.student_id},
        "course": {"sourcedId": course_id},
        "metadata": {
            "source": "external-test",
            "lessonId": attempt.lesson_id,
            "attempt": attempt.attempt,
            "lessonType": attempt.lesson_type.value,
        },
    }
