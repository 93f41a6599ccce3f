"""Unit tests for the pure domain rules (exttests.domain.rules) against the product contract.

Contract: /work/shared/spec/external-tests.md, sections "importExternalTestAssignmentResults",
"Enrollment after finalization" and "XP".
"""

from __future__ import annotations

from typing import Any

import pytest

from exttests.config import Settings
from exttests.domain.attempt import Attempt, EnrollmentStatus
from exttests.domain.models import Lesson, LessonType, QuestionResult, ScoreStatus, Student, ToolProvider
from exttests.domain.rules import (
    EnrollmentPlan,
    check_lesson,
    check_student,
    edulastic_is_final,
    edulastic_score_status,
    mastery_track_is_final,
    next_wait,
    plan_enrollment,
    score_questions,
    student_email,
    writeback_scores,
    xp_for,
    xp_multiplier,
)
from exttests.errors import NotFound, Unprocessable

# --- builders ----------------------------------------------------------------------------


def make_attempt(
    lesson_type: str = "placement",
    accuracy: float | None = None,
    *,
    attempt: int = 1,
    skip: bool = False,
    tool_provider: str = "edulastic",
) -> Attempt:
    return Attempt(
        student_id="stu-1",
        lesson_id="lesson-1",
        attempt=attempt,
        sourced_id="ar-1",
        line_item_id="li-1",
        tool_provider=ToolProvider(tool_provider),
        lesson_type=LessonType(lesson_type),
        skip_course_enrollment=skip,
        accuracy=accuracy,
    )


def make_lesson(**overrides: Any) -> Lesson:
    fields: dict[str, Any] = {
        "id": "lesson-1",
        "lesson_type": "placement",
        "tool_provider": "edulastic",
        "subject": "Math",
        "grade": "5",
    }
    fields.update(overrides)
    return Lesson(**fields)


def q(
    index: int = 0,
    score: float = 1.0,
    max_score: float = 1.0,
    *,
    answered: bool = True,
    graded: bool = True,
    pending: bool = False,
    correct: bool | None = None,
) -> QuestionResult:
    return QuestionResult(
        id=f"q{index}",
        index=index,
        score=score,
        max_score=max_score,
        answered=answered,
        graded=graded,
        pending_evaluation=pending,
        correct=(score >= max_score > 0) if correct is None else correct,
    )


# --- check_student -----------------------------------------------------------------------


def test_check_student_missing_is_not_found() -> None:
    with pytest.raises(NotFound) as info:
        check_student("stu-x", None)
    assert info.value.status == 404
    assert info.value.field == "student"
    assert "stu-x" in info.value.message


def test_check_student_non_student_is_not_found() -> None:
    teacher = Student(id="t-1", email="t@example.org", is_student=False)
    with pytest.raises(NotFound) as info:
        check_student("t-1", teacher)
    assert info.value.status == 404
    assert info.value.field == "student"


def test_check_student_ok_returns_the_student() -> None:
    student = Student(id="stu-1", email="s@example.org", is_student=True)
    assert check_student("stu-1", student) is student


# --- check_lesson ------------------------------------------------------------------------


def test_check_lesson_missing_is_not_found() -> None:
    with pytest.raises(NotFound) as info:
        check_lesson("lesson-x", None)
    assert info.value.status == 404
    assert info.value.field == "lesson"


@pytest.mark.parametrize("lesson_type", ["quiz", None, "", "Test-Out", "assessment"])
def test_check_lesson_non_external_type_is_unprocessable(lesson_type: str | None) -> None:
    with pytest.raises(Unprocessable) as info:
        check_lesson("lesson-1", make_lesson(lesson_type=lesson_type))
    assert info.value.status == 422
    assert info.value.field == "lesson"


@pytest.mark.parametrize("provider", ["khan", None, "", "Edulastic", "mastery_track"])
def test_check_lesson_unsupported_or_missing_provider_is_unprocessable(provider: str | None) -> None:
    with pytest.raises(Unprocessable) as info:
        check_lesson("lesson-1", make_lesson(tool_provider=provider))
    assert info.value.status == 422
    assert info.value.field == "lesson"


