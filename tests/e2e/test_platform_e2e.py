"""The service as a citizen of its platform, over HTTP: `make run` with ROSTER_SOURCE=timeback
pointed at a platform server that is NOT the project's simulator (a small one written here from
spec/timeback-platform.md alone), and EVENTS_WEBHOOK_URL at a receiver: the PowerPath routes
answer as with the table roster, the enrollment reaches the platform once, and the five kinds of
events arrive at the webhook in the EventBridge envelope with their fields."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.e2e.conftest import StackProcess, e2e_student, running_stack, write_roster
from tests.event_schemas import assert_valid_detail
from tests.support import assert_valid, wait_until

CLIENT, SECRET = "platform-client", "platform-secret"
EDU_TESTOUT = "lesson-edu-testout-math-g5"  # mastered → Math grade 6 track course
EDU_PLACEMENT = "lesson-edu-placement-math-g5"  # below threshold → courseIdOnFail
MT_UNIT = "lesson-mt-unit-math-g6"  # never finished → expires
ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]
WAIT = 30.0  # seconds the workflow and the webhook get to catch up


class Platform:
    """OneRoster reads, Subject Tracks, EduBridge enrollments and a client-credentials token,
    from the roster document; counts every enroll call per (user, course)."""

    def __init__(self, roster: dict[str, Any]) -> None:
        self.objects = {
            kind: {o["sourcedId"]: o for o in roster.get(name, [])}
            for kind, name in (
                ("users", "users"),
                ("component-resources", "componentResources"),
                ("resources", "resources"),
                ("courses", "courses"),
            )
        }
        self.tracks = [
            {
                "id": f"t{i}",
                "subject": t["subject"],
                "grade": t["grade"],
                "course": {"sourcedId": t["courseId"], "title": t["courseId"]},
                "org": {"sourcedId": t["orgSourcedId"], "name": ""} if t.get("orgSourcedId") else None,
            }
            for i, t in enumerate(roster.get("subjectTracks", []))
        ]
        self.enrollments: list[dict[str, Any]] = []
        self.enroll_calls: Counter[tuple[str, str]] = Counter()
        self.token = "tok-" + base64.urlsafe_b64encode(b"platform").decode()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        if request.path == "/token":
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (CLIENT, SECRET):
                return _json({"error": "invalid_client"}, 400)
            return _json({"access_token": self.token, "token_type": "Bearer", "expires_in": 3600})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"error": "unauthorized"}, 401)
        read = re.fullmatch(
            r"/ims/oneroster/(?:rostering|resources)/v1p2/(users|courses/component-resources|resources|courses)/([^/]+)",
            request.path,
        )
        if read and request.method == "GET":
            kind = read.group(1).removeprefix("courses/")
            found = self.objects[kind].get(read.group(2))
            if found is None:
                return _json({"imsx_codeMajor": "failure"}, 404)
            wrapper = {"users": "user", "component-resources": "componentResource"}.get(
                kind, kind.rstrip("s")
            )
            return _json({wrapper: found})
        if request.path == "/edubridge/subject-track/":
            return _json({"subjectTrack": self.tracks})
        listed = re.fullmatch(r"/edubridge/enrollments/user/([^/]+)", request.path)
        if listed:
            with self.lock:
                return _json({"data": [e for e in self.enrollments if e["user"] == listed.group(1)]})
        enroll = re.fullmatch(r"/edubridge/enrollments/enroll/([^/]+)/([^/]+)(?:/([^/]+))?", request.path)
        if enroll and request.method == "POST":
            user, course, school = enroll.groups()
            with self.lock:
                self.enroll_calls[(user, course)] += 1
                if user not in self.objects["users"] or course not in self.objects["courses"]:
                    return _json({"error": "not found"}, 404)
                made = {
                    "id": f"edubridge-{len(self.enrollments) + 1}",
                    "user": user,
                    "role": "student",
                    "course": {"id": course, "title": course},
                    "school": {"id": school, "name": ""},
                    "metadata": (request.get_json(silent=True) or {}).get("metadata"),
                }
                self.enrollments.append(made)  # like the real one, enrolling twice makes two
            return _json({"data": made}, 201)
        return _json({"error": "no such route"}, 404)


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append(json.loads(request.get_data()))
        return _json({"ok": True})(environ, start_response)

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.received if e["detail-type"] == detail_type]


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Platform, Webhook, str, str]]:
    roster = json.loads((Path(__file__).resolve().parents[2] / "local" / "demo_roster.json").read_text())
    platform, webhook = Platform(roster), Webhook()
    running = []
    for app in (platform, webhook):
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append(server)
    yield (
        platform,
        webhook,
        f"http://127.0.0.1:{running[0].server_port}",
        f"http://127.0.0.1:{running[1].server_port}",
    )
    for server in running:
        server.shutdown()


@pytest.fixture(scope="module")
def live(
    servers: tuple[Platform, Webhook, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    platform, webhook, platform_url, webhook_url = servers
    roster = write_roster(tmp_path_factory.mktemp("platform-roster"), prefix="live", count=3)
    document = json.loads(roster.read_text())
    platform.objects["users"].update({u["sourcedId"]: u for u in document["users"]})
    # The placement's fallback course is unknown to the platform: its enrollment fails for good.
    platform.objects["courses"].pop("course-math-g5-foundations")
    settings = {
        "ROSTER_SOURCE": "timeback",
        "TIMEBACK_API_URL": platform_url,
        "TIMEBACK_TOKEN_URL": f"{platform_url}/token",
        "TIMEBACK_CLIENT_ID": CLIENT,
        "TIMEBACK_CLIENT_SECRET": SECRET,
        "EVENTS_WEBHOOK_URL": f"{webhook_url}/events",
        "WORKFLOW_WAIT_SECONDS": "1",
        "CALLBACK_TIMEOUT_SECONDS": "1",
        "MASTERY_TRACK_DEADLINE_DAYS": str(4 / 86400),  # MasteryTrack attempts expire after 4 s
    }
    with running_stack(roster, settings) as stack:
        yield stack, platform, webhook


def _finish(
    stack: StackProcess, student: str, email: str, lesson: str, questions: list[dict[str, Any]]
) -> None:
    head = stack.head(student, lesson)
    assert head is not None
    stack.edulastic_control(
        "finish",
        {"assignmentId": head["assignment_id"], "email": email, "graded": "GRADED", "questions": questions},
    )


def test_routes_enrollments_and_events_with_the_live_platform(live: Any) -> None:
    stack, platform, webhook = live
    mastered, placed, idle = e2e_student(0, "live"), e2e_student(1, "live"), e2e_student(2, "live")

    # The roster comes from the platform: the same answers as with the table.
    assert stack.assign("nobody", EDU_TESTOUT).status_code == 404
    assert stack.assign(mastered.id, "lesson-quiz-math-g5").status_code == 422
    assigned = stack.assign(mastered.id, EDU_TESTOUT)
    assert assigned.status_code == 200, assigned.text
    assert_valid("/powerpath/makeExternalTestAssignment", "post", 200, assigned.json())
    assert assigned.json()["credentials"]["email"] == mastered.email
    for student, lesson in ((placed, EDU_PLACEMENT), (idle, MT_UNIT)):
        assert stack.assign(student.id, lesson).status_code == 200

    # Finished: the workflow finalizes and enrolls on the platform, once.
    _finish(stack, mastered.id, mastered.email, EDU_TESTOUT, ALL_CORRECT)
    _finish(stack, placed.id, placed.email, EDU_PLACEMENT, [{"index": i, "score": 0} for i in range(5)])
    wait_until(lambda: (stack.head(mastered.id, EDU_TESTOUT) or {}).get("enrollment") == "enrolled", WAIT)
    progress = stack.progress(mastered.id, EDU_TESTOUT).json()
    assert_valid("/powerpath/getAssessmentProgress", "get", 200, progress)
    assert (progress["finalized"], progress["enrollmentFailed"], progress["xp"]) == (True, False, 125.0)
    imported = stack.import_results(mastered.id, EDU_TESTOUT)
    assert_valid("/powerpath/importExternalTestAssignmentResults", "get", 200, imported.json())
    assert platform.enroll_calls[(mastered.id, "course-math-g6")] == 1
    assert [e["school"]["id"] for e in platform.enrollments if e["user"] == mastered.id] == ["org-school-1"]
    wait_until(lambda: (stack.head(placed.id, EDU_PLACEMENT) or {}).get("enrollment") == "failed", WAIT)
    assert stack.progress(placed.id, EDU_PLACEMENT).json()["enrollmentFailed"] is True
    wait_until(lambda: (stack.head(idle.id, MT_UNIT) or {}).get("status") == "expired", WAIT)

    # Every kind of event reaches the webhook, in the EventBridge envelope, with its fields.
    kinds = (
        "External Test Assigned",
        "External Test Finalized",
        "Student Enrolled",
        "Enrollment Failed",
        "External Test Expired",
    )
    wait_until(lambda: all(webhook.of(kind) for kind in kinds), WAIT)
    for envelope in webhook.received:
        assert {"version", "id", "detail-type", "source", "time", "detail"} <= set(envelope)
        assert envelope["source"] == "exttests"
        assert_valid_detail(envelope["detail-type"], envelope["detail"])
    (enrolled,) = [e for e in webhook.of("Student Enrolled") if e["detail"]["student"] == mastered.id]
    assert enrolled["detail"]["courseId"] == "course-math-g6"
    (failed,) = webhook.of("Enrollment Failed")
    assert failed["detail"]["student"] == placed.id and "refused" in failed["detail"]["reason"]
    (expired,) = webhook.of("External Test Expired")
    assert expired["detail"]["student"] == idle.id
    finalized = {e["detail"]["student"]: e["detail"] for e in webhook.of("External Test Finalized")}
    assert finalized[mastered.id]["score"] == 100 and finalized[mastered.id]["xp"] == 125
    # No event twice: each stored change has one id.
    ids = [e["detail"]["eventId"] for e in webhook.received]
    assert len(ids) == len(set(ids))
    assert stack.request("GET", "/_local/events", headers={}).json()["events"]
