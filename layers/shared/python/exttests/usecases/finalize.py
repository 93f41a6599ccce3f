"""Applying new results to an attempt, the transition to final, and the enrollment after it.

Every change goes through `update_attempt`, which re-reads and re-applies on a version
conflict, so an import, a write-back and a workflow task racing on one attempt all land.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ..domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from ..domain.models import Lesson, Student
from ..domain.rules import plan_enrollment, xp_for
from ..errors import ConflictRetryExhausted
from ..ports import CourseMissing, VersionConflict
from .deps import Deps, iso

log = logging.getLogger(__name__)

_MAX_CONFLICTS = 25

Change = Callable[[Attempt], Attempt | None]


def update_attempt(
    deps: Deps,
    attempt: Attempt,
    change: Change,
    *,
    lesson: Lesson | None = None,
    student: Student | None = None,
) -> Attempt:
    """Apply `change` (None = nothing to do) and save, retrying on concurrent updates.

    When the change makes the attempt final and an enrollment is owed (and the lesson is
    given), the final state and the enrollment are written in one transaction: there is no
    moment where the attempt is final but the enrollment is lost."""
    target: EnrollmentTarget | None = None
    for _ in range(_MAX_CONFLICTS):
        changed = change(attempt)
        if changed is None:
            return attempt
        changed.updated_at = iso(deps.clock.now())
        try:
            if lesson is not None and not attempt.is_final and changed.enrollment == EnrollmentStatus.PENDING:
                target = target or resolve_enrollment(deps, changed, lesson, student)
                return _save_with_enrollment(deps, changed, target)
            return deps.store.save(changed)
        except VersionConflict:
            fresh = deps.store.get_attempt(attempt.student_id, attempt.lesson_id, attempt.attempt)
            if fresh is None:
                return attempt
            attempt = fresh
    raise ConflictRetryExhausted("the attempt is being updated by others, retry", retry_after=1)


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
    try:
        org = student.primary_org if student else None
        course_id = deps.store.find_track_course(plan.track_subject, plan.track_grade, org)
    except Exception as exc:  # noqa: BLE001 - an enrollment error must not fail the import
        log.exception("subject track lookup failed")
        return EnrollmentTarget(None, f"enrollment failed: {type(exc).__name__}")
    if course_id is None:
        return EnrollmentTarget(None, f"no subject track for {plan.track_subject} grade {plan.track_grade}")
    return EnrollmentTarget(course_id, None)


def _save_with_enrollment(deps: Deps, attempt: Attempt, target: EnrollmentTarget) -> Attempt:
    error = target.error
    if target.course_id is not None and error is None:
        enrolled = attempt.evolve(
            {"enrollment": EnrollmentStatus.ENROLLED, "enrolled_course_id": target.course_id}
        )
        record = _enrollment_record(attempt, target.course_id, iso(deps.clock.now()))
        try:
            return deps.store.save_enrollment(enrolled, target.course_id, record)
        except CourseMissing:
            error = f"course '{target.course_id}' does not exist"
    log.info("enrollment failed", extra={"reason": error, "attempt": attempt.attempt})
    failed = attempt.evolve({"enrollment": EnrollmentStatus.FAILED, "enrollment_error": error})
    return deps.store.save(failed)


def complete_enrollment(deps: Deps, attempt: Attempt, lesson: Lesson, student: Student | None) -> Attempt:
    """Finish an enrollment left pending (a crash between "final" and "enrolled"), once."""
    if attempt.enrollment != EnrollmentStatus.PENDING:
        return attempt
    target = resolve_enrollment(deps, attempt, lesson, student)
    for _ in range(_MAX_CONFLICTS):
        if attempt.enrollment != EnrollmentStatus.PENDING:
            return attempt
        try:
            return _save_with_enrollment(deps, attempt.evolve({"updated_at": iso(deps.clock.now())}), target)
        except VersionConflict:
            fresh = deps.store.get_attempt(attempt.student_id, attempt.lesson_id, attempt.attempt)
            if fresh is None:
                return attempt
            attempt = fresh
    raise ConflictRetryExhausted("the attempt is being updated by others, retry", retry_after=1)


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
            "lessonType": attempt.lesson_type,
        },
    }