@pytest.mark.parametrize(
    ("lesson_type", "provider", "expected"),
    [
        ("test-out", "edulastic", (LessonType.TEST_OUT, ToolProvider.EDULASTIC)),
        ("placement", "mastery-track", (LessonType.PLACEMENT, ToolProvider.MASTERY_TRACK)),
        ("unit-test", "edulastic", (LessonType.UNIT_TEST, ToolProvider.EDULASTIC)),
    ],
)
def test_check_lesson_ok_returns_enums(
    lesson_type: str, provider: str, expected: tuple[LessonType, ToolProvider]
) -> None:
    result = check_lesson("lesson-1", make_lesson(lesson_type=lesson_type, tool_provider=provider))
    assert result == expected
    assert isinstance(result[0], LessonType)
    assert isinstance(result[1], ToolProvider)


# --- student_email -----------------------------------------------------------------------


@pytest.mark.parametrize("email", [None, ""])
def test_student_email_missing_is_unprocessable(email: str | None) -> None:
    with pytest.raises(Unprocessable) as info:
        student_email(Student(id="stu-1", email=email, is_student=True))
    assert info.value.status == 422
    assert info.value.field == "student"


def test_student_email_ok() -> None:
    assert student_email(Student(id="stu-1", email="s@example.org", is_student=True)) == "s@example.org"


# --- score_questions ---------------------------------------------------------------------


def test_score_questions_empty_list_has_no_score() -> None:
    scores = score_questions([])
    assert scores.score is None
    assert scores.accuracy is None
    assert scores.correct_questions == 0
    assert scores.total_questions == 0
    assert scores.questions == []


def test_score_questions_partial_credit_counts_share_of_max_score() -> None:
    # 2 of 4 points → 0.5 of the question; alone it is 50 %.
    scores = score_questions([q(score=2, max_score=4, correct=False)])
    assert scores.score == 50.0
    assert scores.correct_questions == 0


def test_score_questions_mean_as_percentage() -> None:
    questions = [
        q(0, score=1, max_score=1),  # 1.0
        q(1, score=2, max_score=4, correct=False),  # 0.5
        q(2, score=0, max_score=1, answered=False, graded=False),  # skipped → 0
        q(3, score=1, max_score=1),  # 1.0
    ]
    scores = score_questions(questions)
    assert scores.score == pytest.approx(62.5)
    assert scores.accuracy == scores.score
    assert scores.total_questions == 4
    assert scores.correct_questions == 2
    assert scores.questions == questions


def test_score_questions_ungraded_essay_counts_its_current_score() -> None:
    essay = q(1, score=3, max_score=10, graded=False, pending=True, correct=False)
    scores = score_questions([q(0, score=1, max_score=1), essay])
    assert scores.score == pytest.approx((1.0 + 0.3) / 2 * 100)


def test_score_questions_unanswered_count_zero() -> None:
    unanswered = [q(i, score=0, max_score=2, answered=False, graded=False) for i in range(3)]
    scores = score_questions([q(3, score=2, max_score=2), *unanswered])
    assert scores.score == 25.0
    assert scores.total_questions == 4
    assert scores.correct_questions == 1


def test_score_questions_correct_counts_flags_not_points() -> None:
    # Full points but not flagged correct, and flagged correct with partial points.
    questions = [q(0, score=1, max_score=1, correct=False), q(1, score=1, max_score=2, correct=True)]
    scores = score_questions(questions)
    assert scores.correct_questions == 1
    assert scores.score == 75.0


def test_score_questions_max_score_zero_counts_zero_without_error() -> None:
    scores = score_questions([q(0, score=0, max_score=0, correct=False), q(1, score=1, max_score=1)])
    assert scores.score == 50.0
    assert scores.total_questions == 2


def test_score_questions_credit_is_clamped_to_one() -> None:
    scores = score_questions([q(0, score=5, max_score=1), q(1, score=1, max_score=1)])
    assert scores.score == 100.0


def test_score_questions_all_correct_is_100() -> None:
    assert score_questions([q(i) for i in range(7)]).score == 100.0


