"""The whole product over HTTP.

assign → the simulated student takes the test → import → progress → enrollment.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.support import assert_valid

pytestmark = pytest.mark.e2e

ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
EDU_TESTOUT = "lesson-edu-testout-math-g5"  # edu-test-algebra-1: max scores 1, 1, 2, 1; xp 100; Math grade 5
EDU_PLACEMENT = "lesson-edu-placement-math-g5"  # 5 questions of 1 point; xp 50; courseIdOnFail set
MT_TESTOUT = "lesson-mt-testout-math-g5"  # xp 120; Math grade 5
ALGEBRA_TITLES = [
    "Solve for x: 2x + 3 = 7",
    "Simplify 3(x + 2) - x",
    "Graph the line y = 2x - 1 and name its slope and intercept",
    "Which ordered pair solves x + y = 5 and x - y = 1?",
]


def ok(answer: requests.Response, path: str | None = None, method: str = "get") -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    if path is not None:
        assert_valid(path, method, 200, body)
    return body


def xp_multiplier(accuracy: float, attempt: int) -> float:
    """The contract's XP rule."""
    if accuracy >= 100:
        return 1.25 if attempt == 1 else 1.0
    if accuracy >= 80:
        return 1.0 if attempt == 1 else 0.5
    return 0.0


def expected_score(points: list[float], max_scores: list[float]) -> float:
    return sum(p / m for p, m in zip(points, max_scores, strict=True)) / len(points) * 100


def assign(stack: Any, student: Any, lesson: str) -> dict[str, Any]:
    return ok(stack.assign(student.id, lesson), ASSIGN, "post")


def import_results(stack: Any, student: Any, lesson: str) -> dict[str, Any]:
    return ok(stack.import_results(student.id, lesson), IMPORT)


def progress(stack: Any, student: Any, lesson: str) -> dict[str, Any]:
    return ok(stack.progress(student.id, lesson), PROGRESS)


def assert_not_final(body: dict[str, Any]) -> None:
    assert body["finalized"] is False
    assert body["xp"] is None and body["multiplier"] is None
    assert "enrollmentFailed" not in body or body["enrollmentFailed"] is None


# --- Edulastic ---------------------------------------------------------------------------------


