"""The published PowerPath client (`timeback` 0.3.0 from PyPI) against the local stack.

`timeback.Timeback()` fixes the PowerPath/OneRoster base URL and the token URL by
`environment` ("production" | "staging"); only QTI and Caliper URLs can be overridden
(constructor args or TIMEBACK_QTI_API_BASE_URL / TIMEBACK_CALIPER_API_BASE_URL). So the
client is assembled from its own public building blocks, exactly as `Timeback.__init__` does:
`OAuth2ClientCredentials(idp_base_url, client_id, client_secret)` (it posts to
`{idp_base_url}/oauth2/token` with the credentials in the form body) →
`HttpClient(base_url, token_provider)` → `PowerPathService(http)`.
"""

from __future__ import annotations

from typing import Any

import pytest
from timeback.auth import OAuth2ClientCredentials
from timeback.errors import AuthError, NotFoundError, RequestError
from timeback.http import HttpClient
from timeback.models.request import (
    TimebackImportExternalTestAssignmentResultsRequest,
    TimebackMakeExternalTestAssignmentRequest,
)
from timeback.models.response import (
    TimebackAssessmentProgressResponse,
    TimebackImportExternalTestAssignmentResultsResponse,
    TimebackMakeExternalTestAssignmentResponse,
)
from timeback.services.powerpath import PowerPathService

from tests.support import assert_valid

pytestmark = pytest.mark.e2e

ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
EDU_TESTOUT = "lesson-edu-testout-math-g5"
MT_TESTOUT = "lesson-mt-testout-math-g5"