def test_score_questions_rounding_is_a_percentage() -> None:
    # 1 of 3 → 33.3333 %
    scores = score_questions([q(0), q(1, score=0, correct=False), q(2, score=0, correct=False)])
    assert scores.score == pytest.approx(100 / 3, abs=1e-3)


# --- edulastic_is_final ------------------------------------------------------------------


ALL_GRADED = [q(0), q(1, score=0, correct=False)]


@pytest.mark.parametrize(
    ("submitted", "graded", "questions"),
    [
        pytest.param(False, "GRADED", ALL_GRADED, id="not-submitted"),
        pytest.param(True, "IN GRADING", ALL_GRADED, id="in-grading"),
        pytest.param(True, None, ALL_GRADED, id="no-grade"),
        pytest.param(True, "graded", ALL_GRADED, id="grade-lowercase"),
        pytest.param(True, "GRADED", [q(0), q(1, score=0, answered=False, graded=False)], id="unanswered"),
        pytest.param(True, "GRADED", [q(0), q(1, score=0, answered=True, graded=False)], id="not-graded"),
        pytest.param(True, "GRADED", [q(0), q(1, score=0, pending=True)], id="pending-evaluation"),
        pytest.param(True, "GRADED", [], id="no-questions"),
    ],
)
def test_edulastic_is_final_false(
    submitted: bool, graded: str | None, questions: list[QuestionResult]
) -> None:
    assert edulastic_is_final(submitted, graded, questions) is False


def test_edulastic_is_final_true_when_submitted_graded_and_every_question_graded() -> None:
    assert edulastic_is_final(True, "GRADED", ALL_GRADED) is True


# --- edulastic_score_status --------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "graded", "final", "expected"),
    [
        (True, "GRADED", True, ScoreStatus.FULLY_GRADED),
        (False, None, False, ScoreStatus.NOT_SUBMITTED),
        (False, "IN GRADING", False, ScoreStatus.NOT_SUBMITTED),
        (True, None, False, ScoreStatus.SUBMITTED),
        (True, "", False, ScoreStatus.SUBMITTED),
        (True, "IN GRADING", False, ScoreStatus.PARTIALLY_GRADED),
        (True, "GRADED", False, ScoreStatus.PARTIALLY_GRADED),  # graded test, a question not yet
    ],
)
def test_edulastic_score_status(
    submitted: bool, graded: str | None, final: bool, expected: ScoreStatus
) -> None:
    assert edulastic_score_status(submitted, graded, final) == expected


# --- writeback_scores --------------------------------------------------------------------


def test_writeback_score_is_the_written_percentage() -> None:
    record = {
        "score": 87.5,
        "scoreStatus": "fully graded",
        "metadata": {"totalQuestions": 8, "correctQuestions": 7, "masteryTrackProcessed": True},
    }
    scores = writeback_scores(record, "https://mt.example/test/1")
    assert scores.score == 87.5
    assert scores.accuracy == 87.5
    assert scores.total_questions == 8
    assert scores.correct_questions == 7
    assert scores.questions == []


def test_writeback_score_zero_is_kept_not_recomputed() -> None:
    record = {"score": 0, "metadata": {"totalQuestions": 4, "correctQuestions": 4}}
    assert writeback_scores(record, None).score == 0.0


@pytest.mark.parametrize("score", [None, "", "n/a"], ids=["none", "empty", "text"])
def test_writeback_score_absent_is_correct_over_total(score: Any) -> None:
    record: dict[str, Any] = {"metadata": {"totalQuestions": 8, "correctQuestions": 5}}
    if score is not None:
        record["score"] = score
    scores = writeback_scores(record, None)
    assert scores.score == 62.5
    assert scores.accuracy == 62.5


def test_writeback_score_absent_and_no_questions_is_none() -> None:
    scores = writeback_scores({"scoreStatus": "submitted"}, None)
    assert scores.score is None
    assert scores.total_questions == 0
    assert scores.correct_questions == 0


def test_writeback_numeric_strings_are_numbers() -> None:
    record = {"score": "75", "metadata": {"totalQuestions": "4", "correctQuestions": "3"}}
    scores = writeback_scores(record, None)
    assert scores.score == 75.0
    assert scores.total_questions == 4
    assert scores.correct_questions == 3


