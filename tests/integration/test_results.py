"""importExternalTestAssignmentResults, getAssessmentProgress and the write-back, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.support import assert_valid

IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
ADA, ADA_EMAIL = "student-ada", "ada.lovelace@students.example.com"
EDU_TESTOUT = "lesson-edu-testout-math-g5"  # 4 questions, max scores 1, 1, 2, 1; xp 100; grade 5
EDU_PLACEMENT = "lesson-edu-placement-math-g5"  # courseIdOnFail course-math-g5-foundations
EDU_UNIT = "lesson-edu-unit-ela-g3"
MT_TESTOUT = "lesson-mt-testout-math-g5"  # xp 120
MT_PLACEMENT = "lesson-mt-placement-reading-g5"


def finish(
    service: Any,
    lesson: str,
    questions: list[dict[str, Any]],
    graded: str = "GRADED",
    student: str = ADA,
    email: str = ADA_EMAIL,
) -> str:
    head = service.head(student, lesson)
    service.edulastic_control(
        "finish",
        {"assignmentId": head.assignment_id, "email": email, "graded": graded, "questions": questions},
    )
    return str(head.assignment_id)


def enrollments(service: Any, student: str) -> list[str]:
    client = boto3.client("dynamodb")
    answer = client.query(
        TableName=service.table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues={":pk": {"S": f"USER#{student}"}, ":sk": {"S": "ENROLLMENT#"}},
    )
    return [item["SK"]["S"].removeprefix("ENROLLMENT#") for item in answer["Items"]]


def test_import_before_any_assignment_is_422(service: Any) -> None:
    before = service.snapshot()
    status, body = service.import_results(ADA, EDU_TESTOUT)
    assert status == 422, body
    assert_valid(IMPORT, "get", 422, body)
    assert "credentials for data consumption are not available" in body["imsx_description"]
    assert service.snapshot() == before


def test_import_errors(service: Any) -> None:
    for query, status in [
        ({"student": ADA}, 400),
        ({"lesson": EDU_TESTOUT}, 400),
        ({"student": "", "lesson": EDU_TESTOUT}, 400),
        ({"student": "nobody", "lesson": EDU_TESTOUT}, 404),
        ({"student": ADA, "lesson": "nothing"}, 404),
        ({"student": ADA, "lesson": "lesson-quiz-math-g5"}, 422),
    ]:
        answer, body, _ = service.http("import_results", "GET", IMPORT, query=query)
        assert answer == status, body
        assert_valid(IMPORT, "get", status, body)


def test_duplicate_query_parameters_are_400(service: Any) -> None:
    status, body, _ = service.http(
        "import_results", "GET", IMPORT, query=[("student", ADA), ("student", "x"), ("lesson", EDU_TESTOUT)]
    )
    assert status == 400 and "more than once" in body["imsx_description"]


def test_edulastic_in_grading_then_graded(service: Any) -> None:
    service.assign(ADA, EDU_TESTOUT)
    questions = [
        {"index": 0, "score": 1, "correct": True, "feedback": "Well done"},
        {"index": 1, "score": 0, "correct": False, "feedback": "Distribute first"},
        {
            "index": 2,
            "score": 1,
            "maxScore": 2,
            "correct": False,
            "partiallyCorrect": True,
            "feedback": "Half",
        },
        {"index": 3, "score": 1, "correct": True},
    ]
    finish(service, EDU_TESTOUT, questions, graded="IN GRADING")

    status, body = service.import_results(ADA, EDU_TESTOUT)
    assert status == 200 and body["finalized"] is False
    assert_valid(IMPORT, "get", 200, body)
    assert body["courseIdOnFail"] is None and body["hasFallbackCourse"] is False

    service.edulastic_control(
        "grade", {"assignmentId": body["assignmentId"], "email": ADA_EMAIL, "graded": "GRADED"}
    )
    status, body = service.import_results(ADA, EDU_TESTOUT)
    assert status == 200 and body["finalized"] is True

    status, progress = service.progress(ADA, EDU_TESTOUT)
    assert status == 200
    assert_valid(PROGRESS, "get", 200, progress)
    # (1 + 0 + 0.5 + 1) / 4 = 62.5 %
    assert progress["score"] == 62.5 and progress["accuracy"] == 62.5
    assert progress["correctQuestions"] == 2 and progress["totalQuestions"] == 4
    assert [q["result"] for q in progress["questions"]] == [
        {"score": 1.0, "feedback": "Well done"},
        {"score": 0.0, "feedback": "Distribute first"},
        {"score": 1.0, "feedback": "Half"},
        {"score": 1.0, "feedback": ""},
    ]
    assert [q["index"] for q in progress["questions"]] == [0, 1, 2, 3]
    assert all(q["difficulty"] == "medium" and q["url"].startswith("http") for q in progress["questions"])
    # test-out below 90: no enrollment, nothing failed; first attempt below 80 → multiplier 0
    assert progress["enrollmentFailed"] is False and progress["multiplier"] == 0 and progress["xp"] == 0
    assert enrollments(service, ADA) == []


# --- MasteryTrack write-back -------------------------------------------------------------------


def writeback_body(
    score: float | None = 95, status: str = "fully graded", processed: bool = True, **extra: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "scoreStatus": status,
        "scoreDate": "2026-11-20",
        "metadata": {"masteryTrackProcessed": processed, "totalQuestions": 20, "correctQuestions": 19},
        **extra,
    }
    if score is not None:
        record["score"] = score
    return {"assessmentResult": record}


def test_writeback_then_import_finalizes_and_enrolls(service: Any) -> None:
    service.assign(ADA, MT_TESTOUT)
    sourced_id = service.head(ADA, MT_TESTOUT).sourced_id
    status, record = service.write_back(sourced_id, writeback_body(score=95, status="partially graded"))
    assert status == 200 and record["assessmentResult"]["scoreStatus"] == "partially graded"
    assert service.import_results(ADA, MT_TESTOUT)[1]["finalized"] is False

    status, record = service.write_back(sourced_id, writeback_body(score=95))
    assert status == 200
    assert service.import_results(ADA, MT_TESTOUT)[1]["finalized"] is True
    progress = service.progress(ADA, MT_TESTOUT)[1]
    assert_valid(PROGRESS, "get", 200, progress)
    assert progress["score"] == 95 and progress["correctQuestions"] == 19 and progress["totalQuestions"] == 20
    assert progress["multiplier"] == 1.0 and progress["xp"] == 120
    assert enrollments(service, ADA) == ["course-math-g6"]


def test_malformed_writeback_is_400_and_stores_nothing(service: Any) -> None:
    for raw in [
        "not json",
        '{"scoreStatus": "fully graded"}',
        '{"assessmentResult": {"score": 5}}',
        '{"assessmentResult": {"scoreStatus": "done"}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "score": "ninety"}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "scoreDate": "yesterday"}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "student": {"sourcedId": "someone-else"}}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "score": ' + "9" * 400 + "}}",
        '{"assessmentResult": {"scoreStatus": "fully graded", "score": 150}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "score": -1}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "sourcedId": "ear-another"}}',
        '{"assessmentResult": {"scoreStatus": "fully graded", "metadata": ' + "[" * 100 + "]" * 100 + "}}",
    ]:
        service.assign(ADA, MT_TESTOUT)
        sourced_id = service.wait_for_callback(ADA, MT_TESTOUT).sourced_id
        before = service.snapshot()
        status, body = service.write_back(sourced_id, raw_body=raw)
        assert status == 400, body
        assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invaliddata"
        assert service.snapshot() == before


def test_oversized_fields_cannot_grow_the_record_and_the_real_write_back_still_lands(service: Any) -> None:
    service.assign(ADA, MT_TESTOUT)
    sourced_id = service.wait_for_callback(ADA, MT_TESTOUT).sourced_id
    for i in range(6):  # once merged into the record, these pushed the item past DynamoDB's 400 KB
        big = {"assessmentResult": {"scoreStatus": "submitted", f"p{i}": "x" * 60_000}}
        status, body = service.write_back(sourced_id, big)
        assert status == 200, body
        assert f"p{i}" not in json.dumps(body)  # unknown fields are dropped, not stored
    too_big = {"assessmentResult": {"scoreStatus": "submitted", "comment": "x" * 70_000}}
    assert service.write_back(sourced_id, too_big)[0] in (400, 413)
    status, body = service.write_back(sourced_id, writeback_body(score=95))
    assert status == 200, body
    assert service.head(ADA, MT_TESTOUT).finalized


def test_a_result_of_a_provider_that_does_not_write_back_is_not_there_for_the_write_back_client(
    service: Any,
) -> None:
    service.assign(ADA, EDU_TESTOUT)
    head = service.head(ADA, EDU_TESTOUT)
    before = service.snapshot()
    status, body = service.write_back(head.sourced_id, writeback_body(score=100))
    assert status == 404, body
    path = f"/ims/oneroster/gradebook/v1p2/assessmentResults/{head.sourced_id}"
    got, _, _ = service.http(
        "writeback",
        "GET",
        path,
        path_parameters={"sourcedId": head.sourced_id},
        route="/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}",
    )
    assert got == 404
    assert service.snapshot() == before


def test_writeback_to_unknown_id_is_404(service: Any) -> None:
    status, body = service.write_back("ear-unknown", writeback_body())
    assert (
        status == 404
        and body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "unknownobject"
    )


def test_get_assessment_result_exists_from_assign_time(service: Any) -> None:
    service.assign(ADA, MT_TESTOUT)
    head = service.head(ADA, MT_TESTOUT)
    path = f"/ims/oneroster/gradebook/v1p2/assessmentResults/{head.sourced_id}"
    status, body, _ = service.http(
        "writeback",
        "GET",
        path,
        path_parameters={"sourcedId": head.sourced_id},
        route="/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}",
    )
    assert status == 200
    record = body["assessmentResult"]
    assert record["scoreStatus"] == "not submitted" and record["student"]["sourcedId"] == ADA
    assert record["assessmentLineItem"]["sourcedId"] == head.line_item_id


# --- progress --------------------------------------------------------------------------------


def test_progress_before_assignment_and_earlier_attempts(service: Any) -> None:
    status, empty = service.progress(ADA, EDU_TESTOUT)
    assert status == 200 and empty["attempt"] == 1 and empty["finalized"] is False
    assert empty["xp"] is None and empty["questions"] == []
    assert_valid(PROGRESS, "get", 200, empty)

    service.assign(ADA, EDU_TESTOUT)
    finish(service, EDU_TESTOUT, [{"index": i, "score": 1, "correct": True} for i in range(4)])
    service.import_results(ADA, EDU_TESTOUT)
    service.assign(ADA, EDU_TESTOUT)  # attempt 2

    first = service.progress(ADA, EDU_TESTOUT, attempt="1")[1]
    current = service.progress(ADA, EDU_TESTOUT)[1]
    assert first["attempt"] == 1 and first["finalized"] is True and first["score"] == 87.5
    assert current["attempt"] == 2 and current["finalized"] is False and current["xp"] is None
    assert service.progress(ADA, EDU_TESTOUT, attempt="3")[0] == 404
    assert service.progress(ADA, EDU_TESTOUT, attempt="zero")[0] == 400