def test_edulastic_test_out_mastered_after_grading_enrolls_in_the_next_grade(
    stack: Any, student: Any
) -> None:
    assignment = assign(stack, student, EDU_TESTOUT)
    assert_not_final(progress(stack, student, EDU_TESTOUT))

    # The student submits; the teacher has not finished grading (question 3 is half right so far).
    stack.edulastic_control(
        "finish",
        {
            "assignmentId": assignment["assignmentId"],
            "email": student.email,
            "graded": "IN GRADING",
            "questions": [
                {"index": 0, "score": 1, "correct": True, "feedback": "Correct: x = 2"},
                {"index": 1, "score": 1, "correct": True},
                {
                    "index": 2,
                    "score": 1,
                    "maxScore": 2,
                    "correct": False,
                    "feedback": "Slope right, intercept?",
                },
                {"index": 3, "score": 1, "correct": True},
            ],
        },
    )
    imported = import_results(stack, student, EDU_TESTOUT)
    assert imported["finalized"] is False and imported["attempt"] == 1
    assert imported["assignmentId"] == assignment["assignmentId"]
    assert imported["toolProvider"] == "edulastic" and imported["lessonId"] == EDU_TESTOUT
    assert imported["courseIdOnFail"] is None and imported["hasFallbackCourse"] is False
    assert_not_final(progress(stack, student, EDU_TESTOUT))
    assert stack.enrollments(student.id) == []

    # Grading finishes: question 3 gets 1.5 of 2 and new feedback, question 2 gets feedback.
    stack.edulastic_control(
        "grade",
        {
            "assignmentId": assignment["assignmentId"],
            "email": student.email,
            "graded": "GRADED",
            "questions": [
                {"index": 1, "score": 1, "correct": True, "feedback": "Nice work"},
                {"index": 2, "score": 1.5, "correct": False, "feedback": "Label the intercept"},
            ],
        },
    )
    imported = import_results(stack, student, EDU_TESTOUT)
    assert imported["finalized"] is True and imported["attempt"] == 1

    result = progress(stack, student, EDU_TESTOUT)
    points, max_scores = [1.0, 1.0, 1.5, 1.0], [1.0, 1.0, 2.0, 1.0]
    score = expected_score(points, max_scores)
    assert score == 93.75
    assert result["finalized"] is True and result["toolProvider"] == "edulastic" and result["attempt"] == 1
    assert result["lessonType"] == "test-out"
    assert result["score"] == pytest.approx(score) and result["accuracy"] == pytest.approx(score)
    assert result["correctQuestions"] == 3 and result["totalQuestions"] == 4
    assert result["multiplier"] == xp_multiplier(score, 1) == 1.0
    assert result["xp"] == 100 * result["multiplier"]
    assert result["enrollmentFailed"] is False
    questions = result["questions"]
    assert [q["index"] for q in questions] == [0, 1, 2, 3]
    assert [q["id"] for q in questions] == [f"edu-test-algebra-1-q{i}" for i in range(1, 5)]
    assert [q["title"] for q in questions] == ALGEBRA_TITLES
    assert [q["correct"] for q in questions] == [True, True, False, True]
    assert [q["result"] for q in questions] == [
        {"score": 1.0, "feedback": "Correct: x = 2"},
        {"score": 1.0, "feedback": "Nice work"},
        {"score": 1.5, "feedback": "Label the intercept"},
        {"score": 1.0, "feedback": ""},
    ]
    assert all(q["difficulty"] == "medium" and q["url"].startswith("http") for q in questions)

    # Test-out at or above 90: the Subject Track course of grade 5 + 1.
    assert stack.enrollments(student.id) == ["course-math-g6"]

    # Polling a finalized attempt changes nothing and asks the provider nothing.
    calls = stack.edulastic_state()["calls"]
    assert import_results(stack, student, EDU_TESTOUT) == imported
    assert progress(stack, student, EDU_TESTOUT) == result
    assert stack.edulastic_state()["calls"] == calls
    assert stack.enrollments(student.id) == ["course-math-g6"]


def test_edulastic_placement_below_mastery_enrolls_in_the_fallback_course(stack: Any, student: Any) -> None:
    assignment = assign(stack, student, EDU_PLACEMENT)
    assert assignment["lessonType"] == "placement"
    imported = import_results(stack, student, EDU_PLACEMENT)
    assert imported["finalized"] is False
    assert (
        imported["courseIdOnFail"] == "course-math-g5-foundations" and imported["hasFallbackCourse"] is True
    )

    points = [1.0, 1.0, 0.0, 1.0, 0.5]
    feedback = ["", "Good rounding", "Volume is l x w x h", "", "Compare tenths first"]
    stack.edulastic_control(
        "finish",
        {
            "assignmentId": assignment["assignmentId"],
            "email": student.email,
            "graded": "GRADED",
            "questions": [
                {"index": i, "score": p, "correct": p == 1.0, **({"feedback": f} if f else {})}
                for i, (p, f) in enumerate(zip(points, feedback, strict=True))
            ],
        },
    )
    imported = import_results(stack, student, EDU_PLACEMENT)
    assert imported["finalized"] is True

    result = progress(stack, student, EDU_PLACEMENT)
    score = expected_score(points, [1.0] * 5)
    assert score == 70.0
    assert result["finalized"] is True and result["lessonType"] == "placement"
    assert result["score"] == pytest.approx(score) and result["accuracy"] == pytest.approx(score)
    assert result["correctQuestions"] == 3 and result["totalQuestions"] == 5
    assert result["multiplier"] == xp_multiplier(score, 1) == 0.0 and result["xp"] == 0
    assert [q["result"] for q in result["questions"]] == [
        {"score": p, "feedback": f} for p, f in zip(points, feedback, strict=True)
    ]
    assert result["enrollmentFailed"] is False
    # Placement below 90: the lesson's courseIdOnFail.
    assert stack.enrollments(student.id) == ["course-math-g5-foundations"]


# --- MasteryTrack ------------------------------------------------------------------------------


