"""The Edulastic simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.simulators.edulastic import EdulasticSimulator, create_edulastic_simulator

USER = "service@example.test"
PASSWORD = "s3cret-service-pw"
CLASS_ID = "class-123"
CLASS_CODE = "ABC123"


@pytest.fixture
def sim() -> Iterator[EdulasticSimulator]:
    s = create_edulastic_simulator(
        username=USER, password=PASSWORD, class_id=CLASS_ID, class_code=CLASS_CODE
    ).start()
    yield s
    s.stop()


def login(sim: EdulasticSimulator) -> str:
    r = requests.post(f"{sim.url}/auth/login", json={"username": USER, "password": PASSWORD}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["result"]["token"]


def call(sim: EdulasticSimulator, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, f"{sim.url}{path}", headers={"Authorization": token}, timeout=5, **kw)


def control(sim: EdulasticSimulator, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    if body is None:
        return requests.get(f"{sim.app_url}/_control/{path}", timeout=5)
    return requests.post(f"{sim.app_url}/_control/{path}", json=body, timeout=5)


def create_student(sim: EdulasticSimulator, token: str, email: str = "kid@example.test") -> str:
    r = call(
        sim,
        token,
        "POST",
        "/enrollment/user",
        json={
            "email": email,
            "username": email,
            "password": "kid-pw-1",
            "firstName": "Kid",
            "lastName": "Student",
            "classCode": CLASS_CODE,
            "role": "student",
            "districtId": "d1",
            "institutionIds": ["s1"],
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["result"]["userId"]


def assign_body(test_id: str, student_id: str) -> dict[str, Any]:
    return {
        "assignments": [
            {
                "testId": test_id,
                "startDate": 1700000000000,
                "endDate": 1800000000000,
                "openPolicy": "Automatically on Start Date",
                "closePolicy": "Automatically on Due Date",
                "testType": "assessment",
                "releaseScore": "WITH_RESPONSE",
                "maxAttempts": 1,
            }
        ],
        "filters": {
            "groups": [CLASS_ID],
            "students": [{"groupId": CLASS_ID, "studentsToAssign": [student_id]}],
        },
    }


def assign(sim: EdulasticSimulator, token: str, test_id: str, student_id: str) -> requests.Response:
    return call(sim, token, "POST", "/assignments/v2/assign", json=assign_body(test_id, student_id))


def activity(sim: EdulasticSimulator, token: str, assignment_id: str, user_id: str) -> dict[str, Any]:
    r = call(
        sim,
        token,
        "POST",
        f"/assignments/{assignment_id}/classes/{CLASS_ID}/test-activity?includeStudents={user_id}",
        json={"page": 0, "leftOverStudents": []},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_urls_bind_to_loopback(sim: EdulasticSimulator) -> None:
    assert sim.url == f"http://127.0.0.1:{sim.port}/api"
    assert sim.app_url == f"http://127.0.0.1:{sim.port}"
    assert sim.port > 0


def test_login_rejects_wrong_credentials(sim: EdulasticSimulator) -> None:
    r = requests.post(f"{sim.url}/auth/login", json={"username": USER, "password": "nope"}, timeout=5)
    assert r.status_code == 401
    assert "token" not in r.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/search/users/by-emails"),
        ("POST", "/enrollment/user"),
        ("POST", "/enrollment/student"),
        ("POST", "/assignments/v2/assign"),
        ("POST", "/assignments/all"),
        ("POST", "/assignments/a1/classes/c1/test-activity"),
        ("GET", "/test/edu-test-algebra-1/minimal"),
    ],
)
def test_every_route_but_login_requires_a_token(sim: EdulasticSimulator, method: str, path: str) -> None:
    assert requests.request(method, f"{sim.url}{path}", json={}, timeout=5).status_code == 401
    r = requests.request(method, f"{sim.url}{path}", json={}, headers={"Authorization": "bogus"}, timeout=5)
    assert r.status_code == 401


def test_bearer_prefix_is_rejected_with_a_hint(sim: EdulasticSimulator) -> None:
    token = login(sim)
    r = call(sim, f"Bearer {token}", "GET", "/test/edu-test-algebra-1/minimal")
    assert r.status_code == 401
    assert "Bearer" in r.json()["result"]["message"]


def test_token_refresh_header_every_50th_call_and_old_token_stays_valid(sim: EdulasticSimulator) -> None:
    token = login(sim)
    refreshed = None
    for i in range(1, 51):
        r = call(sim, token, "POST", "/search/users/by-emails", json={"emails": []})
        assert r.status_code == 200
        if i < 50:
            assert "x-token-refresh" not in r.headers
        else:
            refreshed = r.headers["x-token-refresh"]
    assert refreshed and refreshed != token
    assert call(sim, refreshed, "POST", "/search/users/by-emails", json={"emails": []}).status_code == 200
    assert call(sim, token, "POST", "/search/users/by-emails", json={"emails": []}).status_code == 200


def test_token_refresh_on_demand_and_grace_expiry(sim: EdulasticSimulator) -> None:
    token = login(sim)
    assert control(sim, "token-refresh", {"next": True, "graceSeconds": 60}).status_code == 200
    r = call(sim, token, "GET", "/test/edu-test-algebra-1/minimal")
    new_token = r.headers["x-token-refresh"]
    sim.clock.advance(61)
    assert call(sim, token, "GET", "/test/edu-test-algebra-1/minimal").status_code == 401
    assert call(sim, new_token, "GET", "/test/edu-test-algebra-1/minimal").status_code == 200


def test_expire_tokens_forces_a_new_login(sim: EdulasticSimulator) -> None:
    token = login(sim)
    assert control(sim, "expire-tokens", {}).json() == {"expired": 1}
    assert call(sim, token, "GET", "/test/edu-test-algebra-1/minimal").status_code == 401
    assert call(sim, login(sim), "GET", "/test/edu-test-algebra-1/minimal").status_code == 200


def test_student_lookup_create_and_enroll(sim: EdulasticSimulator) -> None:
    token = login(sim)
    r = call(sim, token, "POST", "/search/users/by-emails", json={"emails": ["kid@example.test"]})
    assert r.json()["result"]["data"] == []
    user_id = create_student(sim, token)
    r = call(sim, token, "POST", "/search/users/by-emails", json={"emails": ["KID@example.test"]})
    [found] = r.json()["result"]["data"]
    assert found["_id"] == user_id and found["email"] == "kid@example.test"
    assert found["orgData"]["classList"] == [{"_id": CLASS_ID, "code": CLASS_CODE}]
    # duplicate email
    r = call(
        sim,
        token,
        "POST",
        "/enrollment/user",
        json={"email": "kid@example.test", "password": "x", "classCode": CLASS_CODE, "role": "student"},
    )
    assert r.status_code == 409
    [user] = sim.state["users"]
    assert user["password"] == "kid-pw-1"


def test_existing_student_outside_the_class_is_enrolled(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = control(sim, "users", {"email": "old@example.test"}).json()["userId"]
    r = assign(sim, token, "edu-test-algebra-1", user_id)
    assert r.status_code == 400  # not in the class yet
    r = call(
        sim,
        token,
        "POST",
        "/enrollment/student",
        json={"classCode": CLASS_CODE, "studentIds": [user_id], "districtId": "d1"},
    )
    assert r.status_code == 200
    assert assign(sim, token, "edu-test-algebra-1", user_id).status_code == 200


def test_test_minimal_lists_questions_and_max_scores(sim: EdulasticSimulator) -> None:
    token = login(sim)
    r = call(sim, token, "GET", "/test/edu-test-algebra-1/minimal?validation=true&data=true")
    result = r.json()["result"]
    questions = [q for g in result["itemGroups"] for i in g["items"] for q in i["data"]["questions"]]
    assert [q["validation"]["validResponse"]["score"] for q in questions] == [1, 1, 2, 1]
    assert all(q["id"] and q["title"] and q["stimulus"] for q in questions)
    assert call(sim, token, "GET", "/test/nope/minimal").status_code == 404
    ela = call(sim, token, "GET", "/test/edu-test-ela-unit-3/minimal?validation=true&data=true").json()
    ela_scores = [
        q["validation"]["validResponse"]["score"]
        for g in ela["result"]["itemGroups"]
        for i in g["items"]
        for q in i["data"]["questions"]
    ]
    assert ela_scores == [1, 1, 4]


def test_assign_happy_path_conflict_and_lookup(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = create_student(sim, token)
    r = assign(sim, token, "edu-test-algebra-1", user_id)
    assert r.status_code == 200, r.text
    [created] = r.json()["result"]["assignments"]
    assert created["class"][0]["_id"] == CLASS_ID and created["testId"] == "edu-test-algebra-1"

    r = assign(sim, token, "edu-test-algebra-1", user_id)
    assert r.status_code == 409
    assert len(sim.state["assignments"]) == 1

    r = call(
        sim,
        token,
        "POST",
        f"/assignments/all?testId=edu-test-algebra-1&groupId={CLASS_ID}&studentId={user_id}",
    )
    assert [a["_id"] for a in r.json()["result"]] == [created["_id"]]
    r = call(sim, token, "POST", "/assignments/all?testId=edu-test-algebra-1&studentId=someone-else")
    assert r.json()["result"] == []

    # once the attempt is submitted a new attempt can be assigned
    control(sim, "finish", {"assignmentId": created["_id"], "email": "kid@example.test"})
    assert assign(sim, token, "edu-test-algebra-1", user_id).status_code == 200


def test_assign_validation(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = create_student(sim, token)
    r = assign(sim, token, "no-such-test", user_id)
    assert r.status_code == 404
    assert r.json()["result"]["message"] == "test not found"
    bad = assign_body("edu-test-algebra-1", user_id)
    del bad["filters"]
    assert call(sim, token, "POST", "/assignments/v2/assign", json=bad).status_code == 400
    bad = assign_body("edu-test-algebra-1", user_id)
    del bad["assignments"][0]["endDate"]
    assert call(sim, token, "POST", "/assignments/v2/assign", json=bad).status_code == 400
    r = call(sim, token, "POST", "/assignments/v2/assign", data="{not json")
    assert r.status_code == 400
    assert sim.state["assignments"] == []


def test_finish_and_grade_show_up_in_test_activity(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = create_student(sim, token)
    [a] = assign(sim, token, "edu-test-ela-unit-3", user_id).json()["result"]["assignments"]

    before = activity(sim, token, a["_id"], user_id)
    assert before["testActivities"] == [] and before["testQuestionActivities"] == []

    r = control(
        sim,
        "finish",
        {
            "assignmentId": a["_id"],
            "email": "kid@example.test",
            "graded": "IN GRADING",
            "questions": [
                {"index": 0, "score": 1, "correct": True, "feedback": "Nice"},
                {"index": 1, "score": 0, "correct": False},
                {"index": 2, "score": 0, "graded": False, "pendingEvaluation": True},
            ],
        },
    )
    assert r.status_code == 200, r.text
    uta_id = r.json()["testActivityId"]
    data = activity(sim, token, a["_id"], user_id)
    [uta] = data["testActivities"]
    assert uta == {
        **uta,
        "_id": uta_id,
        "userId": user_id,
        "assignmentId": a["_id"],
        "groupId": CLASS_ID,
        "testId": "edu-test-ela-unit-3",
        "status": 1,
        "graded": "IN GRADING",
        "score": 1,
        "maxScore": 6,
        "number": 1,
    }
    uqas = {q["qid"]: q for q in data["testQuestionActivities"]}
    assert len(uqas) == 3
    essay = uqas["edu-test-ela-unit-3-q3"]
    assert essay["pendingEvaluation"] is True and essay["graded"] is False and essay["maxScore"] == 4
    first = uqas["edu-test-ela-unit-3-q1"]
    assert first["feedback"]["text"] == "Nice" and first["feedback"]["teacherName"]
    assert first["correct"] is True and first["testActivityId"] == uta_id
    assert first["testItemId"] == "edu-test-ela-unit-3-item1"
    assert "feedback" not in uqas["edu-test-ela-unit-3-q2"]

    r = control(
        sim,
        "grade",
        {
            "assignmentId": a["_id"],
            "email": "kid@example.test",
            "graded": "GRADED",
            "questions": [{"id": "edu-test-ela-unit-3-q3", "score": 3, "feedback": "Good essay"}],
        },
    )
    assert r.json() == {"testActivityId": uta_id}
    data = activity(sim, token, a["_id"], user_id)
    [uta] = data["testActivities"]
    assert uta["graded"] == "GRADED" and uta["score"] == 4 and uta["number"] == 1
    essay = next(q for q in data["testQuestionActivities"] if q["qid"] == "edu-test-ela-unit-3-q3")
    assert essay["graded"] is True and essay["pendingEvaluation"] is False
    assert essay["score"] == 3 and essay["partiallyCorrect"] is True and essay["correct"] is False


def test_unanswered_questions_have_no_activity_and_repeat_finish_updates(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = create_student(sim, token)
    [a] = assign(sim, token, "edu-test-algebra-1", user_id).json()["result"]["assignments"]
    body = {"assignmentId": a["_id"], "email": "kid@example.test", "submitted": False}
    first = control(sim, "finish", {**body, "questions": [{"index": 0, "score": 1, "correct": True}]})
    second = control(sim, "finish", {**body, "submitted": True, "questions": [{"index": 2, "score": 2}]})
    assert first.json() == second.json()
    data = activity(sim, token, a["_id"], user_id)
    [uta] = data["testActivities"]
    assert uta["status"] == 1 and uta["score"] == 3 and uta["maxScore"] == 5
    assert sorted(q["qid"] for q in data["testQuestionActivities"]) == [
        "edu-test-algebra-1-q1",
        "edu-test-algebra-1-q3",
    ]


def test_control_tests_adds_a_test(sim: EdulasticSimulator) -> None:
    token = login(sim)
    r = control(
        sim,
        "tests",
        {"testId": "custom-1", "questions": [{"id": "qa", "title": "A", "maxScore": 3}, {"maxScore": 1}]},
    )
    assert r.status_code == 200
    result = call(sim, token, "GET", "/test/custom-1/minimal?validation=true&data=true").json()["result"]
    ids = [q["id"] for g in result["itemGroups"] for i in g["items"] for q in i["data"]["questions"]]
    assert ids == ["qa", "custom-1-q2"]
    assert control(sim, "tests", {"testId": "bad", "questions": []}).status_code == 400


def test_state_counts_calls_by_template_and_reset_keeps_tests(sim: EdulasticSimulator) -> None:
    token = login(sim)
    create_student(sim, token)
    activity_path = "/assignments/x/classes/y/test-activity"
    call(sim, token, "POST", activity_path, json={"page": 0, "leftOverStudents": []})
    calls = control(sim, "state").json()["calls"]
    assert calls["POST /auth/login"] == 1
    assert calls["POST /enrollment/user"] == 1
    assert calls["POST /assignments/{assignmentId}/classes/{classId}/test-activity"] == 1
    assert control(sim, "reset", {}).status_code == 200
    state = control(sim, "state").json()
    assert state["users"] == [] and state["assignments"] == [] and state["calls"] == {}
    assert "edu-test-algebra-1" in state["tests"]
    # issued tokens survive a reset
    assert call(sim, token, "GET", "/test/edu-test-algebra-1/minimal").status_code == 200


def test_seeded_error_rate_is_reproducible(sim: EdulasticSimulator) -> None:
    token = login(sim)

    def run() -> list[int]:
        control(sim, "faults", {"errorRate": 0.5, "seed": 42})
        return [call(sim, token, "GET", "/test/edu-test-algebra-1/minimal").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert {s for s in first} - {200} <= {500, 502, 503}
    assert 200 in first and any(s >= 500 for s in first)


def test_rate_limit_answers_429_with_retry_after(sim: EdulasticSimulator) -> None:
    token = login(sim)
    control(sim, "faults", {"rateLimitRate": 1, "retryAfter": 7})
    r = call(sim, token, "GET", "/test/edu-test-algebra-1/minimal")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    # control routes are never faulted
    assert control(sim, "state").status_code == 200
    control(sim, "faults", {})
    assert call(sim, token, "GET", "/test/edu-test-algebra-1/minimal").status_code == 200


def test_outage_and_faulted_requests_change_nothing(sim: EdulasticSimulator) -> None:
    token = login(sim)
    control(sim, "faults", {"outage": True})
    r = requests.post(f"{sim.url}/auth/login", json={"username": USER, "password": PASSWORD}, timeout=5)
    assert r.status_code == 503
    body = {"email": "kid@example.test", "password": "p", "classCode": CLASS_CODE, "role": "student"}
    assert call(sim, token, "POST", "/enrollment/user", json=body).status_code == 503
    control(sim, "faults", {"errorRate": 1})
    assert call(sim, token, "POST", "/enrollment/user", json=body).status_code in (500, 502, 503)
    assert sim.state["users"] == []
    assert sim.state["calls"]["POST /enrollment/user"] == 2


def test_fault_limited_to_route_and_times(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = create_student(sim, token)
    control(sim, "faults", {"errorRate": 1, "routes": ["POST /assignments/v2/assign"], "times": 1})
    assert call(sim, token, "GET", "/test/edu-test-algebra-1/minimal").status_code == 200
    assert assign(sim, token, "edu-test-algebra-1", user_id).status_code >= 500
    assert assign(sim, token, "edu-test-algebra-1", user_id).status_code == 200


def test_timeout_fault_processes_the_request_then_answers_late(sim: EdulasticSimulator) -> None:
    token = login(sim)
    user_id = create_student(sim, token)
    control(sim, "faults", {"timeoutRate": 1, "timeoutSeconds": 2})
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sim.url}/assignments/v2/assign",
            json=assign_body("edu-test-algebra-1", user_id),
            headers={"Authorization": token},
            timeout=(2, 0.3),
        )
    assert len(sim.state["assignments"]) == 1  # the create happened
    control(sim, "faults", {})
    assert assign(sim, token, "edu-test-algebra-1", user_id).status_code == 409


def test_fault_config_is_validated(sim: EdulasticSimulator) -> None:
    assert control(sim, "faults", {"errorRate": 2}).status_code == 400
    assert control(sim, "faults", {"outage": "yes"}).status_code == 400
