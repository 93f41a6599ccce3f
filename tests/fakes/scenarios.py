"""Steps the use-case tests share: the demo roster's ids, assigning, a student finishing a test
on either provider, and an attempt left final with its enrollment still pending."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from exttests.domain.models import LessonType, ToolProvider
from exttests.providers.base import QuestionActivity, TestResults
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.finalize import finalize
from exttests.usecases.results import import_results, write_back

from .deps import FakeWorld, make_deps

ADA, ADA_EMAIL = "student-ada", "ada.lovelace@students.example.com"
KATHERINE = "student-katherine"  # primary org org-school-2, which has its own Math grade 6 track
MARY = "student-mary"  # no primaryOrg: the org of her primary role (org-school-2)
EDU_TESTOUT = "lesson-edu-testout-math-g5"  # xp 100, Math grade 5
EDU_PLACEMENT = "lesson-edu-placement-math-g5"  # xp 50, courseIdOnFail course-math-g5-foundations
EDU_UNIT = "lesson-edu-unit-ela-g3"  # xp 30
MT_TESTOUT = "lesson-mt-testout-math-g5"  # xp 120, Math grade 5
MT_PLACEMENT = "lesson-mt-placement-reading-g5"  # xp 60, Reading grade 5, no courseIdOnFail
MT_UNIT = "lesson-mt-unit-math-g6"  # xp 40


def concurrently(works: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each in its own thread, all at once (in AWS each would be its own Lambda: only the
    store's conditional writes serialize them); their answers, or the first error raised.

    The interpreter switches threads every microsecond meanwhile: at the default 5 ms these short
    use cases would run one after the other and never race."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(max_workers=len(works)) as pool:
            return list(pool.map(lambda work: work(), works))
    finally:
        sys.setswitchinterval(interval)


def assigned(world: FakeWorld, lesson: str, student: str = ADA, **command: Any) -> Attempt:
    return assign(world.deps, AssignCommand(student, lesson, **command)).attempt


def head(world: FakeWorld, lesson: str, student: str = ADA) -> Attempt:
    found = world.store.head(student, lesson)
    assert found is not None, f"no attempt of {student} on {lesson}"
    return found


def activity(index: int, score: float | None, max_score: float = 1.0, **fields: Any) -> QuestionActivity:
    """One answered, graded question; `fields` override any of it."""
    values: dict[str, Any] = {
        "id": f"q{index + 1}",
        "index": index,
        "title": f"Question {index + 1}",
        "max_score": max_score,
        "answered": score is not None,
        "score": score,
        "graded": score is not None,
        "correct": None if score is None else score >= max_score,
        **fields,
    }
    return QuestionActivity(**values)


def pulled(
    world: FakeWorld,
    lesson: str,
    questions: list[QuestionActivity],
    *,
    student: str = ADA,
    submitted: bool = True,
    graded: str | None = "GRADED",
) -> None:
    """What the pulling provider reports for the student's current assignment of `lesson`."""
    assignment = head(world, lesson, student).assignment_id
    assert assignment is not None
    world.edulastic.results[assignment] = TestResults(
        started=True, submitted=submitted, graded=graded, questions=tuple(questions)
    )


def record(
    score: float | None = 95,
    status: str = "fully graded",
    processed: Any = True,
    total: int = 20,
    correct: int = 19,
    **extra: Any,
) -> dict[str, Any]:
    """A OneRoster AssessmentResult as a writing-back provider sends it (validated shape)."""
    written: dict[str, Any] = {
        "scoreStatus": status,
        "scoreDate": "2026-11-20",
        "metadata": {
            "masteryTrackProcessed": processed,
            "totalQuestions": total,
            "correctQuestions": correct,
        },
        **extra,
    }
    if score is not None:
        written["score"] = score
    return written


def written_back(world: FakeWorld, lesson: str, student: str = ADA, **fields: Any) -> Attempt:
    """The student finishes a writing-back provider's test: its record arrives."""
    return write_back(world.deps, head(world, lesson, student).sourced_id, record(**fields)).attempt


def finished(world: FakeWorld, lesson: str, accuracy: float, student: str = ADA) -> Attempt:
    """The student finishes the current attempt with `accuracy`, on whichever kind of provider
    the lesson uses, and the results are brought in."""
    current = head(world, lesson, student)
    if world.providers.traits(current.tool_provider).pulls_results:
        pulled(world, lesson, [activity(0, accuracy, max_score=100)], student=student)
        return import_results(world.deps, student, lesson).attempt
    return written_back(world, lesson, student, score=accuracy)


def final_with_enrollment_pending(
    world: FakeWorld, lesson: str, accuracy: float, student: str = ADA
) -> Attempt:
    """An attempt stored final whose enrollment never ran: what a crash between the two writes of
    an older version left behind (the current one writes both in one transaction)."""
    current = head(world, lesson, student)
    ctx = world.store.load_context(student, lesson)
    assert ctx.lesson is not None
    final = finalize(world.deps, current.evolve({"accuracy": accuracy, "score": accuracy}), ctx.lesson)
    return world.store.save(final)


def seed(
    world: FakeWorld, n: int, status: AttemptStatus, due_in: float, deadline_in: float = 86400
) -> Attempt:
    """An attempt of student-bulk-n as an earlier request left it, due `due_in` seconds from now."""
    now = world.clock.now()
    final = status in (AttemptStatus.FINALIZED, AttemptStatus.EXPIRED)
    attempt = Attempt(
        student_id=f"student-bulk-{n}",
        lesson_id=EDU_TESTOUT,
        attempt=1,
        sourced_id=f"ear-bulk-{n}",
        line_item_id=f"eali-bulk-{n}",
        status=status,
        tool_provider=ToolProvider.EDULASTIC,
        lesson_type=LessonType.TEST_OUT,
        assignment_id=f"asg-{n}",
        workflow_started=True,
        enrollment=EnrollmentStatus.NOT_DUE if final else None,
        deadline=(now + timedelta(seconds=deadline_in)).isoformat(),
        due_at=(now + timedelta(seconds=due_in)).isoformat(),
        version=1,
    )
    assert world.store.begin_attempt(attempt, None, None)
    return attempt


def seeded_world() -> tuple[FakeWorld, list[Attempt]]:
    """100 final attempts, 10 overdue ones whose workflow is gone (most overdue first), and 20
    live ones not due yet."""
    world = make_deps()
    for n in range(100):
        seed(world, n, AttemptStatus.FINALIZED, due_in=-7200)
    stuck_ones = [seed(world, 1000 + n, AttemptStatus.ASSIGNED, due_in=-3600 + n) for n in range(10)]
    for n in range(20):
        seed(world, 2000 + n, AttemptStatus.ASSIGNED, due_in=3600)
    return world, stuck_ones
