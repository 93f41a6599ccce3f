"""POST /powerpath/makeExternalTestAssignment over HTTP against the local stack and its simulators."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import max_concurrency
from tests.support import assert_valid, at_scale

pytestmark = pytest.mark.e2e

ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
EDU_TESTOUT = "lesson-edu-testout-math-g5"
MT_TESTOUT = "lesson-mt-testout-math-g5"
MT_UNIT = "lesson-mt-unit-math-g6"
EDULASTIC_ASSIGN_CALL = "POST /assignments/v2/assign"
MASTERY_TRACK_ASSIGN_CALL = "POST /delivery/assignments/assign"
CONCURRENT_REQUESTS = at_scale(30, 100)


def ok(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    return body


def minor_code(body: dict[str, Any]) -> str:
    value: str = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
    return value


def test_assign_on_edulastic(stack: Any, student: Any) -> None:
    body = ok(stack.assign(student.id, EDU_TESTOUT, applicationName="e2e-tests"))
    assert_valid(ASSIGN, "post", 200, body)
    assert body["toolProvider"] == "edulastic" and body["lessonType"] == "test-out" and body["attempt"] == 1
    assert body["testId"] == "edu-test-algebra-1"  # the Resource's metadata.vendorId
    assert body["classId"] and body["assignmentId"] in body["testUrl"]
    assert body["credentials"]["email"] == student.email and body["credentials"]["password"]
    # The link handed to the student opens the assignment on the provider.
    assert requests.get(body["testUrl"], timeout=30).status_code == 200

    [assignment] = stack.edulastic_assignments_of(student.email)
    assert assignment["_id"] == body["assignmentId"] and assignment["testId"] == "edu-test-algebra-1"
    [user] = [u for u in stack.edulastic_state()["users"] if u["email"] == student.email]
    assert user["password"] == body["credentials"]["password"]  # the student can log in with it
    assert body["classId"] in user["classIds"]

    imported = ok(stack.import_results(student.id, EDU_TESTOUT))
    assert_valid(IMPORT, "get", 200, imported)
    assert imported["finalized"] is False and imported["attempt"] == 1
    assert imported["assignmentId"] == body["assignmentId"] and imported["credentials"] == body["credentials"]
    progress = ok(stack.progress(student.id, EDU_TESTOUT))
    assert_valid(PROGRESS, "get", 200, progress)
    assert progress["finalized"] is False and progress["xp"] is None and progress["multiplier"] is None


def test_assign_on_mastery_track(stack: Any, student: Any) -> None:
    body = ok(stack.assign(student.id, MT_TESTOUT))
    assert_valid(ASSIGN, "post", 200, body)
    assert (
        body["toolProvider"] == "mastery-track" and body["lessonType"] == "test-out" and body["attempt"] == 1
    )
    assert "credentials" not in body  # MasteryTrack has no password the service could hand out
    assert body["classId"] == "" and body["testUrl"].startswith("http")
    assert requests.get(body["testUrl"], timeout=30).status_code == 200

    [assignment] = stack.mastery_track_assignments_of(student.email)
    assert assignment["id"] == body["assignmentId"] and assignment["status"] == "ASSIGNED"
    assert assignment["timeback_id"] == "mt-math-g5"  # subject + grade of the Resource
    # The AssessmentResult MasteryTrack will write back to exists from assign time.
    record = ok(stack.get_result(assignment["assessment_result_sourced_id"]))["assessmentResult"]
    assert record["scoreStatus"] == "not submitted"
    assert record["student"]["sourcedId"] == student.id
    assert record["assessmentLineItem"]["sourcedId"] == assignment["assessment_line_item_sourced_id"]


def test_mastery_track_test_id_from_the_request_wins(stack: Any, student: Any) -> None:
    body = ok(stack.assign(student.id, MT_UNIT, testId="mt-reading-g7"))
    assert_valid(ASSIGN, "post", 200, body)
    assert body["lessonType"] == "unit-test"
    [assignment] = stack.mastery_track_assignments_of(student.email)
    assert assignment["timeback_id"] == "mt-reading-g7"


@pytest.mark.parametrize(
    ("who", "lesson", "status", "field"),
    [
        pytest.param("nobody-at-all", EDU_TESTOUT, 404, "student", id="unknown-student"),
        pytest.param("teacher-1", EDU_TESTOUT, 404, "student", id="not-a-student"),
        pytest.param("fresh", "lesson-that-does-not-exist", 404, "lesson", id="unknown-lesson"),
        pytest.param("fresh", "lesson-quiz-math-g5", 422, None, id="not-an-external-test"),
        pytest.param("fresh", "lesson-unsupported-provider", 422, None, id="unsupported-provider"),
        pytest.param("student-noemail", EDU_TESTOUT, 422, None, id="student-without-email"),
    ],
)
def test_not_found_and_unprocessable_over_http(
    stack: Any, student: Any, who: str, lesson: str, status: int, field: str | None
) -> None:
    student_id = student.id if who == "fresh" else who
    calls = (stack.edulastic_state()["calls"], stack.mastery_track_state()["calls"])
    answer = stack.assign(student_id, lesson)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert_valid(ASSIGN, "post", status, body)
    assert minor_code(body) == ("unknownobject" if status == 404 else "invaliddata")
    if field is not None:
        assert [d["field"] for d in body.get("imsx_error_details", [])] == [field]
    # Rejected before any provider call; nothing stored for the student.
    assert (stack.edulastic_state()["calls"], stack.mastery_track_state()["calls"]) == calls
    assert stack.result_items(student_id, lesson) == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"student": "x"}', id="missing-lesson"),
        pytest.param('{"student": "", "lesson": "lesson-edu-testout-math-g5"}', id="empty-student"),
        pytest.param("{not json", id="not-json"),
    ],
)
def test_bad_request_over_http(stack: Any, raw: str) -> None:
    answer = stack.request(
        "POST", ASSIGN, data=raw, headers={**stack.headers(), "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert_valid(ASSIGN, "post", 400, body)
    assert minor_code(body) == "invaliddata"


@pytest.mark.parametrize(
    ("lesson", "provider"),
    [
        pytest.param(EDU_TESTOUT, "edulastic", id="edulastic"),
        pytest.param(MT_TESTOUT, "mastery-track", id="mt"),
    ],
)
@pytest.mark.scaled
def test_concurrent_identical_requests_make_one_assignment(
    stack: Any, student: Any, lesson: str, provider: str
) -> None:
    token = stack.token()  # fetched once, outside the race
    since = time.time()

    def call(_: int) -> tuple[int, Any]:
        answer = requests.post(
            stack.api_url + ASSIGN,
            json={"student": student.id, "lesson": lesson},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        return answer.status_code, answer.json()

    burst = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        answers = list(pool.map(call, range(CONCURRENT_REQUESTS)))
    burst = time.monotonic() - burst

    assert [status for status, _ in answers] == [200] * CONCURRENT_REQUESTS, answers
    for _, body in answers:
        assert_valid(ASSIGN, "post", 200, body)
    assert all(body == answers[0][1] for _, body in answers)  # the same assignment, every field
    assert answers[0][1]["attempt"] == 1
    assignment_id = answers[0][1]["assignmentId"]
    if provider == "edulastic":
        assert answers[0][1]["credentials"]["password"]
        assert [a["_id"] for a in stack.edulastic_assignments_of(student.email)] == [assignment_id]
        assert len([u for u in stack.edulastic_state()["users"] if u["email"] == student.email]) == 1
        state, call_name = stack.edulastic_state, EDULASTIC_ASSIGN_CALL
    else:
        assert [a["id"] for a in stack.mastery_track_assignments_of(student.email)] == [assignment_id]
        state, call_name = stack.mastery_track_state, MASTERY_TRACK_ASSIGN_CALL

    # The requests really ran in parallel, in worker processes of their own.
    ran = stack.invocations("AssignFunction", since)
    assert len(ran) == CONCURRENT_REQUESTS and {i["outcome"] for i in ran} == {"ok"}
    assert max_concurrency(ran) > 1
    assert len({i["pid"] for i in ran}) >= 2
    durations = sorted(i["durationMs"] for i in ran)
    median = durations[len(durations) // 2]
    print(
        f"\n{provider}: {CONCURRENT_REQUESTS} concurrent assigns -> 1 assignment in {burst:.1f} s; "
        f"{len({i['pid'] for i in ran})} worker processes ({sum(i['coldStart'] for i in ran)} cold starts), "
        f"at most {max_concurrency(ran)} at once; handler time median {median:.0f} ms, "
        f"max {durations[-1]:.0f} ms"
    )

    # A later retry is answered from the stored attempt, without a provider call.
    before = state()["calls"].get(call_name, 0)
    again = ok(stack.assign(student.id, lesson))
    assert again["assignmentId"] == assignment_id
    assert state()["calls"].get(call_name, 0) == before
