"""The state changes the platform cares about, derived from an attempt before and after a write.

Every attempt write passes through `transition_events`, and the events are stored in the same
transaction as the change (an outbox); a stream publisher sends them to EventBridge. So an event
exists exactly when its change was stored, and the same stored change always has the same id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .attempt import Attempt, AttemptStatus, EnrollmentStatus
from .records import Record

# Namespace of the event ids (uuid5): fixed forever, or ids of old changes would move.
_EVENT_NAMESPACE = uuid.UUID("5b0c2f4e-2d7a-4f3e-9a51-6c1f0e8d9b27")


@dataclass(frozen=True, kw_only=True)
class DomainEvent(Record):
    event_id: str
    detail_type: EventType
    time: str  # ISO 8601, when the change was made
    detail: dict[str, Any]


class EventType(StrEnum):
    """EventBridge `detail-type` values."""

    ASSIGNED = "External Test Assigned"
    FINALIZED = "External Test Finalized"
    ENROLLED = "Student Enrolled"
    ENROLLMENT_FAILED = "Enrollment Failed"
    EXPIRED = "External Test Expired"


def event_id(attempt: Attempt, detail_type: EventType) -> str:
    """Stable: (result, type, the attempt version the change produced) names one stored change."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{attempt.sourced_id}|{detail_type.value}|{attempt.version}"))


def _common(attempt: Attempt, detail_type: EventType) -> dict[str, Any]:
    return {
        "eventId": event_id(attempt, detail_type),
        "student": attempt.student_id,
        "lesson": attempt.lesson_id,
        "attempt": attempt.attempt,
        "toolProvider": attempt.tool_provider.value,
        "lessonType": attempt.lesson_type.value,
        "assignmentId": attempt.assignment_id,
    }


def _specific(attempt: Attempt, detail_type: EventType) -> dict[str, Any]:
    if detail_type is EventType.FINALIZED:
        return {
            "score": attempt.score,
            "accuracy": attempt.accuracy,
            "xp": attempt.xp,
            "multiplier": attempt.multiplier,
            "correctQuestions": attempt.correct_questions,
            "totalQuestions": attempt.total_questions,
            "assessmentResultSourcedId": attempt.sourced_id,
        }
    if detail_type is EventType.ENROLLED:
        return {"courseId": attempt.enrolled_course_id, "enrollmentId": attempt.enrollment_id}
    if detail_type is EventType.ENROLLMENT_FAILED:
        return {"reason": attempt.enrollment_error or "enrollment failed"}
    return {}


def transition_events(before: Attempt | None, after: Attempt, time: str) -> list[DomainEvent]:
    """The events `after` (already carrying the version it will be stored with) announces."""
    types: list[EventType] = []
    was_assigned = before is not None and before.status is not AttemptStatus.ASSIGNING
    if after.status is not AttemptStatus.ASSIGNING and after.assignment_id and not was_assigned:
        types.append(EventType.ASSIGNED)
    if after.status is AttemptStatus.FINALIZED and (
        before is None or before.status is not AttemptStatus.FINALIZED
    ):
        types.append(EventType.FINALIZED)
    if after.status is AttemptStatus.EXPIRED and (
        before is None or before.status is not AttemptStatus.EXPIRED
    ):
        types.append(EventType.EXPIRED)
    before_enrollment = before.enrollment if before is not None else None
    if after.enrollment != before_enrollment:
        if after.enrollment is EnrollmentStatus.ENROLLED:
            types.append(EventType.ENROLLED)
        elif after.enrollment is EnrollmentStatus.FAILED:
            types.append(EventType.ENROLLMENT_FAILED)
    return [event(after, t, time) for t in types]


def event(attempt: Attempt, detail_type: EventType, time: str) -> DomainEvent:
    """The `detail_type` event of `attempt` as stored, made at `time`."""
    return DomainEvent(
        event_id=event_id(attempt, detail_type),
        detail_type=detail_type,
        time=time,
        detail={**_common(attempt, detail_type), **_specific(attempt, detail_type)},
    )
