"""importExternalTestAssignmentResults and the OneRoster write-back.

A provider that pulls has its results fetched; one that writes back has them processed from the
stored record. Both end in the same transition to final (`finalize.apply_results`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import budget
from ..domain.attempt import Attempt
from ..domain.models import Credentials, Difficulty, Lesson, QuestionResult, Scores, ScoreStatus
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
from ..observability import append_log_keys, logger
from ..ports import Context
from ..providers.base import AssignmentRef, TestResults
from .attempts import Change, update_attempt
from .context import load_context
from .credentials import credentials_for
from .deps import Deps, iso
from .finalize import apply_results, complete_enrollment, finalize


@dataclass(frozen=True)
class ImportOutcome:
    attempt: Attempt
    lesson: Lesson
    credentials: Credentials | None


def import_results(deps: Deps, student_id: str, lesson_id: str) -> ImportOutcome:
    ctx = load_context(deps, student_id, lesson_id)
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
    # A final attempt answers even without a stored assignment: a provider that writes back may
    # have finished the test of an intent whose assign answer was lost.
    if head is None or not (head.is_assigned or head.is_final):
        raise Unprocessable(
            "credentials for data consumption are not available: no test assignment was made "
            f"for student '{ctx.student.id if ctx.student else ''}' and lesson '{lesson.id}'",
            field="lesson",
        )
    append_log_keys(attempt=head.attempt)
    if head.is_final:
        if head.finalized:
            return complete_enrollment(deps, head, lesson, ctx.student)
        return head
    traits = deps.providers.traits(head.tool_provider)
    if traits.pulls_results:
        with budget.reserving():
            results = deps.providers.get(head.tool_provider).fetch_results(
                AssignmentRef(
                    assignment_id=head.assignment_id or "",
                    class_id=head.class_id or "",
                    test_id=head.test_id or "",
                    provider_user_id=head.provider_user_id or "",
                )
            )
        change = _pulled_change(deps, lesson, results)
    else:
        change = _written_back_change(deps, lesson)
    deps.metrics.count(
        "ResultsImported", provider=head.tool_provider.value, lesson_type=head.lesson_type.value
    )
    return apply_results(deps, head, change, lesson, ctx.student)


def _checked_link(deps: Deps, what: str) -> Callable[[Any], str | None]:
    """A link from a provider or a writer as clients may get it: None when absent or refused
    (logged with the reason, which names at most the scheme)."""

    def link(url: Any) -> str | None:
        if url is None or url == "":
            return None
        reason = deps.settings.links.refusal(url)
        if reason is None:
            return str(url)
        logger.warning("a link was refused", extra={"link": what, "reason": reason})
        return None

    return link


def _questions_from(
    results: TestResults, test_url: str | None, link: Callable[[Any], str | None]
) -> list[QuestionResult]:
    return [
        QuestionResult(
            id=q.id,
            index=q.index,
            title=q.title or f"Question {q.index + 1}",
            url=link(q.url) or test_url,
            difficulty=Difficulty.of(q.difficulty),
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


def _with_scores(attempt: Attempt, scores: Scores, **fields: Any) -> Attempt:
    return attempt.evolve(
        {
            "questions": scores.questions,
            "score": scores.score,
            "accuracy": scores.accuracy,
            "correct_questions": scores.correct_questions,
            "total_questions": scores.total_questions,
            **fields,
        }
    )


_RESULT_FIELDS = (
    "questions",
    "score",
    "correct_questions",
    "total_questions",
    "submitted",
    "graded",
    "score_status",
)


def _same_results(before: Attempt, after: Attempt) -> bool:
    return all(getattr(before, name) == getattr(after, name) for name in _RESULT_FIELDS)


def _pulled_change(deps: Deps, lesson: Lesson, results: TestResults) -> Change:
    def change(attempt: Attempt) -> Attempt | None:
        if attempt.is_final:
            return None
        link = _checked_link(deps, "question url")
        scores = score_questions(_questions_from(results, attempt.test_url, link))
        final = edulastic_is_final(results.submitted, results.graded, scores.questions)
        updated = _with_scores(
            attempt,
            scores,
            submitted=results.submitted,
            graded=results.graded,
            score_status=edulastic_score_status(results.submitted, results.graded, final),
        )
        if final:
            return finalize(deps, updated.evolve({"score_date": iso(deps.clock.now())}), lesson)
        return None if _same_results(attempt, updated) else updated

    return change


def _written_back_change(deps: Deps, lesson: Lesson) -> Change:
    def change(attempt: Attempt) -> Attempt | None:
        if attempt.is_final or attempt.writeback is None:
            return None
        return _process_writeback(deps, lesson, attempt)

    return change


def _process_writeback(deps: Deps, lesson: Lesson, attempt: Attempt) -> Attempt | None:
    record = attempt.writeback or {}
    status = record.get("scoreStatus")
    updated = _with_scores(
        attempt,
        writeback_scores(record, attempt.test_url, _checked_link(deps, "write-back question url")),
        score_status=ScoreStatus(status) if status else attempt.score_status,
        score_date=record.get("scoreDate") or attempt.score_date,
    )
    if mastery_track_is_final(record):
        return finalize(deps, updated, lesson)
    return None if _same_results(attempt, updated) else updated


# --- write-back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteBackOutcome:
    attempt: Attempt
    woke_workflow: bool = False


def _find(deps: Deps, sourced_id: str) -> tuple[Context, Attempt]:
    """The result a write-back client may see: only attempts of providers that write back."""
    found = deps.store.find_by_sourced_id(sourced_id)
    if found is None or not deps.providers.traits(found[1].tool_provider).accepts_write_back:
        raise NotFound(f"assessmentResult '{sourced_id}' does not exist", field="sourcedId")
    ctx, attempt = found
    append_log_keys(student=attempt.student_id, lesson=attempt.lesson_id, attempt=attempt.attempt)
    if ctx.stale:
        ctx = deps.roster.refresh(ctx, attempt.student_id, attempt.lesson_id)
    return ctx, attempt


def get_assessment_result(deps: Deps, sourced_id: str) -> Attempt:
    return _find(deps, sourced_id)[1]


def write_back(deps: Deps, sourced_id: str, record: dict[str, Any]) -> WriteBackOutcome:
    """Store a OneRoster AssessmentResult written back by the provider (or any OneRoster writer).

    `record` is already validated by the API layer (shape, size, scoreStatus in the enum,
    numeric score). The newest accepted write replaces the stored one (a PUT is an upsert)."""
    ctx, attempt = _find(deps, sourced_id)
    _check_refs(sourced_id, attempt, record)
    deps.metrics.count("WriteBackReceived")
    if attempt.is_final:
        return WriteBackOutcome(attempt)  # writers retry; a final attempt never changes
    lesson = ctx.lesson

    def store_record(current: Attempt) -> Attempt | None:
        if current.is_final:
            return None
        updated = current.evolve({"writeback": record})
        if lesson is None:
            return updated
        return _process_writeback(deps, lesson, updated) or updated

    if lesson is None:  # removed from the roster since: keep the record, score it once it is back
        saved = update_attempt(deps, attempt, store_record)
    else:
        saved = apply_results(deps, attempt, store_record, lesson, ctx.student)
    woke = False
    if saved.finalized and saved.task_token:
        # Wake the waiting workflow now instead of at its next poll.
        woke = deps.workflow.complete_callback(saved.task_token, {"finalized": True})
    return WriteBackOutcome(saved, woke)


def _check_refs(sourced_id: str, attempt: Attempt, record: dict[str, Any]) -> None:
    if record.get("sourcedId") not in (None, sourced_id):
        raise BadRequest("sourcedId in the body does not match the path", field="sourcedId")
    student = record.get("student")
    if isinstance(student, dict) and student.get("sourcedId") not in (None, attempt.student_id):
        raise BadRequest("student does not match the assessmentResult", field="student")
    line_item = record.get("assessmentLineItem")
    if isinstance(line_item, dict) and line_item.get("sourcedId") not in (None, attempt.line_item_id):
        raise BadRequest("assessmentLineItem does not match the assessmentResult", field="assessmentLineItem")
