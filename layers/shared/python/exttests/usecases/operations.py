"""What an operator does by hand: look at an attempt, list the ones that need a look, restart a
workflow, retry a failed enrollment. The operator CLI (`python -m exttests.admin`) calls these;
each goes through the same writes (versioned, with their events) as the automatic paths, so a
retry by hand keeps their exactly-once guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..domain.attempt import Attempt, EnrollmentStatus
from ..errors import TRANSIENT_ERRORS, BadRequest, NotFound
from ..observability import append_log_keys, logger
from ..ports import AttemptKey, AttemptView, ExecutionInfo
from .attempts import persist, retry_on_conflict
from .context import load_context
from .deps import Deps, iso
from .finalize import complete_enrollment


@dataclass(frozen=True)
class AttemptReport:
    attempt: Attempt
    history: list[Attempt]  # every attempt of (student, lesson), oldest first
    execution: ExecutionInfo | None  # the workflow of the current generation
    enrollment: dict[str, Any] | None  # the stored enrollment record of its course, if any


def _attempt(deps: Deps, student: str, lesson: str, number: int | None) -> Attempt:
    append_log_keys(student=student, lesson=lesson, attempt=number)
    if number is None:
        found = deps.store.get_head(student, lesson)
    else:
        found = deps.store.get_attempt(student, lesson, number)
    if found is None:
        what = "no attempt" if number is None else f"no attempt {number}"
        raise NotFound(f"{what} of student '{student}' on lesson '{lesson}'")
    return found


def show_attempt(deps: Deps, student: str, lesson: str, number: int | None = None) -> AttemptReport:
    attempt = _attempt(deps, student, lesson, number)
    return AttemptReport(
        attempt=attempt,
        history=deps.store.attempts_of(student, lesson),
        execution=deps.workflow.describe(attempt),
        enrollment=(
            deps.store.get_enrollment(student, course) if (course := attempt.enrolled_course_id) else None
        ),
    )


def show_result(deps: Deps, sourced_id: str) -> AttemptReport:
    found = deps.store.find_by_sourced_id(sourced_id)
    if found is None:
        raise NotFound(f"no attempt has the result id '{sourced_id}'")
    attempt = found[1]
    return show_attempt(deps, attempt.student_id, attempt.lesson_id, attempt.attempt)


@dataclass(frozen=True)
class AttemptListing:
    view: AttemptView
    keys: list[AttemptKey] = field(default_factory=list)


def list_attempts(
    deps: Deps,
    view: AttemptView,
    *,
    since: datetime | None = None,
    limit: int = 100,
    stuck_only: bool = False,
) -> AttemptListing:
    """One view of the index, oldest first. `stuck_only` (the due view): only the attempts whose
    workflow is overdue now — what the sweeper should already have picked up."""
    until = deps.clock.now() if stuck_only else None
    return AttemptListing(view, deps.store.list_attempts(view, since=since, until=until, limit=limit))


@dataclass(frozen=True)
class Redrive:
    attempt: Attempt
    execution: str
    stopped_previous: bool


def redrive(deps: Deps, student: str, lesson: str) -> Redrive:
    """Restart the current attempt's workflow now: a new generation, so its execution never
    collides with the old one (stopped when it still runs; if it finishes first, the versioned
    writes make whichever comes second a no-op)."""
    head = _attempt(deps, student, lesson, None)
    if not head.needs_workflow:
        state = f"{head.status.value}, enrollment {head.enrollment}"
        raise BadRequest(f"attempt {head.attempt} needs no workflow ({state})")
    previous = head
    stopped = deps.workflow.stop(previous, "redriven by an operator")

    def restart(current: Attempt) -> Attempt:
        return persist(
            deps,
            current,
            current.evolve(
                {
                    "workflow_generation": current.workflow_generation + 1,
                    "workflow_started": True,
                    "task_token": None,
                    "due_at": iso(deps.clock.now() + timedelta(seconds=_workflow_grace(deps))),
                }
            ),
        )

    saved = retry_on_conflict(deps, head, restart)
    name = deps.workflow.start(saved, deps.providers.traits(saved.tool_provider).workflow_wait)
    logger.info("workflow redriven", extra={"execution": name, "stopped_previous": stopped})
    return Redrive(saved, name, stopped)


def _workflow_grace(deps: Deps) -> int:
    return deps.settings.callback_timeout_seconds + deps.settings.sweeper_grace_seconds


@dataclass(frozen=True)
class EnrollmentRetry:
    attempt: Attempt
    redriven: str | None  # the workflow started to keep retrying, when the platform is still down


def retry_enrollment(deps: Deps, student: str, lesson: str, number: int | None = None) -> EnrollmentRetry:
    """A failed enrollment becomes pending again (a new deadline, its course resolved afresh) and
    is carried out at once — exactly once, like the automatic path. Still pending afterwards
    (the platform is down): the attempt's workflow is restarted to keep retrying."""
    attempt = _attempt(deps, student, lesson, number)
    if attempt.enrollment is not EnrollmentStatus.FAILED:
        state = attempt.enrollment.value if attempt.enrollment else "none"
        raise BadRequest(f"attempt {attempt.attempt}'s enrollment is {state}, not failed")

    def reopen(current: Attempt) -> Attempt:
        if current.enrollment is not EnrollmentStatus.FAILED:
            return current
        deadline = deps.clock.now() + timedelta(seconds=deps.settings.enrollment_deadline_seconds)
        return persist(
            deps,
            current,
            current.evolve(
                {
                    "enrollment": EnrollmentStatus.PENDING,
                    "enrollment_error": None,
                    "enrolled_course_id": None,
                    "enrollment_deadline": iso(deadline),
                    "due_at": iso(deps.clock.now() + timedelta(seconds=deps.settings.sweeper_grace_seconds)),
                }
            ),
        )

    pending = retry_on_conflict(deps, attempt, reopen)
    ctx = load_context(deps, student, lesson)
    if ctx.lesson is None:
        raise NotFound(f"lesson '{lesson}' no longer exists")
    try:
        done = complete_enrollment(deps, pending, ctx.lesson, ctx.student)
    except TRANSIENT_ERRORS:
        done = deps.store.get_attempt(student, lesson, pending.attempt) or pending
    redriven = None
    current = ctx.head.attempt if ctx.head else None
    if done.enrollment is EnrollmentStatus.PENDING and done.attempt == current:
        redriven = redrive(deps, student, lesson).execution
    return EnrollmentRetry(done, redriven)
