"""The OneRoster 1.2 AssessmentResult the write-back route accepts and returns.

A write-back is bounded: the body by the HTTP guard (64 KiB), its parts here (fields, lengths,
question count, score range), and the stored record is replaced by each accepted write rather
than merged, so no writer can grow it past what one body holds or crowd out the provider's own
write-back.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

from ..domain.attempt import Attempt
from .schemas import WireModel

ScoreStatusIn = Literal["not submitted", "submitted", "partially graded", "fully graded", "exempt"]
MAX_TEXT = 4000  # comment, feedback: characters
MAX_QUESTIONS = 1000
MAX_OBJECTIVES = 200
# A write-back score is a percentage (the contract: "score = the written score, a percentage").
MIN_SCORE, MAX_SCORE = 0.0, 100.0

Text = Annotated[StrictStr, Field(max_length=MAX_TEXT)]
ShortText = Annotated[StrictStr, Field(max_length=255)]


class Ref(WireModel):
    model_config = ConfigDict(extra="ignore")
    sourced_id: ShortText | None = None


class AssessmentResultIn(WireModel):
    """Unknown top-level fields are dropped, not stored."""

    model_config = ConfigDict(extra="ignore")

    sourced_id: ShortText | None = None
    status: ShortText | None = None
    score_status: ScoreStatusIn
    score: StrictFloat | StrictInt | None = None
    score_date: ShortText | None = None
    comment: Text | None = None
    student: Ref | None = None
    assessment_line_item: Ref | None = None
    metadata: dict[str, Any] | None = None
    learning_objective_set: Annotated[list[Any], Field(max_length=MAX_OBJECTIVES)] | None = None

    @field_validator("score_date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                date.fromisoformat(text)
            except ValueError as error:
                raise ValueError("scoreDate must be a date or a date-time (ISO 8601)") from error
        return text

    @field_validator("score")
    @classmethod
    def _percentage(cls, value: float | int | None) -> float | int | None:
        # Compared before any float() conversion: a 400-digit integer must be a 400, not an overflow.
        if value is not None and not (MIN_SCORE <= value <= MAX_SCORE):
            raise ValueError(f"score must be a percentage from {MIN_SCORE:g} to {MAX_SCORE:g}")
        return value

    @field_validator("metadata")
    @classmethod
    def _questions(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        questions = (value or {}).get("questions")
        if isinstance(questions, list) and len(questions) > MAX_QUESTIONS:
            raise ValueError(f"metadata.questions holds more than {MAX_QUESTIONS} questions")
        return value


class WriteBackBody(WireModel):
    model_config = ConfigDict(extra="forbid")
    assessment_result: AssessmentResultIn


class AssessmentResultOut(WireModel):
    sourced_id: str
    status: str
    date_last_modified: str | None = None
    assessment_line_item: Ref
    student: Ref
    score_status: str
    score: float | None = None
    score_date: str | None = None
    comment: str | None = None
    learning_objective_set: list[Any] | None = None
    metadata: dict[str, Any]


class AssessmentResultEnvelope(WireModel):
    """The stored OneRoster 1.2 AssessmentResult."""

    assessment_result: AssessmentResultOut


def assessment_result(attempt: Attempt) -> AssessmentResultEnvelope:
    """The stored record; credentials are never part of it."""
    written = attempt.writeback or {}
    metadata = {
        **(written.get("metadata") or {}),
        "toolProvider": attempt.tool_provider.value,
        "lessonId": attempt.lesson_id,
        "lessonType": attempt.lesson_type.value,
        "attempt": attempt.attempt,
        "assignmentId": attempt.assignment_id,
        "classId": attempt.class_id,
        "testId": attempt.test_id,
        "testUrl": attempt.test_url,
        "skipCourseEnrollment": attempt.skip_course_enrollment,
        "finalized": attempt.finalized,
        "totalQuestions": attempt.total_questions,
        "correctQuestions": attempt.correct_questions,
    }
    if attempt.finalized:
        metadata["enrollmentFailed"] = bool(attempt.enrollment_failed)
    return AssessmentResultEnvelope(
        assessment_result=AssessmentResultOut(
            sourced_id=attempt.sourced_id,
            status="active",
            date_last_modified=attempt.updated_at,
            assessment_line_item=Ref(sourced_id=attempt.line_item_id),
            student=Ref(sourced_id=attempt.student_id),
            score_status=attempt.score_status.value,
            score=attempt.score,
            score_date=attempt.score_date,
            comment=written.get("comment"),
            learning_objective_set=written.get("learningObjectiveSet"),
            metadata=metadata,
        )
    )
