"""Every product rule in one place: eligibility, scoring, finalization, XP, enrollment."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, Unprocessable
from .attempt import Attempt, EnrollmentStatus
from .grades import next_grade
from .links import LinkPolicy
from .models import Difficulty, Lesson, LessonType, QuestionResult, Scores, ScoreStatus, Student, ToolProvider

EXTERNAL_LESSON_TYPES = {t.value for t in LessonType}
SUPPORTED_PROVIDERS = {p.value for p in ToolProvider}


# --- eligibility -------------------------------------------------------------------------


def check_student(student_id: str, student: Student | None) -> Student:
    if student is None:
        raise NotFound(f"student '{student_id}' does not exist", field="student")
    if not student.is_student:
        raise NotFound(f"user '{student_id}' is not a student", field="student")
    return student


def check_lesson(lesson_id: str, lesson: Lesson | None) -> tuple[LessonType, ToolProvider]:
    if lesson is None:
        raise NotFound(f"lesson '{lesson_id}' does not exist", field="lesson")
    if lesson.lesson_type not in EXTERNAL_LESSON_TYPES:
        raise Unprocessable(
            f"lesson '{lesson_id}' is not an external test-out, placement or unit-test lesson",
            field="lesson",
        )
    if lesson.tool_provider not in SUPPORTED_PROVIDERS:
        raise Unprocessable(
            f"tool provider '{lesson.tool_provider or ''}' of lesson '{lesson_id}' is not supported "
            "(edulastic or mastery-track)",
            field="lesson",
        )
    return LessonType(lesson.lesson_type), ToolProvider(lesson.tool_provider)


def student_email(student: Student) -> str:
    if not student.email:
        raise Unprocessable(f"student '{student.id}' has no email", field="student")
    return student.email


# --- scoring -----------------------------------------------------------------------------


def _percent(value: float) -> float:
    return round(value * 100.0, 4)


def score_questions(questions: list[QuestionResult]) -> Scores:
    """Each question counts score ÷ maxScore; the test score is their mean as a percentage."""
    total = len(questions)
    if total == 0:
        return Scores(score=None, accuracy=None, correct_questions=0, total_questions=0, questions=[])
    score = _percent(sum(q.credit for q in questions) / total)
    correct = sum(1 for q in questions if q.correct)
    return Scores(
        score=score, accuracy=score, correct_questions=correct, total_questions=total, questions=questions
    )


def edulastic_is_final(submitted: bool, graded: str | None, questions: list[QuestionResult]) -> bool:
    if not submitted or graded != "GRADED" or not questions:
        return False
    return all(q.answered and q.graded and not q.pending_evaluation for q in questions)


def edulastic_score_status(submitted: bool, graded: str | None, final: bool) -> ScoreStatus:
    if final:
        return ScoreStatus.FULLY_GRADED
    if not submitted:
        return ScoreStatus.NOT_SUBMITTED
    return ScoreStatus.PARTIALLY_GRADED if graded else ScoreStatus.SUBMITTED


def _number(value: Any) -> float | None:
    """A finite number from a lenient source (write-backs are untrusted), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value) if isinstance(value, int | float) else float(str(value))
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else None


def writeback_scores(
    record: dict[str, Any], test_url: str | None, link: Callable[[Any], str | None] = LinkPolicy().kept
) -> Scores:
    """MasteryTrack results from a stored OneRoster write-back record. A question's link is what
    `link` makes of the written one when it keeps it (https only by default), else the test's."""
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    raw_questions = metadata.get("questions") or record.get("questions") or []
    questions: list[QuestionResult] = []
    if isinstance(raw_questions, list):
        for index, raw in enumerate(q for q in raw_questions if isinstance(q, dict)):
            max_score = _number(raw.get("maxScore")) or 1.0
            points = _number(raw.get("score")) or 0.0
            correct = _flag(raw.get("correct"))
            questions.append(
                QuestionResult(
                    id=str(raw.get("id") or raw.get("questionId") or index),
                    index=index,
                    title=str(raw.get("title") or f"Question {index + 1}"),
                    url=link(raw.get("url")) or test_url,
                    difficulty=Difficulty.of(raw.get("difficulty")),
                    score=points,
                    max_score=max_score,
                    answered=True,
                    graded=True,
                    correct=correct if correct is not None else points >= max_score,
                    feedback=str(raw.get("feedback") or ""),
                )
            )
    total = _int(metadata.get("totalQuestions"))
    correct_count = _int(metadata.get("correctQuestions"))
    if total is None:
        total = len(questions)
    if correct_count is None:
        correct_count = sum(1 for q in questions if q.correct)
    score = _number(record.get("score"))
    if score is None and total:
        score = _percent(correct_count / total)
    return Scores(
        score=score,
        accuracy=score,
        correct_questions=correct_count,
        total_questions=total,
        questions=questions,
    )


