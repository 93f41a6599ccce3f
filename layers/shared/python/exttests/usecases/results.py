"""importExternalTestAssignmentResults and the OneRoster write-back.

Edulastic results are pulled from the provider; MasteryTrack results arrive by write-back and
are processed from the stored record. Both end in the same transition to final.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from ..domain.attempt import Attempt
from ..domain.models import Credentials, Lesson, QuestionResult, ScoreStatus, ToolProvider
from ..domain.rules import (
    check_lesson,
    check_student,
    edulastic_is_final,
    edulastic_score_status,
    mastery_track_is_final,
    score_questions,
    writeback_scores,
)
from ..errors import BadRequest, NotFound, Unprocessable
from ..ports import Context
from ..providers.base import ResultsProvider, TestResults
from .credentials import credentials_for
from .deps import Deps, iso
from .finalize import Change, complete_enrollment, finalize, update_attempt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportOutcome:
    attempt: Attempt
    lesson: Lesson
    credentials: Credentials | None


def import_results(deps: Deps, student_id: str, lesson_id: str) -> ImportOutcome:
    ctx = deps.store.load_context(student_id, lesson_id)
    check_student(student_id, ctx.student)
    check_lesson(lesson_id, ctx.lesson)
    attempt = import_for_context(deps, ctx)
    assert ctx.lesson is not None
    account = ctx.accounts.get(attempt.tool_provider)
    return ImportOutcome(attempt, ctx.lesson, credentials_for(deps.cipher, attempt.student_id, account))


def import_for_context(deps: Deps, ctx: Context) -> Attempt:
    """The import itself; also the workflow's poll step."""
    head, lesson = ctx.head, ctx.lesson
    assert lesson is not None
    if head is None or not head.is_assigned:
        raise Unprocessable(
            "credentials for data consumption are not available: no test assignment was made "
            f"for student '{ctx.student.id if ctx.student else ''}' and lesson '{lesson.id}'",
            field="lesson",
        )
    if head.is_final:
        if head.enrollment is not None and head.finalized:
            return complete_enrollment(deps, head, lesson, ctx.student)
        return head
    if head.tool_provider == ToolProvider.EDULASTIC.value:
        provider = cast(ResultsProvider, deps.providers.get(head.tool_provider))
        results = provider.fetch_results(
            assignment_id=head.assignment_id or "",
            class_id=head.class_id or "",
            test_id=head.test_id or "",
            provider_user_id=head.provider_user_id or "",
        )
        change = _edulastic_change(deps, lesson, results)
    else:
        change = _writeback_change(deps, lesson)
    return update_attempt(deps, head, change, lesson=lesson, student=ctx.student)


def _questions_from(results: TestResults, test_url: str | None) -> list[QuestionResult]:
    return [
        QuestionResult(
            id=q.id,
            index=q.index,
            title=q.title or f"Question {q.index + 1}",
            url=q.url or test_url,
            difficulty=q.difficulty if q.difficulty in ("easy", "medium", "hard") else "medium",
            score=q.score or 0.0,
            max_score=q.max_score if q.max_score > 0 else 1.0,
            # "Answered" here means the question has an activity: a skipped question that was
            # graded counts (as 0) and does not keep the test open; a missing one does.
            answered=q.answered or q.skipped,
            graded=q.graded,
            pending_evaluation=q.pending_evaluation,
            correct=bool(q.correct),
            feedback=q.feedback or "",
        )
        for q in results.questions
    ]


def _edulastic_change(deps: Deps, lesson: Lesson, results: TestResults) -> Change:
    def change(attempt: Attempt) -> Attempt | None:
        if attempt.is_final:
            return None
        questions = _questions_from(results, attempt.test_url)
        scores = score_questions(questions)
        final = edulastic_is_final(results.submitted, results.graded, questions)
        updated = attempt.evolve(
            {
                "questions": scores.questions,
                "score": scores.score,
                "accuracy": scores.accuracy,
                "correct_questions": scores.correct_questions,
                "total_questions": scores.total_questions,
                "submitted": results.submitted,
                "graded": results.graded,
                "score_status": edulastic_score_status(results.submitted, results.graded, final),
            }
        )
        if final:
            updated.score_date = iso(deps.clock.now())
            return finalize(deps, updated, lesson)
        return None if _same_results(attempt, updated) else updated

    return change