def test_writeback_per_question_results_with_feedback() -> None:
    record = {
        "scoreStatus": "fully graded",
        "metadata": {
            "questions": [
                {
                    "id": "mt-q1",
                    "title": "Fractions",
                    "url": "https://mt.example/q/1",
                    "difficulty": "hard",
                    "score": 1,
                    "maxScore": 1,
                    "correct": True,
                    "feedback": "Well done",
                },
                {"questionId": "mt-q2", "score": 0, "correct": False},
                {"id": "mt-q3", "score": 1, "maxScore": 2, "difficulty": "impossible"},
            ]
        },
    }
    scores = writeback_scores(record, "https://mt.example/test/1")
    first, second, third = scores.questions

    assert (first.id, first.index, first.title, first.url) == (
        "mt-q1",
        0,
        "Fractions",
        "https://mt.example/q/1",
    )
    assert (first.difficulty, first.score, first.max_score) == ("hard", 1.0, 1.0)
    assert first.correct is True
    assert first.feedback == "Well done"
    assert first.answered and first.graded

    assert (second.id, second.index, second.title) == ("mt-q2", 1, "Question 2")
    assert second.url == "https://mt.example/test/1"  # falls back to the test URL
    assert second.difficulty == "medium"
    assert second.correct is False
    assert second.feedback == ""

    assert third.difficulty == "medium"  # unknown difficulty → medium
    assert third.correct is False  # no flag: correct only with full points
    assert third.max_score == 2.0

    # No metadata totals: counted from the list; no score: correct ÷ total × 100.
    assert scores.total_questions == 3
    assert scores.correct_questions == 1
    assert scores.score == pytest.approx(100 / 3, abs=1e-3)


def test_writeback_questions_at_top_level_are_read() -> None:
    record = {"score": 50, "questions": [{"id": "a", "score": 1}, {"id": "b", "score": 0}]}
    scores = writeback_scores(record, None)
    assert [x.id for x in scores.questions] == ["a", "b"]
    assert [x.correct for x in scores.questions] == [True, False]
    assert scores.total_questions == 2
    assert scores.correct_questions == 1


def test_writeback_metadata_totals_win_over_list_length() -> None:
    record = {
        "metadata": {
            "totalQuestions": 10,
            "correctQuestions": 9,
            "questions": [{"id": "a", "correct": True}, {"id": "b", "correct": False}],
        }
    }
    scores = writeback_scores(record, None)
    assert len(scores.questions) == 2
    assert scores.total_questions == 10
    assert scores.correct_questions == 9
    assert scores.score == 90.0


def test_writeback_only_total_given_counts_correct_from_list() -> None:
    record = {"metadata": {"totalQuestions": 4, "questions": [{"correct": True}, {"correct": True}]}}
    scores = writeback_scores(record, None)
    assert scores.total_questions == 4
    assert scores.correct_questions == 2
    assert scores.score == 50.0


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({}, id="empty"),
        pytest.param({"metadata": None}, id="metadata-none"),
        pytest.param({"metadata": "junk"}, id="metadata-string"),
        pytest.param({"metadata": ["a", "b"]}, id="metadata-list"),
        pytest.param({"metadata": {"questions": "junk"}}, id="questions-string"),
        pytest.param({"metadata": {"questions": {"id": "q"}}}, id="questions-dict"),
        pytest.param({"metadata": {"questions": [1, None, "x", []]}}, id="questions-non-dicts"),
        pytest.param({"questions": 42}, id="top-questions-int"),
        pytest.param({"metadata": {"totalQuestions": "many", "correctQuestions": {}}}, id="totals-junk"),
        pytest.param({"metadata": {"totalQuestions": -3, "correctQuestions": -1}}, id="totals-negative"),
        pytest.param({"metadata": {"totalQuestions": True, "correctQuestions": False}}, id="totals-bool"),
        pytest.param({"score": True}, id="score-bool"),
        pytest.param({"score": [1]}, id="score-list"),
        pytest.param({"score": {"value": 1}}, id="score-dict"),
        pytest.param(
            {
                "metadata": {
                    "questions": [{"score": "x", "maxScore": "y", "id": None, "title": None, "url": 3}]
                }
            },
            id="question-fields-junk",
        ),
    ],
)
def test_writeback_junk_shapes_are_ignored(record: dict[str, Any]) -> None:
    scores = writeback_scores(record, "https://mt.example/test/1")
    assert scores.total_questions >= 0
    assert scores.correct_questions >= 0
    assert scores.score is None or isinstance(scores.score, float)
    for question in scores.questions:
        assert question.url == "https://mt.example/test/1"