def mastery_track_is_final(record: dict[str, Any]) -> bool:
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    processed = _flag(metadata.get("masteryTrackProcessed"))
    return record.get("scoreStatus") == ScoreStatus.FULLY_GRADED.value and processed is True


# --- XP ----------------------------------------------------------------------------------


def xp_multiplier(accuracy: float | None, attempt: int) -> float:
    accuracy = accuracy or 0.0
    if attempt <= 1:
        if accuracy >= 100.0:
            return 1.25
        return 1.0 if accuracy >= 80.0 else 0.0
    if accuracy >= 100.0:
        return 1.0
    return 0.5 if accuracy >= 80.0 else 0.0


def xp_for(base_xp: float, accuracy: float | None, attempt: int) -> tuple[float, float]:
    multiplier = xp_multiplier(accuracy, attempt)
    return multiplier, round(base_xp * multiplier, 4)


# --- enrollment --------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentPlan:
    """What enrollment the rules call for once an attempt is final."""

    status: EnrollmentStatus  # PENDING when something must be enrolled, else NOT_DUE / SKIPPED
    course_id: str | None = None  # a fixed course (courseIdOnFail)
    track_subject: str | None = None  # else the Subject Track course for (subject, grade)
    track_grade: str | None = None
    reason: str | None = None  # why the plan cannot be carried out (→ enrollment failed)


def plan_enrollment(lesson: Lesson, attempt: Attempt, threshold: float) -> EnrollmentPlan:
    if attempt.skip_course_enrollment:
        return EnrollmentPlan(EnrollmentStatus.SKIPPED)
    accuracy = attempt.accuracy or 0.0
    mastered = accuracy >= threshold
    if attempt.lesson_type is LessonType.PLACEMENT and not mastered:
        if lesson.course_id_on_fail:
            return EnrollmentPlan(EnrollmentStatus.PENDING, course_id=lesson.course_id_on_fail)
        return _track_plan(lesson, lesson.grade)
    if attempt.lesson_type is LessonType.TEST_OUT and mastered:
        target = next_grade(lesson.grade) if lesson.grade is not None else None
        if lesson.grade is not None and target is None:
            return EnrollmentPlan(EnrollmentStatus.PENDING, reason=f"no grade above {lesson.grade}")
        return _track_plan(lesson, target)
    return EnrollmentPlan(EnrollmentStatus.NOT_DUE)


def enrollment_sourced_id(student_id: str, course_id: str) -> str:
    """Derived from (student, course), so every try of one enrollment names the same record."""
    return f"enr-{uuid.uuid5(uuid.NAMESPACE_URL, f'enrollment:{student_id}:{course_id}')}"


def _track_plan(lesson: Lesson, grade: str | None) -> EnrollmentPlan:
    if not lesson.subject or grade is None:
        return EnrollmentPlan(EnrollmentStatus.PENDING, reason="the lesson has no subject or grade")
    return EnrollmentPlan(EnrollmentStatus.PENDING, track_subject=lesson.subject, track_grade=grade)


# --- workflow ----------------------------------------------------------------------------


def next_wait(waits: list[int], step: int) -> int:
    """The backoff schedule: the last wait repeats."""
    if not waits:
        return 3600
    return max(0, int(waits[min(step, len(waits) - 1)]))
