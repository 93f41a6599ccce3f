"""getAssessmentProgress: the stored results of one attempt. Reads only; never calls a provider."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.attempt import Attempt
from ..domain.models import Lesson
from ..domain.rules import check_lesson, check_student
from ..errors import NotFound
from .deps import Deps


@dataclass(frozen=True)
class ProgressOutcome:
    lesson: Lesson
    attempt: Attempt | None  # None: nothing assigned yet
    attempt_number: int


def get_progress(deps: Deps, student_id: str, lesson_id: str, attempt: int | None) -> ProgressOutcome:
    ctx = deps.store.load_context(student_id, lesson_id)
    check_student(student_id, ctx.student)
    check_lesson(lesson_id, ctx.lesson)
    assert ctx.lesson is not None
    head = ctx.head
    if attempt is None or (head is not None and attempt == head.attempt):
        return ProgressOutcome(ctx.lesson, head, head.attempt if head else 1)
    if head is None and attempt == 1:
        return ProgressOutcome(ctx.lesson, None, 1)
    found = (
        deps.store.get_attempt(student_id, lesson_id, attempt) if head and attempt < head.attempt else None
    )
    if found is None:
        raise NotFound(f"attempt {attempt} does not exist for this student and lesson", field="attempt")
    return ProgressOutcome(ctx.lesson, found, attempt)