def test_writeback_junk_questions_mixed_with_valid_ones_keep_the_valid() -> None:
    record = {"metadata": {"questions": ["junk", {"id": "a", "correct": True}, None, {"id": "b"}]}}
    scores = writeback_scores(record, None)
    assert [x.id for x in scores.questions] == ["a", "b"]
    assert [x.index for x in scores.questions] == [0, 1]
    assert scores.total_questions == 2


def test_writeback_negative_totals_fall_back_to_the_list() -> None:
    record = {"metadata": {"totalQuestions": -1, "questions": [{"correct": True}]}}
    scores = writeback_scores(record, None)
    assert scores.total_questions == 1
    assert scores.correct_questions == 1
    assert scores.score == 100.0


@pytest.mark.parametrize(
    "metadata",
    [{"totalQuestions": "1e999"}, {"correctQuestions": "inf", "totalQuestions": 4}],
    ids=["total-overflow", "correct-inf"],
)
def test_writeback_infinite_totals_are_ignored_not_raised(metadata: dict[str, Any]) -> None:
    scores = writeback_scores({"metadata": metadata}, None)
    assert scores.total_questions >= 0


def test_writeback_string_false_is_not_correct() -> None:
    record = {"metadata": {"questions": [{"id": "a", "score": 0, "correct": "false"}]}}
    scores = writeback_scores(record, None)
    assert scores.correct_questions == 0
    assert scores.score == 0.0


# --- mastery_track_is_final --------------------------------------------------------------


@pytest.mark.parametrize("processed", [True, "true"])
def test_mastery_track_final_when_fully_graded_and_processed(processed: Any) -> None:
    record = {"scoreStatus": "fully graded", "metadata": {"masteryTrackProcessed": processed}}
    assert mastery_track_is_final(record) is True


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            {"scoreStatus": "partially graded", "metadata": {"masteryTrackProcessed": True}}, id="partial"
        ),
        pytest.param(
            {"scoreStatus": "submitted", "metadata": {"masteryTrackProcessed": True}}, id="submitted"
        ),
        pytest.param(
            {"scoreStatus": "not submitted", "metadata": {"masteryTrackProcessed": True}}, id="not-subm"
        ),
        pytest.param({"metadata": {"masteryTrackProcessed": True}}, id="no-status"),
        pytest.param(
            {"scoreStatus": "fully graded", "metadata": {"masteryTrackProcessed": False}}, id="false"
        ),
        pytest.param(
            {"scoreStatus": "fully graded", "metadata": {"masteryTrackProcessed": "false"}}, id="str-f"
        ),
        pytest.param({"scoreStatus": "fully graded", "metadata": {}}, id="processed-missing"),
        pytest.param({"scoreStatus": "fully graded"}, id="metadata-missing"),
        pytest.param({"scoreStatus": "fully graded", "metadata": "junk"}, id="metadata-junk"),
        pytest.param({}, id="empty"),
    ],
)
def test_mastery_track_not_final(record: dict[str, Any]) -> None:
    assert mastery_track_is_final(record) is False


# --- XP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [
        (100.0, 1.25),
        (99.999, 1.0),
        (90.0, 1.0),
        (80.0, 1.0),
        (79.999, 0.0),
        (50.0, 0.0),
        (0.0, 0.0),
        (None, 0.0),
    ],
)
def test_xp_multiplier_first_attempt(accuracy: float | None, expected: float) -> None:
    assert xp_multiplier(accuracy, 1) == expected


@pytest.mark.parametrize("attempt", [2, 3, 10])
@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [
        (100.0, 1.0),
        (99.999, 0.5),
        (85.0, 0.5),
        (80.0, 0.5),
        (79.999, 0.0),
        (0.0, 0.0),
        (None, 0.0),
    ],
)
def test_xp_multiplier_later_attempts(accuracy: float | None, expected: float, attempt: int) -> None:
    assert xp_multiplier(accuracy, attempt) == expected


