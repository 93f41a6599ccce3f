"""The MasteryTrack simulator over real HTTP on 127.0.0.1, including its OneRoster write-back."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from local.simulators.mastery_track import MasteryTrackSimulator, create_mastery_track_simulator

API_KEY = "mt-api-key-1"
API_EMAIL = "api@example.test"
CLIENT_ID = "writer-client"
CLIENT_SECRET = "writer-secret"
RESULTS_PATH = "/ims/oneroster/gradebook/v1p2/assessmentResults/"


class FakeService:
    """Plays the OAuth token endpoint and the OneRoster PUT target the simulator writes back to."""

    def __init__(self) -> None:
        self.token_requests: list[dict[str, Any]] = []
        self.puts: list[dict[str, Any]] = []
        self.put_statuses: list[int] = []  # consumed one per PUT; 200 once empty
        self.tokens_issued = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_POST(self) -> None:
                form = parse_qs(self._body().decode())
                fake.token_requests.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization"), "form": form}
                )
                fake.tokens_issued += 1
                self._answer(
                    200,
                    {"access_token": f"at-{fake.tokens_issued}", "token_type": "Bearer", "expires_in": 3600},
                )

            def do_PUT(self) -> None:
                body = json.loads(self._body())
                fake.puts.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
                )
                status = fake.put_statuses.pop(0) if fake.put_statuses else 200
                if status >= 400:
                    self._answer(status, {"imsx_codeMajor": "failure", "imsx_description": "nope"})
                else:
                    self._answer(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def reset(self) -> None:
        self.token_requests.clear()
        self.puts.clear()
        self.put_statuses.clear()
        self.tokens_issued = 0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def running_service() -> Iterator[FakeService]:
    s = FakeService()
    yield s
    s.stop()


@pytest.fixture
def service(running_service: FakeService) -> FakeService:
    """The module's fake service with nothing recorded (one server for all: starting and stopping
    one per test cost more than the tests)."""
    running_service.reset()
    return running_service


@pytest.fixture
def sim(service: FakeService) -> Iterator[MasteryTrackSimulator]:
    s = create_mastery_track_simulator(
        api_key=API_KEY,
        api_email=API_EMAIL,
        writeback_base_url=service.url,
        token_url=f"{service.url}/oauth2/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    ).start()
    yield s
    s.stop()


def jwt(sim: MasteryTrackSimulator) -> str:
    r = requests.post(
        f"{sim.url}/authorizer", json={"email": API_EMAIL}, headers={"x-api-key": API_KEY}, timeout=5
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    return body["jwt"]


def api(sim: MasteryTrackSimulator, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"X-Auth-Token": f"Bearer {token}"}
    return requests.request(method, f"{sim.url}{path}", headers=headers, timeout=5, **kw)


def control(sim: MasteryTrackSimulator, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    if body is None:
        return requests.get(f"{sim.app_url}/_control/{path}", timeout=5)
    return requests.post(f"{sim.app_url}/_control/{path}", json=body, timeout=10)


def assign_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "student_email": "kid@example.test",
        "timeback_id": "mt-math-g5",
        "assessment_line_item_sourced_id": "ali-1",
        "assessment_result_sourced_id": "ar-1",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def assign(sim: MasteryTrackSimulator, token: str, **overrides: Any) -> requests.Response:
    return api(sim, token, "POST", "/delivery/assignments/assign", json=assign_body(**overrides))


def test_url_includes_stage(sim: MasteryTrackSimulator) -> None:
    assert sim.url == f"http://127.0.0.1:{sim.port}/prod"


def test_authorizer_rejects_wrong_key_or_email(sim: MasteryTrackSimulator) -> None:
    r = requests.post(
        f"{sim.url}/authorizer", json={"email": API_EMAIL}, headers={"x-api-key": "x"}, timeout=5
    )
    assert r.status_code == 401
    assert r.json() == {"success": False, "error": r.json()["error"], "code": "UNAUTHORIZED"}
    r = requests.post(
        f"{sim.url}/authorizer",
        json={"email": "other@example.test"},
        headers={"x-api-key": API_KEY},
        timeout=5,
    )
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/authoring/inventory/search"),
        ("POST", "/delivery/assignments/assign"),
        ("POST", "/delivery/assignments/invalidate"),
    ],
)
def test_routes_require_a_bearer_jwt(sim: MasteryTrackSimulator, method: str, path: str) -> None:
    token = jwt(sim)
    assert requests.request(method, f"{sim.url}{path}", json={}, timeout=5).status_code == 401
    raw = requests.request(method, f"{sim.url}{path}", json={}, headers={"X-Auth-Token": token}, timeout=5)
    assert raw.status_code == 401  # the "Bearer " prefix is required
    assert api(sim, "forged", method, path, json={}).status_code == 401


def test_jwt_expires_after_an_hour_and_on_control(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    assert api(sim, token, "GET", "/authoring/inventory/search").status_code == 200
    control(sim, "advance-clock", {"seconds": 3599})
    assert api(sim, token, "GET", "/authoring/inventory/search").status_code == 200
    control(sim, "advance-clock", {"seconds": 2})
    assert api(sim, token, "GET", "/authoring/inventory/search").status_code == 401
    fresh = jwt(sim)
    assert control(sim, "expire-tokens", {}).status_code == 200
    assert api(sim, fresh, "GET", "/authoring/inventory/search").status_code == 401


def test_injected_clock_drives_expiry(service: FakeService) -> None:
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    s = create_mastery_track_simulator(
        api_key=API_KEY,
        api_email=API_EMAIL,
        writeback_base_url=None,
        token_url=None,
        client_id=None,
        client_secret=None,
        stage="dev",
        clock=lambda: now[0],
    ).start()
    try:
        assert s.url.endswith("/dev")
        token = jwt(s)
        r = assign(s, token)
        assert r.json()["data"]["assignment"]["expires_at"] == "2026-01-31T00:00:00.000Z"
        now[0] += timedelta(hours=1, seconds=1)
        assert api(s, token, "GET", "/authoring/inventory/search").status_code == 401
    finally:
        s.stop()


def test_inventory_search(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    r = api(sim, token, "GET", "/authoring/inventory/search", params={"subject": "Math", "grade": "5"})
    [item] = r.json()["data"]
    assert item["timeback_id"] == "mt-math-g5" and item["grade_rank"] == 5 and item["supported"] is True
    r = api(sim, token, "GET", "/authoring/inventory/search", params={"timeback_id": "mt-science-g4"})
    assert r.json()["data"][0]["supported"] is False
    everything = api(sim, token, "GET", "/authoring/inventory/search").json()["data"]
    assert len(everything) == 13


def test_assign_happy_path_conflict_and_invalidate(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    r = assign(sim, token)
    assert r.status_code == 201, r.text
    a = r.json()["data"]["assignment"]
    assert a["status"] == "ASSIGNED" and a["student_email"] == "kid@example.test"
    assert a["test_url"] == f"{sim.app_url}/take/{a['id']}"
    assert a["test_name"] == "Math Grade 5 Test-Out" and a["expires_at"]
    assert requests.get(a["test_url"], timeout=5).status_code == 200

    r = assign(sim, token, assessment_result_sourced_id="ar-2")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "ASSIGNMENT_EXISTS" and body["success"] is False
    assert body["data"]["existing_assignment"]["id"] == a["id"]

    r = api(
        sim,
        token,
        "POST",
        "/delivery/assignments/invalidate",
        json={"student_email": "kid@example.test", "assignment_id": a["id"]},
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    r = assign(sim, token, assessment_result_sourced_id="ar-2")
    assert r.status_code == 201
    state = control(sim, "state").json()
    assert [i["assignment_id"] for i in state["invalidations"]] == [a["id"]]
    assert {x["status"] for x in state["assignments"]} == {"INVALIDATED", "ASSIGNED"}


def test_assign_by_subject_and_grade_rank(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    r = assign(sim, token, timeback_id=None, subject="Reading", grade_rank=7)
    assert r.status_code == 201
    assert r.json()["data"]["assignment"]["test_name"] == "Reading Grade 7 Test-Out"


def test_assign_errors(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    r = assign(sim, token, assessment_result_sourced_id=None)
    assert r.status_code == 400 and r.json()["code"] == "MISSING_PARAMETER"
    r = assign(sim, token, timeback_id=None, subject="Math")
    assert r.status_code == 400 and r.json()["code"] == "MISSING_PARAMETER"
    r = assign(sim, token, timeback_id="mt-nope")
    assert r.status_code == 404 and r.json()["code"] == "TEST_NOT_FOUND"
    r = assign(sim, token, timeback_id=None, subject="Math", grade_rank=12)
    assert r.status_code == 404 and r.json()["code"] == "TEST_NOT_FOUND"
    r = assign(sim, token, timeback_id="mt-science-g4")
    assert r.status_code == 422 and r.json()["code"] == "TEST_NOT_SUPPORTED"
    r = api(
        sim,
        token,
        "POST",
        "/delivery/assignments/invalidate",
        json={"student_email": "ghost@example.test", "assignment_id": "x"},
    )
    assert r.status_code == 404 and r.json()["code"] == "USER_NOT_FOUND"
    assert control(sim, "state").json()["assignments"] == []


def test_finish_writes_back_to_the_service(sim: MasteryTrackSimulator, service: FakeService) -> None:
    token = jwt(sim)
    a = assign(sim, token).json()["data"]["assignment"]
    r = control(
        sim,
        "finish",
        {
            "assignmentId": a["id"],
            "score": 85,
            "totalQuestions": 20,
            "correctQuestions": 17,
            "questions": [{"id": "q1", "score": 1, "correct": True, "feedback": ""}],
            "comment": "well done",
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["writeBack"]["status"] == 200
    assert out["writeBack"]["body"]["assessmentResult"]["sourcedId"] == "ar-1"
    assert out["assignment"]["status"] == "COMPLETED"

    [tok] = service.token_requests
    assert tok["path"] == "/oauth2/token"
    assert tok["form"] == {"grant_type": ["client_credentials"]}
    assert (
        tok["authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )

    [put] = service.puts
    assert put["path"] == RESULTS_PATH + "ar-1"
    assert put["authorization"] == "Bearer at-1"
    result = put["body"]["assessmentResult"]
    assert "student" not in result
    assert result["sourcedId"] == "ar-1" and result["status"] == "active"
    assert result["assessmentLineItem"] == {"sourcedId": "ali-1"}
    assert result["score"] == 85 and result["scoreStatus"] == "fully graded"
    assert result["comment"] == "well done"
    assert result["scoreDate"].endswith("Z") and "T" in result["scoreDate"]
    assert result["metadata"] == {
        "masteryTrackProcessed": True,
        "totalQuestions": 20,
        "correctQuestions": 17,
        "testName": "Math Grade 5 Test-Out",
        "assignmentId": a["id"],
        "questions": [{"id": "q1", "score": 1, "correct": True, "feedback": ""}],
    }
    [wb] = control(sim, "state").json()["writeBacks"]
    assert wb["status"] == 200 and wb["assignmentId"] == a["id"]
    # a completed assignment no longer blocks a new one
    assert assign(sim, token, assessment_result_sourced_id="ar-2").status_code == 201


def test_finish_without_score_and_not_processed(sim: MasteryTrackSimulator, service: FakeService) -> None:
    token = jwt(sim)
    a = assign(sim, token).json()["data"]["assignment"]
    control(
        sim,
        "finish",
        {
            "assignmentId": a["id"],
            "totalQuestions": 10,
            "correctQuestions": 4,
            "scoreStatus": "partially graded",
            "processed": False,
        },
    )
    result = service.puts[0]["body"]["assessmentResult"]
    assert "score" not in result
    assert result["scoreStatus"] == "partially graded"
    assert result["metadata"]["masteryTrackProcessed"] is False
    assert "questions" not in result["metadata"]


def test_write_back_retries_5xx_and_reuses_the_token(
    sim: MasteryTrackSimulator, service: FakeService
) -> None:
    token = jwt(sim)
    a = assign(sim, token).json()["data"]["assignment"]
    service.put_statuses = [503, 502]
    out = control(sim, "finish", {"assignmentId": a["id"], "totalQuestions": 1, "correctQuestions": 1}).json()
    assert out["writeBack"]["status"] == 200 and out["writeBack"]["attempts"] == 3
    assert len(service.puts) == 3 and len(service.token_requests) == 1

    service.put_statuses = [500, 500, 500, 500]
    out = control(sim, "finish", {"assignmentId": a["id"], "totalQuestions": 1, "correctQuestions": 1}).json()
    assert out["writeBack"]["status"] == 500 and out["writeBack"]["attempts"] == 4


def test_write_back_reports_client_errors_without_retrying(
    sim: MasteryTrackSimulator, service: FakeService
) -> None:
    token = jwt(sim)
    a = assign(sim, token).json()["data"]["assignment"]
    service.put_statuses = [404]
    out = control(sim, "finish", {"assignmentId": a["id"], "totalQuestions": 1, "correctQuestions": 0}).json()
    assert out["writeBack"]["status"] == 404
    assert out["writeBack"]["body"]["imsx_codeMajor"] == "failure"
    assert len(service.puts) == 1


def test_write_back_refreshes_the_token_once_on_401(sim: MasteryTrackSimulator, service: FakeService) -> None:
    token = jwt(sim)
    a = assign(sim, token).json()["data"]["assignment"]
    service.put_statuses = [401]
    out = control(sim, "finish", {"assignmentId": a["id"], "totalQuestions": 1, "correctQuestions": 1}).json()
    assert out["writeBack"]["status"] == 200
    assert [p["authorization"] for p in service.puts] == ["Bearer at-1", "Bearer at-2"]


def test_finish_without_write_back(sim: MasteryTrackSimulator, service: FakeService) -> None:
    token = jwt(sim)
    a = assign(sim, token).json()["data"]["assignment"]
    out = control(
        sim,
        "finish",
        {"assignmentId": a["id"], "totalQuestions": 1, "correctQuestions": 1, "writeBack": False},
    ).json()
    assert out["writeBack"] is None and service.puts == []
    assert (
        control(
            sim, "finish", {"assignmentId": "nope", "totalQuestions": 1, "correctQuestions": 1}
        ).status_code
        == 404
    )


def test_faults_seeded_rate_limit_outage_and_no_state_change(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)

    def run() -> list[int]:
        control(sim, "faults", {"errorRate": 0.3, "seed": 7, "routes": ["GET /authoring/inventory/search"]})
        return [api(sim, token, "GET", "/authoring/inventory/search").status_code for _ in range(15)]

    first = run()
    assert first == run() and 200 in first and any(s >= 500 for s in first)

    control(sim, "faults", {"rateLimitRate": 1, "retryAfter": 3})
    r = assign(sim, token)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"

    control(sim, "faults", {"outage": True})
    assert assign(sim, token).status_code == 503
    r = requests.post(
        f"{sim.url}/authorizer", json={"email": API_EMAIL}, headers={"x-api-key": API_KEY}, timeout=5
    )
    assert r.status_code == 503
    state = control(sim, "state").json()
    assert state["assignments"] == [] and state["students"] == []
    assert state["calls"]["POST /delivery/assignments/assign"] == 2

    control(sim, "reset", {})
    state = control(sim, "state").json()
    assert state["calls"] == {} and state["faults"]["outage"] is False
    assert assign(sim, token).status_code == 201  # JWTs survive a reset


def test_timeout_fault_creates_then_answers_late(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    control(sim, "faults", {"timeoutRate": 1, "timeoutSeconds": 2})
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sim.url}/delivery/assignments/assign",
            json=assign_body(),
            headers={"X-Auth-Token": f"Bearer {token}"},
            timeout=(2, 0.3),
        )
    control(sim, "faults", {})
    r = assign(sim, token)
    assert (
        r.status_code == 409
        and r.json()["data"]["existing_assignment"]["student_email"] == "kid@example.test"
    )


def test_control_inventory_adds_a_test(sim: MasteryTrackSimulator) -> None:
    token = jwt(sim)
    r = control(
        sim, "inventory", {"timeback_id": "mt-math-g9", "name": "Algebra", "subject": "Math", "grade_rank": 9}
    )
    assert r.status_code == 200
    assert assign(sim, token, timeback_id=None, subject="math", grade_rank=9).status_code == 201
