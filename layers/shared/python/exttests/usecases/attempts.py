"""The one way an attempt is written: optimistic locking, the events of the change, its metrics.

Every write goes through `persist` (so no state change can skip its event) and every
read-modify-write through `retry_on_conflict` (so an import, a write-back and a workflow task
racing on one attempt all land: the loser re-reads and re-applies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.attempt import Attempt
from ..domain.events import DomainEvent, EventType, transition_events
from ..domain.models import ProviderAccount
from ..errors import ConflictRetryExhausted
from ..ports import VersionConflict
from .deps import Deps, iso

_MAX_CONFLICTS = 25

# The metric each kind of state change counts (the event and the metric never disagree).
_METRIC_OF = {
    EventType.ASSIGNED: "AssignmentCreated",
    EventType.FINALIZED: "TestFinalized",
    EventType.ENROLLED: "StudentEnrolled",
    EventType.ENROLLMENT_FAILED: "EnrollmentFailed",
    EventType.EXPIRED: "AttemptExpired",
}
# Counted per provider and lesson type; the others once per service (they are alarmed on).
_PER_LESSON = frozenset({EventType.ASSIGNED, EventType.FINALIZED})


def persist(
    deps: Deps,
    before: Attempt | None,
    after: Attempt,
    *,
    account: ProviderAccount | None = None,
    enrollment: tuple[str, dict[str, Any]] | None = None,
    claim_holder: str | None = None,
) -> Attempt:
    """Store `after` (whose version is the one read) with the events of the change.

    `enrollment` = (course id, record): the student's enrollment is written in the same
    transaction (see Store.save_enrollment for `claim_holder`). Raises VersionConflict or
    CourseMissing."""
    now = iso(deps.clock.now())
    stamped = after.evolve({"updated_at": now})
    events = transition_events(before, stamped.evolve({"version": stamped.version + 1}), now)
    if enrollment is not None:
        course_id, record = enrollment
        saved = deps.store.save_enrollment(
            stamped, course_id, record, events=events, claim_holder=claim_holder
        )
    else:
        saved = deps.store.save(stamped, account=account, events=events)
    _count(deps, saved, events)
    return saved


def _count(deps: Deps, attempt: Attempt, events: list[DomainEvent]) -> None:
    for event in events:
        if event.detail_type in _PER_LESSON:
            deps.metrics.count(
                _METRIC_OF[event.detail_type],
                provider=attempt.tool_provider.value,
                lesson_type=attempt.lesson_type.value,
            )
        else:
            deps.metrics.count(_METRIC_OF[event.detail_type])


def retry_on_conflict(deps: Deps, attempt: Attempt, step: Callable[[Attempt], Attempt]) -> Attempt:
    """Run `step` on the attempt; when another writer got there first, re-read and run it again."""
    for _ in range(_MAX_CONFLICTS):
        try:
            return step(attempt)
        except VersionConflict:
            fresh = deps.store.get_attempt(attempt.student_id, attempt.lesson_id, attempt.attempt)
            if fresh is None:
                return attempt
            attempt = fresh
    raise ConflictRetryExhausted("the attempt is being updated by others, retry", retry_after=1)


Change = Callable[[Attempt], Attempt | None]


def update_attempt(deps: Deps, attempt: Attempt, change: Change) -> Attempt:
    """Apply `change` (None = nothing to do) and save it, retrying on concurrent updates."""

    def step(current: Attempt) -> Attempt:
        changed = change(current)
        return current if changed is None else persist(deps, current, changed)

    return retry_on_conflict(deps, attempt, step)