@pytest.mark.parametrize(
    ("base", "accuracy", "attempt", "expected"),
    [
        (100.0, 100.0, 1, (1.25, 125.0)),
        (100.0, 80.0, 1, (1.0, 100.0)),
        (100.0, 79.999, 1, (0.0, 0.0)),
        (100.0, 100.0, 2, (1.0, 100.0)),
        (100.0, 80.0, 2, (0.5, 50.0)),
        (100.0, 79.999, 2, (0.0, 0.0)),
        (30.0, 99.999, 2, (0.5, 15.0)),
        (0.0, 100.0, 1, (1.25, 0.0)),
        (0.0, 80.0, 2, (0.5, 0.0)),
    ],
)
def test_xp_for(base: float, accuracy: float, attempt: int, expected: tuple[float, float]) -> None:
    assert xp_for(base, accuracy, attempt) == expected


# --- plan_enrollment ---------------------------------------------------------------------

T = Settings().mastery_threshold


def test_default_threshold_is_90() -> None:
    assert Settings().mastery_threshold == 90.0


@pytest.mark.parametrize("lesson_type", ["placement", "test-out", "unit-test"])
@pytest.mark.parametrize("accuracy", [0.0, 95.0])
def test_plan_skip_course_enrollment_is_skipped(lesson_type: str, accuracy: float) -> None:
    plan = plan_enrollment(
        make_lesson(lesson_type=lesson_type, course_id_on_fail="course-fail"),
        make_attempt(lesson_type, accuracy, skip=True),
        T,
    )
    assert plan == EnrollmentPlan(EnrollmentStatus.SKIPPED)


@pytest.mark.parametrize("accuracy", [0.0, 89.999, None])
def test_plan_placement_fail_with_course_id_on_fail(accuracy: float | None) -> None:
    lesson = make_lesson(lesson_type="placement", course_id_on_fail="course-fail")
    plan = plan_enrollment(lesson, make_attempt("placement", accuracy), T)
    assert plan == EnrollmentPlan(EnrollmentStatus.PENDING, course_id="course-fail")


def test_plan_placement_fail_without_course_id_on_fail_uses_subject_track_same_grade() -> None:
    lesson = make_lesson(lesson_type="placement", subject="Science", grade="4")
    plan = plan_enrollment(lesson, make_attempt("placement", 70.0), T)
    assert plan.status == EnrollmentStatus.PENDING
    assert plan.course_id is None
    assert (plan.track_subject, plan.track_grade) == ("Science", "4")
    assert plan.reason is None


@pytest.mark.parametrize("accuracy", [90.0, 95.5, 100.0])
def test_plan_placement_mastered_is_not_due(accuracy: float) -> None:
    lesson = make_lesson(lesson_type="placement", course_id_on_fail="course-fail")
    plan = plan_enrollment(lesson, make_attempt("placement", accuracy), T)
    assert plan == EnrollmentPlan(EnrollmentStatus.NOT_DUE)


@pytest.mark.parametrize(
    ("grade", "expected"),
    [("-1", "0"), ("0", "1"), ("5", "6"), ("11", "12"), ("12", "13")],
)
def test_plan_test_out_mastered_enrolls_next_grade_track(grade: str, expected: str) -> None:
    lesson = make_lesson(lesson_type="test-out", subject="Math", grade=grade)
    plan = plan_enrollment(lesson, make_attempt("test-out", 90.0), T)
    assert plan == EnrollmentPlan(EnrollmentStatus.PENDING, track_subject="Math", track_grade=expected)


def test_plan_test_out_mastered_ignores_course_id_on_fail() -> None:
    lesson = make_lesson(lesson_type="test-out", grade="3", course_id_on_fail="course-fail")
    plan = plan_enrollment(lesson, make_attempt("test-out", 100.0), T)
    assert plan.course_id is None
    assert plan.track_grade == "4"


