"""getAssessmentProgress: the stored results of one attempt. Reads only; never calls a provider."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.attempt import Attempt
from ..domain.models import Lesson, LessonType, ToolProvider
from ..domain.rules import check_lesson, check_student
from ..errors import NotFound
from ..observability import append_log_keys
from .context import load_context
from .deps import Deps


@dataclass(frozen=True)
class ProgressOutcome:
    lesson: Lesson
    lesson_type: LessonType
    tool_provider: ToolProvider
    attempt: Attempt | None  # None: nothing assigned yet
    attempt_number: int


def get_progress(deps: Deps, student_id: str, lesson_id: str, attempt: int | None) -> ProgressOutcome:
    append_log_keys(student=student_id, lesson=lesson_id, attempt=attempt)
    ctx = load_context(deps, student_id, lesson_id)
    check_student(student_id, ctx.student)
    lesson_type, provider = check_lesson(lesson_id, ctx.lesson)
    lesson, head = ctx.lesson, ctx.head
    assert lesson is not None

    def outcome(found: Attempt | None, number: int) -> ProgressOutcome:
        return ProgressOutcome(lesson, lesson_type, provider, found, number)

    if attempt is None or (head is not None and attempt == head.attempt):
        return outcome(head, head.attempt if head else 1)
    if head is None and attempt == 1:
        return outcome(None, 1)
    found = (
        deps.store.get_attempt(student_id, lesson_id, attempt) if head and attempt < head.attempt else None
    )
    if found is None:
        raise NotFound(f"attempt {attempt} does not exist for this student and lesson", field="attempt")
    return outcome(found, attempt)