def wait_for_execution(stack: Any, student: Any, lesson: str, status: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [e["status"] for e in stack.executions(student.id, lesson)]
        if seen and all(s == status for s in seen):
            return
        time.sleep(0.2)
    raise AssertionError(f"workflow of {student.id}/{lesson}: {seen}, expected {status}")


def test_mastery_track_write_back_finalizes_and_enrolls(stack: Any, student: Any) -> None:
    assignment = assign(stack, student, MT_TESTOUT)
    assert assignment["toolProvider"] == "mastery-track"
    # The workflow parks on its callback (the write-back wakes it).
    stack.wait_for_callback(student.id, MT_TESTOUT)
    wait_for_execution(stack, student, MT_TESTOUT, "RUNNING")

    imported = import_results(stack, student, MT_TESTOUT)  # no write-back yet: not final, no error
    assert imported["finalized"] is False and imported["assignmentId"] == assignment["assignmentId"]

    # MasteryTrack writes back a partially graded result: stored, not final.
    first = stack.mastery_track_control(
        "finish",
        {
            "assignmentId": assignment["assignmentId"],
            "score": 95,
            "totalQuestions": 20,
            "correctQuestions": 19,
            "scoreStatus": "partially graded",
            "processed": True,
        },
    )
    assert first["writeBack"]["status"] == 200, first["writeBack"]
    assert first["writeBack"]["body"]["assessmentResult"]["scoreStatus"] == "partially graded"
    assert import_results(stack, student, MT_TESTOUT)["finalized"] is False
    assert_not_final(progress(stack, student, MT_TESTOUT))
    assert stack.enrollments(student.id) == []

    # The final write-back: fully graded and processed.
    questions = [
        {"id": "mt-q1", "score": 1, "correct": True, "feedback": "Well done"},
        {"id": "mt-q2", "score": 0, "correct": False, "feedback": "Review equivalent fractions"},
    ]
    final = stack.mastery_track_control(
        "finish",
        {
            "assignmentId": assignment["assignmentId"],
            "score": 95,
            "totalQuestions": 20,
            "correctQuestions": 19,
            "scoreStatus": "fully graded",
            "processed": True,
            "questions": questions,
        },
    )
    assert final["writeBack"]["status"] == 200, final["writeBack"]
    record = final["writeBack"]["body"]["assessmentResult"]
    assert record["scoreStatus"] == "fully graded" and record["score"] == 95
    assert record["student"]["sourcedId"] == student.id

    imported = import_results(stack, student, MT_TESTOUT)
    assert imported["finalized"] is True and imported["toolProvider"] == "mastery-track"
    result = progress(stack, student, MT_TESTOUT)
    assert result["finalized"] is True and result["lessonType"] == "test-out"
    assert result["score"] == 95 and result["accuracy"] == 95
    assert result["correctQuestions"] == 19 and result["totalQuestions"] == 20
    assert result["multiplier"] == xp_multiplier(95, 1) == 1.0 and result["xp"] == 120
    assert result["enrollmentFailed"] is False
    assert [(q["id"], q["index"], q["correct"], q["result"]) for q in result["questions"]] == [
        ("mt-q1", 0, True, {"score": 1.0, "feedback": "Well done"}),
        ("mt-q2", 1, False, {"score": 0.0, "feedback": "Review equivalent fractions"}),
    ]
    assert stack.enrollments(student.id) == ["course-math-g6"]
    # The finalizing write-back woke the parked workflow at once (its callback timeout is an hour).
    wait_for_execution(stack, student, MT_TESTOUT, "SUCCEEDED")

    # A writer's retry after finalization answers 200 with the stored record and changes nothing.
    retry = stack.mastery_track_control(
        "finish",
        {
            "assignmentId": assignment["assignmentId"],
            "score": 10,
            "totalQuestions": 20,
            "correctQuestions": 2,
            "scoreStatus": "fully graded",
            "processed": True,
        },
    )
    assert retry["writeBack"]["status"] == 200, retry["writeBack"]
    assert retry["writeBack"]["body"]["assessmentResult"]["score"] == 95
    assert progress(stack, student, MT_TESTOUT) == result
    assert stack.enrollments(student.id) == ["course-math-g6"]