def test_plan_test_out_grade_13_has_nothing_above() -> None:
    lesson = make_lesson(lesson_type="test-out", grade="13")
    plan = plan_enrollment(lesson, make_attempt("test-out", 95.0), T)
    assert plan.status == EnrollmentStatus.PENDING
    assert plan.course_id is None
    assert plan.track_subject is None and plan.track_grade is None
    assert plan.reason and "13" in plan.reason


@pytest.mark.parametrize("accuracy", [0.0, 89.999, None])
def test_plan_test_out_not_mastered_is_not_due(accuracy: float | None) -> None:
    lesson = make_lesson(lesson_type="test-out", course_id_on_fail="course-fail")
    plan = plan_enrollment(lesson, make_attempt("test-out", accuracy), T)
    assert plan == EnrollmentPlan(EnrollmentStatus.NOT_DUE)


@pytest.mark.parametrize("accuracy", [0.0, 50.0, 90.0, 100.0])
def test_plan_unit_test_is_never_due(accuracy: float) -> None:
    lesson = make_lesson(lesson_type="unit-test", course_id_on_fail="course-fail")
    plan = plan_enrollment(lesson, make_attempt("unit-test", accuracy), T)
    assert plan == EnrollmentPlan(EnrollmentStatus.NOT_DUE)


@pytest.mark.parametrize(
    ("lesson_type", "accuracy", "missing"),
    [
        ("placement", 50.0, {"subject": None}),
        ("placement", 50.0, {"subject": ""}),
        ("placement", 50.0, {"grade": None}),
        ("test-out", 95.0, {"subject": None}),
        ("test-out", 95.0, {"grade": None}),
        ("test-out", 95.0, {"subject": None, "grade": None}),
    ],
)
def test_plan_lesson_without_subject_or_grade_is_pending_with_reason(
    lesson_type: str, accuracy: float, missing: dict[str, Any]
) -> None:
    lesson = make_lesson(lesson_type=lesson_type, **missing)
    plan = plan_enrollment(lesson, make_attempt(lesson_type, accuracy), T)
    assert plan.status == EnrollmentStatus.PENDING
    assert plan.reason
    assert plan.course_id is None
    assert plan.track_subject is None or plan.track_grade is None


def test_plan_placement_fail_course_id_on_fail_needs_no_subject_or_grade() -> None:
    lesson = make_lesson(lesson_type="placement", subject=None, grade=None, course_id_on_fail="course-fail")
    plan = plan_enrollment(lesson, make_attempt("placement", 10.0), T)
    assert plan == EnrollmentPlan(EnrollmentStatus.PENDING, course_id="course-fail")


@pytest.mark.parametrize(
    ("lesson_type", "accuracy", "expected_status"),
    [
        ("placement", 79.999, EnrollmentStatus.PENDING),
        ("placement", 80.0, EnrollmentStatus.NOT_DUE),
        ("placement", 85.0, EnrollmentStatus.NOT_DUE),
        ("test-out", 79.999, EnrollmentStatus.NOT_DUE),
        ("test-out", 80.0, EnrollmentStatus.PENDING),
        ("test-out", 85.0, EnrollmentStatus.PENDING),
    ],
)
def test_plan_threshold_is_configurable(
    lesson_type: str, accuracy: float, expected_status: EnrollmentStatus
) -> None:
    lesson = make_lesson(lesson_type=lesson_type, grade="5")
    plan = plan_enrollment(lesson, make_attempt(lesson_type, accuracy), 80.0)
    assert plan.status == expected_status


# --- next_wait ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 60), (1, 120), (2, 300), (3, 600), (4, 1800), (5, 3600), (6, 3600), (100, 3600)],
)
def test_next_wait_follows_schedule_and_last_wait_repeats(step: int, expected: int) -> None:
    assert next_wait([60, 120, 300, 600, 1800, 3600], step) == expected


@pytest.mark.parametrize("step", [0, 1, 50])
def test_next_wait_empty_schedule_defaults_to_an_hour(step: int) -> None:
    assert next_wait([], step) == 3600


def test_next_wait_single_entry_repeats() -> None:
    assert [next_wait([30], step) for step in range(4)] == [30, 30, 30, 30]


def test_next_wait_never_negative() -> None:
    assert next_wait([-5], 0) == 0