def _same_results(before: Attempt, after: Attempt) -> bool:
    fields = (
        "questions",
        "score",
        "correct_questions",
        "total_questions",
        "submitted",
        "graded",
        "score_status",
    )
    return all(getattr(before, name) == getattr(after, name) for name in fields)


def _writeback_change(deps: Deps, lesson: Lesson) -> Change:
    def change(attempt: Attempt) -> Attempt | None:
        if attempt.is_final or attempt.writeback is None:
            return None
        record = attempt.writeback
        scores = writeback_scores(record, attempt.test_url)
        status = record.get("scoreStatus")
        updated = attempt.evolve(
            {
                "questions": scores.questions,
                "score": scores.score,
                "accuracy": scores.accuracy,
                "correct_questions": scores.correct_questions,
                "total_questions": scores.total_questions,
                "score_status": ScoreStatus(status) if status else attempt.score_status,
                "score_date": record.get("scoreDate") or attempt.score_date,
            }
        )
        if mastery_track_is_final(record):
            return finalize(deps, updated, lesson)
        return None if _same_results(attempt, updated) else updated

    return change


# --- write-back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteBackOutcome:
    attempt: Attempt
    woke_workflow: bool = False


def _find(deps: Deps, sourced_id: str) -> tuple[Context, Attempt]:
    found = deps.store.find_by_sourced_id(sourced_id)
    if found is None:
        raise NotFound(f"assessmentResult '{sourced_id}' does not exist", field="sourcedId")
    return found


def get_assessment_result(deps: Deps, sourced_id: str) -> Attempt:
    return _find(deps, sourced_id)[1]


def write_back(deps: Deps, sourced_id: str, record: dict[str, Any]) -> WriteBackOutcome:
    """Store a OneRoster AssessmentResult written back by MasteryTrack (or any writer).

    `record` is already validated by the API layer (scoreStatus in the enum, numeric score)."""
    ctx, attempt = _find(deps, sourced_id)
    _check_refs(attempt, record)
    if attempt.is_final:
        return WriteBackOutcome(attempt)  # writers retry; a final attempt never changes
    lesson = ctx.lesson
    is_mastery_track = attempt.tool_provider == ToolProvider.MASTERY_TRACK.value

    def store_record(current: Attempt) -> Attempt | None:
        if current.is_final:
            return None
        merged = {**(current.writeback or {}), **record}
        updated = current.evolve({"writeback": merged})
        if is_mastery_track and lesson is not None:
            processed = _writeback_change(deps, lesson)(updated)
            return processed or updated
        status = record.get("scoreStatus")
        return updated.evolve({"score_status": ScoreStatus(status)}) if status else updated

    saved = update_attempt(deps, attempt, store_record, lesson=lesson, student=ctx.student)
    woke = False
    if saved.finalized and saved.task_token:
        # Wake the waiting workflow now instead of at its next poll.
        woke = deps.workflow.complete_callback(saved.task_token, {"finalized": True})
    return WriteBackOutcome(saved, woke)


def _check_refs(attempt: Attempt, record: dict[str, Any]) -> None:
    student = record.get("student")
    if isinstance(student, dict) and student.get("sourcedId") not in (None, attempt.student_id):
        raise BadRequest("student does not match the assessmentResult", field="student")
    line_item = record.get("assessmentLineItem")
    if isinstance(line_item, dict) and line_item.get("sourcedId") not in (None, attempt.line_item_id):
        raise BadRequest("assessmentLineItem does not match the assessmentResult", field="assessmentLineItem")
