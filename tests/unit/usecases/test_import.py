"""importExternalTestAssignmentResults for a provider that pulls (Edulastic-like): scoring,
when a test is final, and what a repeated import costs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from exttests.domain.attempt import AttemptStatus
from exttests.domain.events import EventType
from exttests.domain.models import Difficulty, ScoreStatus
from exttests.errors import NotFound, ProviderUnavailable, Unprocessable
from exttests.providers.base import QuestionActivity
from exttests.usecases.results import import_results
from tests.fakes import FakeWorld, make_deps
from tests.fakes.scenarios import ADA, EDU_TESTOUT, EDU_UNIT, MT_TESTOUT, activity, assigned, head, pulled

# (1 + 0 + 0.5 + 1) / 4 = 62.5 %: per-question credit, partial credit included.
MIXED = [
    activity(0, 1, feedback="Well done"),
    activity(1, 0, feedback="Distribute first"),
    activity(2, 1, max_score=2, correct=False, feedback="Half"),
    activity(3, 1),
]


def world_with(questions: list[QuestionActivity], lesson: str = EDU_TESTOUT, **report: Any) -> FakeWorld:
    world = make_deps()
    assigned(world, lesson)
    pulled(world, lesson, questions, **report)
    return world


def test_the_score_is_the_mean_question_credit_as_a_percentage_with_partial_credit() -> None:
    world = world_with(MIXED)
    attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert attempt.finalized
    assert attempt.score == 62.5 and attempt.accuracy == 62.5
    assert attempt.total_questions == 4
    assert [q.score for q in attempt.questions] == [1.0, 0.0, 1.0, 1.0]
    assert [q.max_score for q in attempt.questions] == [1.0, 1.0, 2.0, 1.0]


def test_correct_questions_counts_the_questions_the_provider_marked_correct() -> None:
    # Full credit the provider did not mark correct does not count; a marked partial answer does.
    world = world_with([activity(0, 1, correct=False), activity(1, 1, max_score=2, correct=True)])
    attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert attempt.correct_questions == 1
    assert attempt.score == 75.0


@pytest.mark.parametrize(
    ("questions", "report", "status"),
    [
        pytest.param(
            MIXED, {"submitted": False, "graded": None}, ScoreStatus.NOT_SUBMITTED, id="not-submitted"
        ),
        pytest.param(MIXED, {"graded": "IN GRADING"}, ScoreStatus.PARTIALLY_GRADED, id="in-grading"),
        pytest.param(MIXED, {"graded": None}, ScoreStatus.SUBMITTED, id="no-grade-yet"),
        pytest.param(
            [*MIXED[:3], activity(3, 0, pending_evaluation=True, graded=False)],
            {},
            ScoreStatus.PARTIALLY_GRADED,
            id="pending-evaluation",
        ),
        pytest.param(
            [*MIXED[:3], activity(3, 1, graded=False)], {}, ScoreStatus.PARTIALLY_GRADED, id="ungraded"
        ),
        pytest.param(
            [*MIXED[:3], activity(3, None, graded=True)], {}, ScoreStatus.PARTIALLY_GRADED, id="unanswered"
        ),
        pytest.param([], {}, ScoreStatus.PARTIALLY_GRADED, id="no-questions"),
    ],
)
def test_a_test_stays_open_until_submitted_graded_and_every_question_graded(
    questions: list[QuestionActivity], report: dict[str, Any], status: ScoreStatus
) -> None:
    world = world_with(questions, **report)
    attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert not attempt.is_final and attempt.status is AttemptStatus.ASSIGNED
    assert attempt.score_status is status
    assert attempt.xp is None and attempt.enrollment is None
    assert world.store.events_of(EventType.FINALIZED) == []


def test_a_skipped_question_that_was_graded_counts_zero_and_does_not_keep_the_test_open() -> None:
    skipped = activity(1, 0, answered=False, skipped=True, correct=False)
    world = world_with([activity(0, 1), skipped, activity(2, 2, max_score=2), activity(3, 1)])
    attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert attempt.finalized
    assert attempt.score == 75.0 and attempt.correct_questions == 3
    assert attempt.questions[1].score == 0.0


def test_a_test_in_grading_is_final_once_the_provider_has_graded_it() -> None:
    world = world_with(MIXED, graded="IN GRADING")
    assert not import_results(world.deps, ADA, EDU_TESTOUT).attempt.is_final
    pulled(world, EDU_TESTOUT, MIXED, graded="GRADED")

    attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt

    assert attempt.finalized and attempt.score_status is ScoreStatus.FULLY_GRADED
    assert attempt.score_date is not None
    assert len(world.store.events_of(EventType.FINALIZED)) == 1


def test_a_pending_essay_graded_later_counts_with_its_final_score() -> None:
    essay = activity(2, 0, max_score=4, graded=False, pending_evaluation=True)
    world = world_with([activity(0, 1), activity(1, 1), essay], lesson=EDU_UNIT)
    assert not import_results(world.deps, ADA, EDU_UNIT).attempt.is_final
    graded = activity(2, 3, max_score=4, correct=False, feedback="Good argument")
    pulled(world, EDU_UNIT, [activity(0, 1), activity(1, 1), graded])

    attempt = import_results(world.deps, ADA, EDU_UNIT).attempt

    assert attempt.finalized
    assert attempt.questions[2].score == 3.0 and attempt.questions[2].feedback == "Good argument"
    assert attempt.score == pytest.approx((1 + 1 + 0.75) / 3 * 100, abs=1e-3)


def test_polling_never_duplicates_question_results_and_an_unchanged_report_writes_nothing() -> None:
    world = world_with(MIXED, graded="IN GRADING")
    import_results(world.deps, ADA, EDU_TESTOUT)
    saves = world.store.calls["save"]
    for _ in range(3):
        attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert [q.id for q in attempt.questions] == ["q1", "q2", "q3", "q4"]
    assert world.store.calls["save"] == saves
    assert world.edulastic.calls["fetch_results"] == 4


def test_a_final_attempt_is_not_imported_again() -> None:
    world = world_with(MIXED)
    first = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    calls, reads, built = (
        Counter(world.edulastic.calls),
        Counter(world.store.calls),
        Counter(world.providers.built),
    )
    pulled(world, EDU_TESTOUT, [activity(i, 0) for i in range(4)])  # the provider's report changes

    for _ in range(3):
        assert import_results(world.deps, ADA, EDU_TESTOUT).attempt == first

    assert world.edulastic.calls == calls and world.providers.built == built
    # One read each (the context), no write.
    assert world.store.calls - reads == Counter(load_context=3)


def test_an_import_before_any_assignment_is_422_and_changes_nothing() -> None:
    world = make_deps()
    with pytest.raises(Unprocessable, match="credentials for data consumption are not available"):
        import_results(world.deps, ADA, EDU_TESTOUT)
    assert world.store.head(ADA, EDU_TESTOUT) is None
    assert world.edulastic.calls["fetch_results"] == 0 and world.store.outbox == []


@pytest.mark.parametrize(
    ("student", "lesson", "error"),
    [
        ("nobody", EDU_TESTOUT, NotFound),
        (ADA, "no-such-lesson", NotFound),
        ("teacher-1", EDU_TESTOUT, NotFound),
        (ADA, "lesson-quiz-math-g5", Unprocessable),
    ],
)
def test_an_unknown_or_ineligible_student_or_lesson_is_refused(
    student: str, lesson: str, error: type[Exception]
) -> None:
    world = make_deps()
    with pytest.raises(error):
        import_results(world.deps, student, lesson)
    assert world.store.calls["save"] == 0


def test_each_question_keeps_its_feedback_difficulty_and_link() -> None:
    questions = [
        activity(0, 1, feedback="Nice", difficulty="hard", url="https://edu.example.com/q/1"),
        activity(1, 0, difficulty="impossible", title="", feedback=""),
    ]
    world = world_with(questions)
    attempt = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    first, second = attempt.questions
    assert (first.feedback, first.difficulty, first.url) == (
        "Nice",
        Difficulty.HARD,
        "https://edu.example.com/q/1",
    )
    # The contract's defaults: medium, the test's own link, a title from the position.
    assert second.difficulty is Difficulty.MEDIUM
    assert second.url == head(world, EDU_TESTOUT).test_url
    assert second.title == "Question 2" and second.feedback == ""
    assert [q.index for q in attempt.questions] == [0, 1]


def test_a_provider_outage_during_an_import_changes_nothing() -> None:
    world = world_with(MIXED)
    world.edulastic.fail_next(ProviderUnavailable("edulastic", "HTTP 503"), call="fetch_results")
    before = head(world, EDU_TESTOUT)
    with pytest.raises(ProviderUnavailable):
        import_results(world.deps, ADA, EDU_TESTOUT)
    assert head(world, EDU_TESTOUT) == before
    assert import_results(world.deps, ADA, EDU_TESTOUT).attempt.finalized  # the retry imports


def test_an_import_of_a_writing_back_provider_asks_it_nothing() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    built = world.providers.built[head(world, MT_TESTOUT).tool_provider]
    attempt = import_results(world.deps, ADA, MT_TESTOUT).attempt
    assert not attempt.is_final
    assert world.mastery_track.calls["fetch_results"] == 0
    # No adapter is even built: no secret read for an import that cannot learn anything.
    assert world.providers.built[attempt.tool_provider] == built


def test_an_import_counts_as_results_imported_per_provider_and_lesson_type() -> None:
    world = world_with(MIXED, graded="IN GRADING")
    import_results(world.deps, ADA, EDU_TESTOUT)
    import_results(world.deps, ADA, EDU_TESTOUT)
    assert world.metrics.counts[("ResultsImported", "edulastic", "test-out")] == 2
