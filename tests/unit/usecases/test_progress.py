"""getAssessmentProgress: the stored results of the current or an earlier attempt; reads only."""

from __future__ import annotations

import pytest

from exttests.adapters.dynamo import keys
from exttests.api.schemas import ProgressResponse, progress_response
from exttests.errors import NotFound, Unprocessable
from exttests.usecases.progress import ProgressOutcome, get_progress
from tests.fakes import FakeWorld, make_deps
from tests.fakes.scenarios import ADA, EDU_TESTOUT, MT_PLACEMENT, MT_TESTOUT, MT_UNIT, assigned, finished


def progress(world: FakeWorld, lesson: str, attempt: int | None = None) -> ProgressResponse:
    found: ProgressOutcome = get_progress(world.deps, ADA, lesson, attempt)
    return progress_response(
        found.lesson, found.lesson_type, found.tool_provider, found.attempt, found.attempt_number
    )


def test_before_any_assignment_progress_is_attempt_one_not_final_without_xp() -> None:
    world = make_deps()
    answer = progress(world, EDU_TESTOUT)
    assert answer.attempt == 1 and answer.finalized is False
    assert answer.xp is None and answer.multiplier is None and answer.enrollment_failed is None
    assert answer.questions == [] and answer.score is None
    assert progress(world, EDU_TESTOUT, attempt=1) == answer


def test_an_open_attempt_has_no_xp_multiplier_or_enrollment_outcome_yet() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    answer = progress(world, MT_TESTOUT)
    assert answer.finalized is False and answer.attempt == 1
    assert answer.xp is None and answer.multiplier is None and answer.enrollment_failed is None


def test_earlier_attempts_keep_their_own_results() -> None:
    world = make_deps()
    assigned(world, MT_UNIT)
    finished(world, MT_UNIT, 85)
    assigned(world, MT_UNIT)
    finished(world, MT_UNIT, 100)
    assigned(world, MT_UNIT)  # attempt 3, open

    first, second, current = (progress(world, MT_UNIT, n) for n in (1, 2, None))

    assert (first.attempt, first.finalized, first.score, first.multiplier, first.xp) == (1, True, 85, 1.0, 40)
    assert (second.attempt, second.score, second.multiplier, second.xp) == (2, 100, 1.0, 40)
    assert (current.attempt, current.finalized, current.xp) == (3, False, None)
    assert progress(world, MT_UNIT, 3) == current


@pytest.mark.parametrize(("assignments", "attempt"), [(0, 2), (1, 2), (2, 3), (2, 0)])
def test_an_attempt_that_does_not_exist_is_not_found(assignments: int, attempt: int) -> None:
    world = make_deps()
    for _ in range(assignments):
        assigned(world, MT_UNIT)
        finished(world, MT_UNIT, 50)
    with pytest.raises(NotFound):
        get_progress(world.deps, ADA, MT_UNIT, attempt)


@pytest.mark.parametrize(
    ("lesson", "accuracy", "failed"),
    [(MT_TESTOUT, 95, False), (MT_TESTOUT, 50, False), (MT_PLACEMENT, 40, True)],
)
def test_enrollment_failed_is_told_once_final_and_only_true_when_an_enrollment_failed(
    lesson: str, accuracy: float, failed: bool
) -> None:
    world = make_deps()
    world.store.remove_roster_item(keys.subject_track("Reading", "5", None))  # placement < 90 fails
    assigned(world, lesson)
    assert progress(world, lesson).enrollment_failed is None
    finished(world, lesson, accuracy)
    assert progress(world, lesson).enrollment_failed is failed


@pytest.mark.parametrize(
    ("student", "lesson", "error"),
    [
        ("nobody", EDU_TESTOUT, NotFound),
        (ADA, "nothing", NotFound),
        (ADA, "lesson-quiz-math-g5", Unprocessable),
    ],
)
def test_an_unknown_or_ineligible_student_or_lesson_is_refused(
    student: str, lesson: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        get_progress(make_deps().deps, student, lesson, None)
