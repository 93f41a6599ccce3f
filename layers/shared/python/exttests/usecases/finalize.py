"""The transition to final, and the enrollment the rules call for after it.

When the table is the roster, a change that makes an attempt final is written together with its
enrollment record (one transaction, the course's existence checked inside it): there is no moment
where the attempt is final and its enrollment lost.

When the enrollment is made on the learning platform, the final state is written with the
enrollment pending and its course; then the enrollment is carried out once per (student, course):
a claim in the table lets one caller at a time talk to the platform, a caller that takes an
expired claim over looks on the platform first (its predecessor may have enrolled before it
died), and the platform's answer is committed together with the attempt. A transient platform
failure leaves the enrollment pending for the workflow to retry with backoff; a refusal, or the
enrollment deadline passing, marks it failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import budget
from ..domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from ..domain.models import Lesson, Student
from ..domain.rules import enrollment_sourced_id, plan_enrollment, xp_for
from ..errors import TRANSIENT_ERRORS, Busy, ProviderRejected
from ..observability import logger
from ..ports import ClaimStatus, CourseMissing, Enroller
from .attempts import Change, persist, retry_on_conflict
from .deps import Deps, iso

# How long one caller may talk to the platform about an enrollment before another takes over.
ENROLLMENT_CLAIM_SECONDS = 60.0


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
            "enrollment_deadline": iso(now + timedelta(seconds=deps.settings.enrollment_deadline_seconds)),
            "lease_until": None,
            # Only still pending when an enrollment is owed; the sweeper finishes it if we crash.
            "due_at": iso(now + timedelta(seconds=deps.settings.sweeper_grace_seconds)),
        }
    )


def apply_results(
    deps: Deps, attempt: Attempt, change: Change, lesson: Lesson, student: Student | None
) -> Attempt:
    """Apply new results (None = nothing to do); a change that makes the attempt final is saved
    with the enrollment it owes, which is then carried out. Retries on concurrent updates."""
    target: EnrollmentTarget | None = None

    def step(current: Attempt) -> Attempt:
        nonlocal target
        changed = change(current)
        if changed is None:
            return current
        if not current.is_final and changed.enrollment is EnrollmentStatus.PENDING:
            target = target or resolve_enrollment(deps, changed, lesson, student)
            return _record_enrollment(deps, current, changed, target)
        return persist(deps, current, changed)

    saved = retry_on_conflict(deps, attempt, step)
    return _try_platform_enrollment(deps, saved, student)


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
    course_id = deps.roster.track_course(plan.track_subject, plan.track_grade, org)
    if course_id is None:
        return EnrollmentTarget(None, f"no subject track for {plan.track_subject} grade {plan.track_grade}")
    return EnrollmentTarget(course_id, None)


def _record_enrollment(deps: Deps, before: Attempt, attempt: Attempt, target: EnrollmentTarget) -> Attempt:
    """Write the attempt with its enrollment: made (table), planned (platform) or failed."""
    if target.course_id is None or target.error is not None:
        return _fail(deps, before, attempt, target.error or "no course to enroll in")
    if deps.enroller is not None:
        return persist(deps, before, attempt.evolve({"enrolled_course_id": target.course_id}))
    record = enrollment_record(attempt, target.course_id, iso(deps.clock.now()))
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
        return _fail(deps, before, attempt, f"course '{target.course_id}' does not exist")


def _fail(deps: Deps, before: Attempt, attempt: Attempt, reason: str) -> Attempt:
    logger.info("enrollment failed", extra={"reason": reason})
    failed = attempt.evolve({"enrollment": EnrollmentStatus.FAILED, "enrollment_error": reason})
    return persist(deps, before, failed)


def complete_enrollment(deps: Deps, attempt: Attempt, lesson: Lesson, student: Student | None) -> Attempt:
    """Finish an enrollment left pending (a crash, a platform outage), once. Transient platform
    failures raise (ProviderUnavailable, Busy) so the workflow retries with backoff."""
    if attempt.enrollment is not EnrollmentStatus.PENDING:
        return attempt
    if attempt.enrolled_course_id is None or deps.enroller is None:
        target = resolve_enrollment(deps, attempt, lesson, student)

        def record(current: Attempt) -> Attempt:
            if current.enrollment is not EnrollmentStatus.PENDING:
                return current
            return _record_enrollment(deps, current, current, target)

        attempt = retry_on_conflict(deps, attempt, record)
    if deps.enroller is None or attempt.enrollment is not EnrollmentStatus.PENDING:
        return attempt
    if student is None:
        return _fail_pending(deps, attempt, "the student no longer exists")
    return _enroll_on_platform(deps, deps.enroller, attempt, student)


def _try_platform_enrollment(deps: Deps, attempt: Attempt, student: Student | None) -> Attempt:
    """Right after finalizing, within the request: most enrollments are done at once. A failure
    that may pass leaves the enrollment pending (the workflow's Enroll step retries it)."""
    if deps.enroller is None or attempt.enrollment is not EnrollmentStatus.PENDING or student is None:
        return attempt
    if attempt.enrolled_course_id is None:
        return attempt
    try:
        return _enroll_on_platform(deps, deps.enroller, attempt, student)
    except TRANSIENT_ERRORS as error:
        logger.warning("enrollment left pending for the workflow", extra={"error": type(error).__name__})
        return attempt


def _enroll_on_platform(deps: Deps, enroller: Enroller, attempt: Attempt, student: Student) -> Attempt:
    course_id = attempt.enrolled_course_id
    assert course_id is not None
    now = deps.clock.now()
    if attempt.enrollment_deadline and datetime.fromisoformat(attempt.enrollment_deadline) <= now:
        return _fail_pending(
            deps, attempt, "the platform could not be reached before the enrollment deadline"
        )
    holder = attempt.sourced_id
    claim = deps.store.claim_enrollment(
        attempt.student_id, course_id, holder, now.timestamp() + ENROLLMENT_CLAIM_SECONDS
    )
    if claim.status is ClaimStatus.BUSY:
        raise Busy("the enrollment is being made by another request", retry_after=5)
    if claim.status is ClaimStatus.ENROLLED:
        made = (claim.record or {}).get("sourcedId") or enrollment_sourced_id(attempt.student_id, course_id)
        return _commit(deps, attempt, course_id, str(made), record=None, holder=None)
    sourced_id = enrollment_sourced_id(attempt.student_id, course_id)
    try:
        with budget.reserving():
            platform_id = enroller.enroll(
                student,
                course_id,
                sourced_id,
                look_first=claim.taken_over,
                metadata={
                    "source": "external-test",
                    "lessonId": attempt.lesson_id,
                    "attempt": attempt.attempt,
                },
            )
    except ProviderRejected as error:
        deps.store.release_enrollment(attempt.student_id, course_id, holder)
        return _fail_pending(deps, attempt, f"the platform refused the enrollment: {error.reason}")
    except Exception:
        # Outcome unknown: whoever claims next looks on the platform first. (A process killed
        # here releases nothing; its claim expires and the same rule applies.)
        deps.store.release_enrollment(attempt.student_id, course_id, holder)
        raise
    record = enrollment_record(attempt, course_id, iso(now), platform_id=platform_id)
    return _commit(deps, attempt, course_id, platform_id, record=record, holder=holder)


def _commit(
    deps: Deps,
    attempt: Attempt,
    course_id: str,
    enrollment_id: str,
    *,
    record: dict[str, Any] | None,
    holder: str | None,
) -> Attempt:
    def step(current: Attempt) -> Attempt:
        if current.enrollment is not EnrollmentStatus.PENDING:
            return current
        enrolled = current.evolve(
            {
                "enrollment": EnrollmentStatus.ENROLLED,
                "enrolled_course_id": course_id,
                "enrollment_id": enrollment_id,
            }
        )
        if record is None:  # made before (another attempt, or our earlier try): only the attempt changes
            return persist(deps, current, enrolled)
        return persist(deps, current, enrolled, enrollment=(course_id, record), claim_holder=holder)

    return retry_on_conflict(deps, attempt, step)


def _fail_pending(deps: Deps, attempt: Attempt, reason: str) -> Attempt:
    def step(current: Attempt) -> Attempt:
        if current.enrollment is not EnrollmentStatus.PENDING:
            return current
        return _fail(deps, current, current, reason)

    return retry_on_conflict(deps, attempt, step)


def enrollment_record(
    attempt: Attempt, course_id: str, now: str, *, platform_id: str | None = None
) -> dict[str, Any]:
    """A OneRoster-shaped enrollment; the id is derived so a repeat writes the same record."""
    record: dict[str, Any] = {
        "sourcedId": enrollment_sourced_id(attempt.student_id, course_id),
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
    if platform_id is not None:
        record["metadata"]["platformEnrollmentId"] = platform_id
    return record
