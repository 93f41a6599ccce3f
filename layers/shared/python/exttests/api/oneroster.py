"""The OneRoster 1.2 AssessmentResult the write-back route accepts and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, field_validator

from ..domain.attempt import Attempt

ScoreStatusIn = Literal["not submitted", "submitted", "partially graded", "fully graded", "exempt"]


class Ref(BaseModel):
    model_config = ConfigDict(extra="allow")
    sourcedId: StrictStr | None = None  # noqa: N815


class AssessmentResultIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    sourcedId: StrictStr | None = None  # noqa: N815
    status: StrictStr | None = None
    scoreStatus: ScoreStatusIn  # noqa: N815
    score: StrictFloat | StrictInt | None = None
    scoreDate: StrictStr | None = None  # noqa: N815
    comment: StrictStr | None = None
    student: Ref | None = None
    assessmentLineItem: Ref | None = None  # noqa: N815
    metadata: dict[str, Any] | None = None
    learningObjectiveSet: list[Any] | None = None  # noqa: N815

    @field_validator("scoreDate")
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
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not (-1e9 < float(value) < 1e9):
            raise ValueError("score is out of range")
        return value


class WriteBackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assessmentResult: AssessmentResultIn  # noqa: N815


def assessment_result(attempt: Attempt) -> dict[str, Any]:
    """The stored record; credentials are never part of it."""
    written = attempt.writeback or {}
    metadata = {
        **(written.get("metadata") or {}),
        "toolProvider": attempt.tool_provider,
        "lessonId": attempt.lesson_id,
        "lessonType": attempt.lesson_type,
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
    record: dict[str, Any] = {
        "sourcedId": attempt.sourced_id,
        "status": "active",
        "dateLastModified": attempt.updated_at,
        "assessmentLineItem": {"sourcedId": attempt.line_item_id},
        "student": {"sourcedId": attempt.student_id},
        "scoreStatus": attempt.score_status.value,
        "metadata": metadata,
    }
    if attempt.score is not None:
        record["score"] = attempt.score
    if attempt.score_date:
        record["scoreDate"] = attempt.score_date
    for name in ("comment", "learningObjectiveSet"):
        if written.get(name) is not None:
            record[name] = written[name]
    return {"assessmentResult": record}
