"""The per-attempt AssessmentResult: the one record every use case reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .models import LessonType, QuestionResult, ScoreStatus, ToolProvider
from .records import Record


class AttemptStatus(StrEnum):
    ASSIGNING = "assigning"  # intent recorded, provider call in flight (held by a lease)
    ASSIGNED = "assigned"  # the provider has the assignment; results not final yet
    FINALIZED = "finalized"
    EXPIRED = "expired"  # the deadline passed before the test became final


class EnrollmentStatus(StrEnum):
    PENDING = "pending"  # final, enrollment not done yet (the workflow or the sweeper finishes it)
    ENROLLED = "enrolled"
    FAILED = "failed"
    NOT_DUE = "not-due"  # the rules call for no enrollment
    SKIPPED = "skipped"  # skipCourseEnrollment


@dataclass(kw_only=True)
class Attempt(Record):
    student_id: str
    lesson_id: str
    attempt: int
    sourced_id: str  # the AssessmentResult sourcedId (MasteryTrack writes back to it)
    line_item_id: str
    status: AttemptStatus = AttemptStatus.ASSIGNING
    tool_provider: ToolProvider
    lesson_type: LessonType
    skip_course_enrollment: bool = False
    requested_test_id: str | None = None  # the request's MasteryTrack testId override
    lease_until: float | None = None
    assignment_id: str | None = None
    class_id: str | None = None
    test_id: str | None = None
    test_url: str | None = None
    provider_user_id: str | None = None
    credentials_email: str | None = None
    previous_assignment_ids: list[str] = field(default_factory=list)
    # Results
    score_status: ScoreStatus = ScoreStatus.NOT_SUBMITTED
    score: float | None = None
    accuracy: float | None = None
    correct_questions: int = 0
    total_questions: int = 0
    questions: list[QuestionResult] = field(default_factory=list)
    score_date: str | None = None
    submitted: bool = False
    graded: str | None = None
    writeback: dict[str, Any] | None = None  # the raw OneRoster record as last written back
    # Finalization
    finalized_at: str | None = None
    multiplier: float | None = None
    xp: float | None = None
    enrollment: EnrollmentStatus | None = None
    enrolled_course_id: str | None = None  # the course enrolled in (or being enrolled in)
    enrollment_id: str | None = None  # the enrollment's sourcedId (or the platform's id)
    # On the platform: after this a transient failure no longer retries (→ enrollment failed).
    enrollment_deadline: str | None = None
    enrollment_error: str | None = None
    # Workflow
    task_token: str | None = None
    workflow_generation: int = 0
    workflow_started: bool = False
    deadline: str | None = None
    # When the sweeper should consider the workflow stuck if nothing has touched the attempt.
    due_at: str | None = None
    last_error: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    version: int = 0

    @property
    def is_final(self) -> bool:
        return self.status in (AttemptStatus.FINALIZED, AttemptStatus.EXPIRED)

    @property
    def finalized(self) -> bool:
        return self.status == AttemptStatus.FINALIZED

    @property
    def is_assigned(self) -> bool:
        return self.assignment_id is not None and self.status != AttemptStatus.ASSIGNING

    @property
    def needs_workflow(self) -> bool:
        """Still owed work by the workflow: not final, or final with the enrollment unfinished."""
        if not self.is_final:
            return True
        return self.finalized and self.enrollment == EnrollmentStatus.PENDING

    @property
    def enrollment_failed(self) -> bool | None:
        if not self.finalized:
            return None
        return self.enrollment == EnrollmentStatus.FAILED
