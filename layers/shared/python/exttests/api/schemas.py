"""Request and response shapes of the HTTP API (PowerPath wire format)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from ..domain.attempt import Attempt
from ..domain.models import Credentials, Lesson

MAX_ID_LENGTH = 255
# Not blank and no control characters (documented in the OpenAPI schema; check_id also refuses
# ids made of other Unicode white space only).
ID_PATTERN = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
Id = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]


def check_id(value: str, name: str) -> str:
    """Ids are opaque sourcedIds: any printable text, but never empty, huge or with control chars."""
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{name} is longer than {MAX_ID_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{name} contains control characters")
    return value


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    student: Id
    lesson: Id
    applicationName: StrictStr | None = None  # noqa: N815 - wire name
    testId: Id | None = None  # noqa: N815
    skipCourseEnrollment: StrictBool | None = None  # noqa: N815

    @field_validator("student", "lesson")
    @classmethod
    def _ids(cls, value: str, info: Any) -> str:
        return check_id(value, info.field_name)

    @field_validator("testId")
    @classmethod
    def _test_id(cls, value: str | None) -> str | None:
        return check_id(value, "testId") if value is not None else None


class CredentialsOut(BaseModel):
    email: str
    password: str


class AssignResponse(BaseModel):
    toolProvider: Literal["edulastic", "mastery-track"]  # noqa: N815
    lessonType: Literal["test-out", "placement", "unit-test"]  # noqa: N815
    attempt: int
    credentials: CredentialsOut | None = None
    assignmentId: str | None = None  # noqa: N815
    classId: str | None = None  # noqa: N815
    testUrl: str | None = None  # noqa: N815
    testId: str | None = None  # noqa: N815


class ImportResponse(BaseModel):
    lessonType: Literal["test-out", "placement", "unit-test"]  # noqa: N815
    lessonId: str | None  # noqa: N815
    toolProvider: str | None  # noqa: N815
    finalized: bool
    attempt: int
    credentials: CredentialsOut | None = None
    assignmentId: str | None = None  # noqa: N815
    classId: str | None = None  # noqa: N815
    testUrl: str | None = None  # noqa: N815
    testId: str | None = None  # noqa: N815
    courseIdOnFail: str | None = None  # noqa: N815
    hasFallbackCourse: bool = False  # noqa: N815


class QuestionResultOut(BaseModel):
    score: float
    feedback: str


class QuestionOut(BaseModel):
    id: str
    index: int
    title: str
    url: str
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    correct: bool
    result: QuestionResultOut


class ProgressResponse(BaseModel):
    lessonType: Literal["test-out", "placement", "unit-test"]  # noqa: N815
    finalized: bool
    score: float | None = None
    questions: list[QuestionOut] = Field(default_factory=list)
    toolProvider: str | None  # noqa: N815
    enrollmentFailed: bool | None = None  # noqa: N815
    attempt: int
    xp: float | None
    multiplier: float | None
    accuracy: float
    correctQuestions: int  # noqa: N815
    totalQuestions: int  # noqa: N815


def _assignment_fields(attempt: Attempt) -> dict[str, Any]:
    return {
        "assignmentId": attempt.assignment_id,
        "classId": attempt.class_id
        if attempt.class_id is not None
        else ("" if attempt.assignment_id else None),
        "testUrl": attempt.test_url,
        "testId": attempt.test_id,
    }


def _credentials(credentials: Credentials | None) -> CredentialsOut | None:
    return CredentialsOut(email=credentials.email, password=credentials.password) if credentials else None


def assign_response(attempt: Attempt, credentials: Credentials | None) -> dict[str, Any]:
    model = AssignResponse(
        toolProvider=attempt.tool_provider,  # type: ignore[arg-type]
        lessonType=attempt.lesson_type,  # type: ignore[arg-type]
        attempt=attempt.attempt,
        credentials=_credentials(credentials),
        **_assignment_fields(attempt),
    )
    return model.model_dump(exclude_none=True)


def import_response(attempt: Attempt, lesson: Lesson, credentials: Credentials | None) -> dict[str, Any]:
    model = ImportResponse(
        lessonType=attempt.lesson_type,  # type: ignore[arg-type]
        lessonId=lesson.id,
        toolProvider=attempt.tool_provider,
        finalized=attempt.finalized,
        attempt=attempt.attempt,
        credentials=_credentials(credentials),
        courseIdOnFail=lesson.course_id_on_fail,
        hasFallbackCourse=bool(lesson.course_id_on_fail),
        **_assignment_fields(attempt),
    )
    # courseIdOnFail is string|null on the wire: keep an explicit null.
    data = model.model_dump(exclude_none=True)
    data["courseIdOnFail"] = lesson.course_id_on_fail
    return data


def progress_response(lesson: Lesson, attempt: Attempt | None, number: int) -> dict[str, Any]:
    if attempt is None:
        model = ProgressResponse(
            lessonType=lesson.lesson_type,  # type: ignore[arg-type]
            finalized=False,
            toolProvider=lesson.tool_provider,
            attempt=number,
            xp=None,
            multiplier=None,
            accuracy=0.0,
            correctQuestions=0,
            totalQuestions=0,
        )
        return model.model_dump(exclude_none=True) | {"xp": None, "multiplier": None}
    fallback_url = attempt.test_url or lesson.url or "about:blank"
    questions = [
        QuestionOut(
            id=q.id,
            index=q.index,
            title=q.title,
            url=q.url or fallback_url,
            difficulty=q.difficulty if q.difficulty in ("easy", "medium", "hard") else "medium",  # type: ignore[arg-type]
            correct=q.correct,
            result=QuestionResultOut(score=q.score, feedback=q.feedback),
        )
        for q in attempt.questions
    ]
    final = attempt.finalized
    model = ProgressResponse(
        lessonType=attempt.lesson_type,  # type: ignore[arg-type]
        finalized=final,
        score=attempt.score,
        questions=questions,
        toolProvider=attempt.tool_provider,
        enrollmentFailed=attempt.enrollment_failed if final else None,
        attempt=attempt.attempt,
        xp=attempt.xp if final else None,
        multiplier=attempt.multiplier if final else None,
        accuracy=attempt.accuracy or 0.0,
        correctQuestions=attempt.correct_questions,
        totalQuestions=attempt.total_questions,
    )
    data = model.model_dump(exclude_none=True)
    data["xp"], data["multiplier"] = model.xp, model.multiplier
    return data
