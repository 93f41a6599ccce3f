"""The finalization workflow's tasks (called by the state machine) and the sweeper."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import budget
from ..domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from ..domain.rules import next_wait
from ..errors import TRANSIENT_ERRORS, NotFound
from ..observability import append_log_keys, logger
from ..ports import DueAttempt, VersionConflict
from .assign import AssignCommand, assign
from .attempts import persist, update_attempt
from .context import load_context
from .deps import Deps, iso
from .finalize import complete_enrollment
from .results import import_for_context


def _past(deadline: str | None, now: datetime) -> bool:
    return deadline is not None and datetime.fromisoformat(deadline) <= now


def _current(deps: Deps, student: str, lesson: str, number: int) -> Attempt:
    append_log_keys(student=student, lesson=lesson, attempt=number)
    attempt = deps.store.get_attempt(student, lesson, number)
    if attempt is None:
        raise NotFound(f"attempt {number} of student '{student}' on lesson '{lesson}' does not exist")
    return attempt


def expire(deps: Deps, attempt: Attempt) -> Attempt:
    def change(current: Attempt) -> Attempt | None:
        if current.is_final:
            return None
        return current.evolve({"status": AttemptStatus.EXPIRED, "lease_until": None})

    return update_attempt(deps, attempt, change)


# An outage or a busy attempt is answered with the next wait of the backoff, not a failed
# execution (the attempt's own deadline still ends the loop).
TRANSIENT = TRANSIENT_ERRORS


def poll(deps: Deps, student: str, lesson: str, number: int, step: int, waits: list[int]) -> dict[str, Any]:
    now = deps.clock.now()
    wait = next_wait(waits or list(deps.settings.waits), step)
    answer: dict[str, Any] = {"finalized": False, "expired": False, "step": step + 1, "waitSeconds": wait}
    append_log_keys(student=student, lesson=lesson, attempt=number)
    try:
        attempt = _poll_once(deps, student, lesson, number, now)
    except TRANSIENT as error:
        logger.warning("poll failed; waiting for the next one", extra={"error": type(error).__name__})
        answer["retrying"] = type(error).__name__
        return answer
    if attempt.is_final:
        answer.update(finalized=attempt.finalized, expired=attempt.status is AttemptStatus.EXPIRED)
    elif attempt.is_assigned:
        # Not for an intent still being assigned: if its request died after starting this
        # execution, the sweeper must still find it due and finish the assignment.
        deps.store.touch_due(attempt, now + timedelta(seconds=wait + deps.settings.sweeper_grace_seconds))
    return answer


def _poll_once(deps: Deps, student: str, lesson: str, number: int, now: datetime) -> Attempt:
    ctx = load_context(deps, student, lesson)
    attempt = ctx.head
    if attempt is None or attempt.attempt != number:
        return _current(deps, student, lesson, number)
    if not attempt.is_final and _past(attempt.deadline, now):
        return expire(deps, attempt)
    if attempt.is_assigned:
        return import_for_context(deps, ctx)
    return attempt


def enroll(deps: Deps, student: str, lesson: str, number: int, step: int = 0) -> dict[str, Any]:
    """Make sure the enrollment of a final attempt is done: after a crash between the two, or
    while the platform is down (answered "pending" with the next wait, until the enrollment's
    deadline turns it into a failure)."""
    answer: dict[str, Any] = {"step": step + 1, "waitSeconds": next_wait(list(deps.settings.waits), step)}
    try:
        attempt = _enroll_once(deps, student, lesson, number)
    except TRANSIENT as error:
        logger.warning("enrollment not made yet", extra={"error": type(error).__name__})
        answer.update(enrollment=EnrollmentStatus.PENDING.value, retrying=type(error).__name__)
        return answer
    answer["enrollment"] = attempt.enrollment.value if attempt.enrollment else None
    return answer


def _enroll_once(deps: Deps, student: str, lesson: str, number: int) -> Attempt:
    attempt = _current(deps, student, lesson, number)
    if attempt.enrollment is not EnrollmentStatus.PENDING:
        return attempt
    ctx = load_context(deps, student, lesson)
    if ctx.lesson is None:
        return attempt
    return complete_enrollment(deps, attempt, ctx.lesson, ctx.student)


def register_callback(deps: Deps, student: str, lesson: str, number: int, token: str) -> dict[str, Any]:
    """Keep the task token where the write-back finds it; wake at once if already final."""
    now = deps.clock.now()
    due = iso(
        now + timedelta(seconds=deps.settings.callback_timeout_seconds + deps.settings.sweeper_grace_seconds)
    )

    def change(current: Attempt) -> Attempt | None:
        if current.is_final:
            return None
        return current.evolve({"task_token": token, "due_at": due})

    attempt = update_attempt(deps, _current(deps, student, lesson, number), change)
    if attempt.is_final:
        deps.workflow.complete_callback(token, {"finalized": attempt.finalized})
    return {"registered": not attempt.is_final}


def record_failure(
    deps: Deps, student: str, lesson: str, number: int, error: dict[str, Any] | None
) -> dict[str, Any]:
    """Keep why the workflow failed on the attempt; the sweeper restarts it later."""
    error = error or {}
    text = f"{error.get('Error', 'Error')}: {str(error.get('Cause', ''))[:500]}"
    try:
        update_attempt(
            deps, _current(deps, student, lesson, number), lambda c: c.evolve({"last_error": text})
        )
    except NotFound:
        return {"recorded": False}
    return {"recorded": True}


# --- sweeper -------------------------------------------------------------------------------


@dataclass
class SweepReport:
    examined: int = 0
    restarted: list[str] = field(default_factory=list)
    expired: int = 0
    resumed_assignments: int = 0
    alive: int = 0
    errors: int = 0
    oldest_overdue_seconds: float = 0.0


def sweep(deps: Deps, limit: int | None = None) -> SweepReport:
    """Restart the workflow of attempts nobody is looking after. Safe to run twice at once:
    each restart is a conditional write, and only its winner starts an execution."""
    now = deps.clock.now()
    report = SweepReport()
    due = deps.store.due_attempts(now, limit or deps.settings.sweeper_batch_size)
    if due:
        report.oldest_overdue_seconds = max(0.0, (now - min(d.due_at for d in due)).total_seconds())
    for item in due:
        if budget.spent():
            break  # the next run picks up where this one stopped
        report.examined += 1
        try:
            _sweep_one(deps, item, now, report)
        except Exception:  # noqa: BLE001 - one bad attempt must not stop the sweep
            report.errors += 1
            logger.exception(
                "sweeper could not handle an attempt", extra={"student": item.student, "lesson": item.lesson}
            )
    deps.metrics.count("SweeperRestarted", len(report.restarted))
    deps.metrics.count("SweeperErrors", report.errors)
    deps.metrics.gauge("OldestOverdueAttemptSeconds", report.oldest_overdue_seconds)
    return report


def _sweep_one(deps: Deps, item: DueAttempt, now: datetime, report: SweepReport) -> None:
    head = deps.store.get_head(item.student, item.lesson)
    if head is None or not head.needs_workflow:
        return
    if head.due_at and datetime.fromisoformat(head.due_at) > now:
        return  # touched since the index was read: another sweeper or the workflow has it
    if not head.is_final and _past(head.deadline, now):
        expire(deps, head)
        report.expired += 1
        return
    if head.status is AttemptStatus.ASSIGNING:
        # A crash between the provider call and the write: finish the assignment the way a
        # client retry would (the provider's "already assigned" answer is reused).
        if head.lease_until is None or head.lease_until <= now.timestamp():
            assign(
                deps,
                AssignCommand(item.student, item.lesson, head.requested_test_id, head.skip_course_enrollment),
            )
            report.resumed_assignments += 1
        return
    if head.workflow_started and deps.workflow.is_running(head):
        deps.store.touch_due(head, now + timedelta(seconds=deps.settings.sweeper_grace_seconds))
        report.alive += 1
        return
    restarted = head.evolve(
        {
            "workflow_generation": head.workflow_generation + 1,
            "workflow_started": True,
            "task_token": None,
            "due_at": iso(
                now
                + timedelta(
                    seconds=deps.settings.callback_timeout_seconds + deps.settings.sweeper_grace_seconds
                )
            ),
        }
    )
    try:
        saved = persist(deps, head, restarted)
    except VersionConflict:
        return  # another sweeper (or the workflow itself) got there first
    report.restarted.append(
        deps.workflow.start(saved, deps.providers.traits(saved.tool_provider).workflow_wait)
    )
