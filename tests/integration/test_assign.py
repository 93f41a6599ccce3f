"""makeExternalTestAssignment through the real handler, on moto, against the provider simulators."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import assert_valid

PATH = "/powerpath/makeExternalTestAssignment"
EDU_LESSON = "lesson-edu-testout-math-g5"
MT_LESSON = "lesson-mt-testout-math-g5"
ADA = "student-ada"
ADA_EMAIL = "ada.lovelace@students.example.com"


def _assignments(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(state["assignments"])


def test_edulastic_assignment_returns_credentials_and_is_stored(service: Any) -> None:
    status, body = service.assign(ADA, EDU_LESSON)

    assert status == 200, body
    assert_valid(PATH, "post", 200, body)
    assert body["toolProvider"] == "edulastic" and body["lessonType"] == "test-out" and body["attempt"] == 1
    assert body["testId"] == "edu-test-algebra-1"
    assert body["classId"] == "class-int-1"
    assert body["testUrl"].endswith(f"/home/group/class-int-1/assignment/{body['assignmentId']}")
    assert body["credentials"]["email"] == ADA_EMAIL
    # The password handed out is the one the student was created with on the provider.
    users = {u["email"]: u for u in service.edulastic.state["users"]}
    assert users[ADA_EMAIL]["password"] == body["credentials"]["password"]
    head = service.head(ADA, EDU_LESSON)
    assert head.assignment_id == body["assignmentId"] and head.status == "assigned"
    assert head.workflow_started


def test_password_is_encrypted_at_rest(service: Any) -> None:
    _, body = service.assign(ADA, EDU_LESSON)
    password = body["credentials"]["password"]
    assert all(password not in str(item) for item in service.items())


def test_mastery_track_assignment_by_subject_and_grade(service: Any) -> None:
    status, body = service.assign(ADA, MT_LESSON)

    assert status == 200, body
    assert_valid(PATH, "post", 200, body)
    assert body["toolProvider"] == "mastery-track" and body["classId"] == ""
    assert "credentials" not in body  # MasteryTrack has no password the service could give
    [assignment] = _assignments(service.mastery_track.state)
    assert assignment["subject"] == "Math" and assignment["grade_rank"] == 5
    head = service.head(ADA, MT_LESSON)
    # MasteryTrack writes back to the ids it was given at assign time.
    assert assignment["assessment_result_sourced_id"] == head.sourced_id
    assert assignment["assessment_line_item_sourced_id"] == head.line_item_id


# --- errors: each one answers the IMS body and writes nothing --------------------------------


def _ims(status: int, body: Any, minor: str) -> None:
    assert_valid(PATH, "post", status, body)
    assert body["imsx_codeMajor"] == "failure" and body["imsx_severity"] == "error"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == minor


def test_malformed_body_is_400_and_writes_nothing(service: Any) -> None:
    for raw in [
        "{}",
        '{"student": "", "lesson": "x"}',
        '{"student": "   ", "lesson": "x"}',
        '{"student": "student-ada"}',
        '{"student": 5, "lesson": "x"}',
        '{"student": "student-ada", "lesson": "lesson-edu-testout-math-g5", "skipCourseEnrollment": "yes"}',
        '{"student": "student-ada", "lesson": "lesson-edu-testout-math-g5", "testId": 7}',
        '{"student": "a\\u0000b", "lesson": "x"}',
        "not json",
        "[1, 2]",
        '"student"',
        "",
    ]:
        before = service.snapshot()
        status, body, _ = service.http("assign", "POST", PATH, raw_body=raw)
        assert status == 400, body
        _ims(400, body, "invaliddata")
        assert service.snapshot() == before


def test_a_body_that_is_not_json_is_415_and_writes_nothing(service: Any) -> None:
    before = service.snapshot()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        status, body, _ = service.http(
            "assign",
            "POST",
            PATH,
            body={"student": ADA, "lesson": EDU_LESSON},
            headers={"content-type": content_type},
        )
        assert status == 415 and "content type" in body["imsx_description"], (content_type, body)
    assert service.snapshot() == before


def test_json_media_types_are_matched_case_insensitively_and_with_any_json_suffix(service: Any) -> None:
    for content_type in (
        "APPLICATION/JSON",
        "application/vnd.api+json",
        "Application/Merge-Patch+JSON; charset=utf-8",
    ):
        status, body, _ = service.http(
            "assign",
            "POST",
            PATH,
            body={"student": ADA, "lesson": EDU_LESSON},
            headers={"content-type": content_type},
        )
        assert status == 200, (content_type, body)


def test_json_nested_deeper_than_the_limit_is_400_not_a_crash(service: Any) -> None:
    before = service.snapshot()
    for depth in (33, 600, 5000):
        raw = '{"student": "student-ada", "lesson": "x", "testId": ' + "[" * depth + "]" * depth + "}"
        status, body, _ = service.http("assign", "POST", PATH, raw_body=raw)
        assert status == 400 and "nests deeper" in body["imsx_description"], (depth, body)
    assert service.snapshot() == before


def test_an_integer_longer_than_python_converts_is_400_not_a_crash(service: Any) -> None:
    before = service.snapshot()
    raw = json.dumps({"student": ADA, "lesson": EDU_LESSON})[:-1] + ', "applicationName": ' + "9" * 5000 + "}"
    status, body, _ = service.http("assign", "POST", PATH, raw_body=raw)
    assert status == 400 and "too many digits" in body["imsx_description"], body
    assert service.snapshot() == before


def test_unknown_student_or_lesson_is_404(service: Any) -> None:
    for student, lesson, field in [
        ("student-nobody", EDU_LESSON, "student"),
        ("teacher-1", EDU_LESSON, "student"),
        (ADA, "lesson-nothing", "lesson"),
        ("' OR 1=1 --", EDU_LESSON, "student"),
        ("学生#1", EDU_LESSON, "student"),
    ]:
        before = service.snapshot()
        status, body = service.assign(student, lesson)
        assert status == 404, body
        _ims(404, body, "unknownobject")
        assert body["imsx_error_details"][0]["field"] == field
        assert service.snapshot() == before


def test_ineligible_lesson_or_student_is_422(service: Any) -> None:
    for student, lesson in [
        (ADA, "lesson-quiz-math-g5"),
        (ADA, "lesson-unsupported-provider"),
        ("student-noemail", EDU_LESSON),
    ]:
        before = service.snapshot()
        status, body = service.assign(student, lesson)
        assert status == 422, body
        _ims(422, body, "invaliddata")
        assert service.snapshot() == before
        assert not _assignments(service.edulastic.state)


def test_provider_rejection_is_422_naming_the_provider(service: Any) -> None:
    before = service.snapshot()
    status, body = service.assign(ADA, MT_LESSON, testId="mt-no-such-test")
    assert status == 422, body
    _ims(422, body, "invaliddata")
    assert "mastery-track" in body["imsx_description"]
    assert service.snapshot() == before


def test_provider_outage_is_502_then_the_retry_assigns_once(service: Any) -> None:
    service.edulastic_control("faults", {"outage": True})
    status, body = service.assign(ADA, EDU_LESSON)
    assert status == 502, body
    _ims_502 = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
    assert _ims_502 == "internal_server_error" and "edulastic" in body["imsx_description"]
    # Nothing was assigned: results cannot be imported, progress shows nothing.
    assert service.import_results(ADA, EDU_LESSON)[0] == 422
    progress = service.progress(ADA, EDU_LESSON)[1]
    assert progress["attempt"] == 1 and progress["questions"] == [] and progress["finalized"] is False
    # The provider may have acted before failing, so the intent (and its sourcedId, which
    # MasteryTrack writes back to) is kept with its lease released: the retry takes it over.
    intent = service.head(ADA, EDU_LESSON)
    assert intent.status == "assigning" and intent.assignment_id is None

    service.edulastic_control("faults", {})
    status, body = service.assign(ADA, EDU_LESSON)

    assert status == 200 and body["attempt"] == 1
    assert service.head(ADA, EDU_LESSON).sourced_id == intent.sourced_id
    assert len(_assignments(service.edulastic.state)) == 1


def test_open_circuit_is_503_with_retry_after_and_no_provider_call(service: Any) -> None:
    service.mastery_track_control("faults", {"outage": True})
    for _ in range(3):  # PROVIDER_BREAKER_THRESHOLD failures open the circuit
        assert service.assign(ADA, MT_LESSON)[0] == 502
    calls = sum(service.mastery_track.state["calls"].values())
    before = service.snapshot()

    status, body, headers = service.http("assign", "POST", PATH, body={"student": ADA, "lesson": MT_LESSON})

    assert status == 503, body
    assert int(headers["Retry-After"]) >= 1
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "server_busy"
    assert sum(service.mastery_track.state["calls"].values()) == calls
    assert service.snapshot() == before


def test_returning_student_costs_one_provider_call(service: Any) -> None:
    service.assign(ADA, EDU_LESSON)
    before = dict(service.edulastic.state["calls"])
    status, _ = service.assign(ADA, "lesson-edu-placement-math-g5")
    assert status == 200
    after = service.edulastic.state["calls"]
    new_calls = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert new_calls == {"POST /assignments/v2/assign": 1}


def test_aws_throttling_is_503_not_500(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from exttests.adapters.dynamo.store import DynamoStore

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchGetItem")

    monkeypatch.setattr(DynamoStore, "load_context", throttled)
    status, body, headers = service.http("assign", "POST", PATH, body={"student": ADA, "lesson": EDU_LESSON})
    assert status == 503 and headers["Retry-After"] == "1"
    assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "server_busy"


def test_credentials_survive_a_create_whose_answer_was_lost(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create went through but its answer (and the lookup after it) failed: the retry finds
    the student, and must still know the service created it with the stored password."""
    from exttests.errors import ProviderUnavailable
    from exttests.providers.edulastic import EdulasticProvider

    original = EdulasticProvider._create_student

    def created_then_lost(self: EdulasticProvider, request: Any) -> Any:
        original(self, request)
        raise ProviderUnavailable("edulastic", "read timeout; the lookup after it failed too")

    monkeypatch.setattr(EdulasticProvider, "_create_student", created_then_lost)
    assert service.assign(ADA, EDU_LESSON)[0] == 502
    monkeypatch.setattr(EdulasticProvider, "_create_student", original)

    status, body = service.assign(ADA, EDU_LESSON)

    assert status == 200, body
    users = {u["email"]: u for u in service.edulastic.state["users"]}
    assert body["credentials"]["password"] == users[ADA_EMAIL]["password"]
    assert service.edulastic.state["calls"]["POST /enrollment/user"] == 1  # not created twice
