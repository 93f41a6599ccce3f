"""Request and response shapes of the PowerPath routes (the wire format), and their builders."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator
from pydantic.alias_generators import to_camel

from ..domain.attempt import Attempt
from ..domain.models import Credentials, Difficulty, Lesson, LessonType, ToolProvider

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


class WireModel(BaseModel):
    """camelCase on the wire. An optional field without a value is left out; a field the
    PowerPath schema requires is always there, as null when it has no value."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body (nested models included)."""
        return _leave_out_absent(self, self.model_dump(mode="json"))


def _leave_out_absent(model: BaseModel, data: dict[str, Any]) -> dict[str, Any]:
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        value = getattr(model, name)
        if key in data and data[key] is None and not info.is_required():
            del data[key]
        elif isinstance(value, BaseModel) and isinstance(data.get(key), dict):
            data[key] = _leave_out_absent(value, data[key])
        elif isinstance(value, list) and isinstance(data.get(key), list):
            data[key] = [
                _leave_out_absent(item, raw) if isinstance(item, BaseModel) and isinstance(raw, dict) else raw
                for item, raw in zip(value, data[key], strict=True)
            ]
    return data


class AssignBody(WireModel):
    model_config = ConfigDict(extra="ignore")

    student: Id
    lesson: Id
    application_name: StrictStr | None = None
    test_id: Id | None = None
    skip_course_enrollment: StrictBool | None = None

    @field_validator("student", "lesson", "test_id")
    @classmethod
    def _ids(cls, value: str | None, info: Any) -> str | None:
        return check_id(value, info.field_name) if value is not None else None


class CredentialsOut(WireModel):
    email: str
    password: str


class AssignmentFields(WireModel):
    credentials: CredentialsOut | None = None
    assignment_id: str | None = None
    class_id: str | None = None
    test_url: str | None = None
    test_id: str | None = None


class AssignResponse(AssignmentFields):
    """The assignment of the student's current attempt."""

    tool_provider: ToolProvider
    lesson_type: LessonType
    attempt: int


class ImportResponse(AssignmentFields):
    """The state of the student's current attempt."""

    lesson_type: LessonType
    lesson_id: str | None
    tool_provider: ToolProvider | None
    finalized: bool
    attempt: int
    # Legacy fields older PowerPath clients still require.
    course_id_on_fail: str | None
    has_fallback_course: bool = False


class QuestionResultOut(WireModel):
    score: float
    feedback: str


class QuestionOut(WireModel):
    id: str
    index: int
    title: str
    url: str
    difficulty: Difficulty = Difficulty.MEDIUM
    correct: bool
    result: QuestionResultOut


class ProgressResponse(WireModel):
    """The progress of the attempt."""

    lesson_type: LessonType
    finalized: bool
    score: float | None = None
    questions: list[QuestionOut] = Field(default_factory=list)
    tool_provider: ToolProvider | None
    enrollment_failed: bool | None = None
    attempt: int
    xp: float | None
    multiplier: float | None
    accuracy: float
    correct_questions: int
    total_questions: int


def _assignment_fields(attempt: Attempt, credentials: Credentials | None) -> dict[str, Any]:
    return {
        "credentials": CredentialsOut(email=credentials.email, password=credentials.password)
        if credentials
        else None,
        "assignment_id": attempt.assignment_id,
        # classId is "" for providers without classes once assigned.
        "class_id": attempt.class_id
        if attempt.class_id is not None
        else ("" if attempt.assignment_id else None),
        "test_url": attempt.test_url,
        "test_id": attempt.test_id,
    }


def assign_response(attempt: Attempt, credentials: Credentials | None) -> AssignResponse:
    return AssignResponse(
        tool_provider=attempt.tool_provider,
        lesson_type=attempt.lesson_type,
        attempt=attempt.attempt,
        **_assignment_fields(attempt, credentials),
    )


def import_response(attempt: Attempt, lesson: Lesson, credentials: Credentials | None) -> ImportResponse:
    return ImportResponse(
        lesson_type=attempt.lesson_type,
        lesson_id=lesson.id,
        tool_provider=attempt.tool_provider,
        finalized=attempt.finalized,
        attempt=attempt.attempt,
        course_id_on_fail=lesson.course_id_on_fail,
        has_fallback_course=bool(lesson.course_id_on_fail),
        **_assignment_fields(attempt, credentials),
    )


def progress_response(
    lesson: Lesson, lesson_type: LessonType, provider: ToolProvider, attempt: Attempt | None, number: int
) -> ProgressResponse:
    if attempt is None:
        return ProgressResponse(
            lesson_type=lesson_type,
            finalized=False,
            tool_provider=provider,
            attempt=number,
            xp=None,
            multiplier=None,
            accuracy=0.0,
            correct_questions=0,
            total_questions=0,
        )
    fallback_url = attempt.test_url or lesson.url or "about:blank"
    final = attempt.finalized
    return ProgressResponse(
        lesson_type=attempt.lesson_type,
        finalized=final,
        score=attempt.score,
        questions=[
            QuestionOut(
                id=q.id,
                index=q.index,
                title=q.title,
                url=q.url or fallback_url,
                difficulty=q.difficulty,
                correct=q.correct,
                result=QuestionResultOut(score=q.score, feedback=q.feedback),
            )
            for q in attempt.questions
        ],
        tool_provider=attempt.tool_provider,
        enrollment_failed=attempt.enrollment_failed if final else None,
        attempt=attempt.attempt,
        xp=attempt.xp if final else None,
        multiplier=attempt.multiplier if final else None,
        accuracy=attempt.accuracy or 0.0,
        correct_questions=attempt.correct_questions,
        total_questions=attempt.total_questions,
    )