class RecordingHttpClient(HttpClient):
    """The client's own HttpClient, keeping the raw JSON of each answer for schema checks."""

    def __init__(self, base_url: str, token_provider: Any) -> None:
        super().__init__(base_url=base_url, token_provider=token_provider)
        self.raw: dict[str, Any] = {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        data = super().get(path, params=params)
        self.raw[path] = data
        return data

    def post(self, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        data = super().post(path, json=json)
        self.raw[path] = data
        return data


def make_client(stack: Any, secret: str | None = None) -> tuple[PowerPathService, RecordingHttpClient]:
    tokens = OAuth2ClientCredentials(
        idp_base_url=stack.api_url, client_id=stack.client_id, client_secret=secret or stack.client_secret
    )
    http = RecordingHttpClient(stack.api_url, tokens)
    return PowerPathService(http), http


@pytest.fixture
def client(stack: Any) -> Any:
    service, http = make_client(stack)
    yield service, http
    http._client.close()


def test_edulastic_round_trip_through_the_published_client(stack: Any, client: Any, student: Any) -> None:
    powerpath, http = client

    assigned = powerpath.make_external_test_assignment(
        TimebackMakeExternalTestAssignmentRequest(
            student=student.id, lesson=EDU_TESTOUT, applicationName="e2e"
        )
    )
    assert isinstance(assigned, TimebackMakeExternalTestAssignmentResponse)
    assert_valid(ASSIGN, "post", 200, http.raw[ASSIGN])
    assert (
        assigned.toolProvider == "edulastic" and assigned.lessonType == "test-out" and assigned.attempt == 1
    )
    assert assigned.testId == "edu-test-algebra-1" and assigned.assignmentId and assigned.testUrl
    assert assigned.credentials is not None and assigned.credentials.email == student.email
    [on_provider] = stack.edulastic_assignments_of(student.email)
    assert on_provider["_id"] == assigned.assignmentId

    request = TimebackImportExternalTestAssignmentResultsRequest(student=student.id, lesson=EDU_TESTOUT)
    pending = powerpath.import_external_test_assignment_results(request)
    assert isinstance(pending, TimebackImportExternalTestAssignmentResultsResponse)
    assert_valid(IMPORT, "get", 200, http.raw[IMPORT])
    assert pending.finalized is False and pending.assignmentId == assigned.assignmentId
    assert pending.lessonId == EDU_TESTOUT and pending.toolProvider == "edulastic"

    stack.edulastic_control(
        "finish",
        {
            "assignmentId": assigned.assignmentId,
            "email": student.email,
            "graded": "GRADED",
            "questions": [
                {"index": 0, "score": 1, "correct": True, "feedback": "Yes"},
                {"index": 1, "score": 1, "correct": True},
                {"index": 2, "score": 2, "correct": True, "feedback": "Perfect graph"},
                {"index": 3, "score": 1, "correct": True},
            ],
        },
    )
    final = powerpath.import_external_test_assignment_results(request)
    assert_valid(IMPORT, "get", 200, http.raw[IMPORT])
    assert final.finalized is True and final.attempt == 1

    result = powerpath.get_assessment_progress(student.id, EDU_TESTOUT)
    assert isinstance(result, TimebackAssessmentProgressResponse)
    assert_valid(PROGRESS, "get", 200, http.raw[PROGRESS])
    assert result.lessonType == "test-out" and result.finalized is True and result.attempt == 1
    assert result.score == 100 and result.accuracy == 100
    assert result.correctQuestions == 4 and result.totalQuestions == 4
    assert result.multiplier == 1.25 and result.xp == 125  # first attempt at 100 %: 100 XP × 1.25
    assert result.toolProvider == "edulastic" and result.enrollmentFailed is False
    assert result.questions is not None
    assert [(q.index, q.correct, q.difficulty) for q in result.questions] == [
        (i, True, "medium") for i in range(4)
    ]
    assert [(q.result.score, q.result.feedback) for q in result.questions if q.result] == [
        (1.0, "Yes"),
        (1.0, ""),
        (2.0, "Perfect graph"),
        (1.0, ""),
    ]
    # An explicit attempt number goes through the client too.
    assert powerpath.get_assessment_progress(student.id, EDU_TESTOUT, attempt=1) == result
    assert stack.enrollments(student.id) == ["course-math-g6"]


def test_mastery_track_through_the_published_client(stack: Any, client: Any, student: Any) -> None:
    powerpath, http = client
    assigned = powerpath.make_external_test_assignment(
        TimebackMakeExternalTestAssignmentRequest(student=student.id, lesson=MT_TESTOUT)
    )
    assert_valid(ASSIGN, "post", 200, http.raw[ASSIGN])
    assert (
        assigned.toolProvider == "mastery-track" and assigned.credentials is None and assigned.classId == ""
    )

    request = TimebackImportExternalTestAssignmentResultsRequest(student=student.id, lesson=MT_TESTOUT)
    assert powerpath.import_external_test_assignment_results(request).finalized is False
    outcome = stack.mastery_track_control(
        "finish",
        {
            "assignmentId": assigned.assignmentId,
            "totalQuestions": 20,
            "correctQuestions": 17,
            "scoreStatus": "fully graded",
            "processed": True,
        },
    )
    assert outcome["writeBack"]["status"] == 200, outcome["writeBack"]
    assert powerpath.import_external_test_assignment_results(request).finalized is True
    assert_valid(IMPORT, "get", 200, http.raw[IMPORT])

    result = powerpath.get_assessment_progress(student.id, MT_TESTOUT)
    assert_valid(PROGRESS, "get", 200, http.raw[PROGRESS])
    # No score written: correctQuestions ÷ totalQuestions × 100 = 85 → test-out not mastered.
    assert result.finalized is True and result.score == 85 and result.accuracy == 85
    assert result.multiplier == 1.0 and result.xp == 120
    assert result.enrollmentFailed is False
    assert stack.enrollments(student.id) == []


def test_the_clients_error_models_parse_the_services_errors(stack: Any, client: Any, student: Any) -> None:
    powerpath, _ = client
    with pytest.raises(NotFoundError) as not_found:
        powerpath.make_external_test_assignment(
            TimebackMakeExternalTestAssignmentRequest(student="nobody-at-all", lesson=EDU_TESTOUT)
        )
    details = not_found.value.error_details
    assert details is not None, str(not_found.value)  # parsed into TimebackNotFoundResponse
    assert details.imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue == "unknownobject"

    with pytest.raises(RequestError) as unprocessable:
        powerpath.import_external_test_assignment_results(
            TimebackImportExternalTestAssignmentResultsRequest(student=student.id, lesson=EDU_TESTOUT)
        )
    details = unprocessable.value.error_details
    assert details is not None, str(unprocessable.value)  # parsed into TimebackUnprocessableEntityResponse
    assert "credentials for data consumption are not available" in details.imsx_description


def test_bad_client_secret_fails_in_the_clients_token_provider(stack: Any, student: Any) -> None:
    powerpath, http = make_client(stack, secret="not-the-secret")
    try:
        with pytest.raises(AuthError, match="invalid_client"):
            powerpath.get_assessment_progress(student.id, EDU_TESTOUT)
    finally:
        http._client.close()
