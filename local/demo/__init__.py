"""The end-to-end demo: `python -m local.demo` (what `make demo` calls; local/demo/__main__.py).

Part 1 starts a LocalStack in-process (free port, short workflow waits, the roster file in the
table) and walks through both providers: assign a test, let the simulated student finish it on
the provider simulator, watch the finalization workflow (Step Functions on moto) finish on its
own, then read the progress and the enrollment. No client poll
(importExternalTestAssignmentResults) is made: the workflow does the importing.

Part 2 restarts the stack on the live path: the TimeBack platform simulator is the roster
(`ROSTER_SOURCE=timeback`), the enrollment is made on the platform (EduBridge), and every event
the service publishes is POSTed to a webhook receiver the demo starts.
Exits 0 on success, 1 with the failing step otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import boto3
import requests

from local.stack import REGION, LocalStack, Settings

TIMEOUT = 60.0  # seconds; bounds every wait so the demo never hangs
# How often the demo looks at the workflow: its steps take tenths of a second on the local stack.
POLL_SECONDS = 0.1
HTTP_TIMEOUT = 15.0
ADA, ADA_EMAIL = "student-ada", "ada.lovelace@students.example.com"
ALAN = "student-alan"
EDU_LESSON = "lesson-edu-testout-math-g5"  # 4 questions, max scores 1, 1, 2, 1
MT_LESSON = "lesson-mt-testout-math-g5"
# Edulastic polls on a timer: if the student is slower than the first wait, the workflow
# loops Wait → Poll → Decide more than once; MasteryTrack is woken once by the write-back.
_ENROLL = ["StartEnrollment", "Enroll", "EnrollmentDone", "Finalized"]
EDULASTIC_STATES = ["Route", "Wait", "Poll", "Decide", *_ENROLL]
MASTERY_TRACK_STATES = ["Route", "AwaitWriteBack", "Poll", "Decide", *_ENROLL]


class DemoError(Exception):
    """A step of the demo did not go as expected."""


class Demo:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.http = requests.Session()
        if stack.resources is None:
            raise DemoError("the stack started without its AWS resources")
        self.state_machine_arn = stack.resources.state_machine_arn
        self.table_name = stack.resources.table_name
        self.sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=stack.moto_endpoint)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=stack.moto_endpoint)
        self.step_no = 0

    # --- helpers ---

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n{self.step_no}. {title}", flush=True)

    @staticmethod
    def show(label: str, value: Any) -> None:
        print(f"   {label + ':':<18} {value}", flush=True)

    def call(self, method: str, url: str, expect: int = 200, **kwargs: Any) -> Any:
        answer = self.http.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
        if answer.status_code != expect:
            raise DemoError(f"{method} {url} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, self.stack.api_url + path, **kwargs)

    # --- steps ---

    def get_token(self) -> None:
        self.step("Get an access token (OAuth2 client credentials)")
        body = self.call(
            "POST",
            self.stack.token_url,
            auth=(self.stack.client_id, self.stack.client_secret),
            data={"grant_type": "client_credentials"},
        )
        self.http.headers["Authorization"] = f"Bearer {body['access_token']}"
        self.show("token URL", self.stack.token_url)
        self.show("token_type", body.get("token_type"))
        self.show("expires_in", body.get("expires_in"))

    def assign(self, student: str, lesson: str) -> dict[str, Any]:
        self.step(f"Assign {lesson} to {student}: POST /powerpath/makeExternalTestAssignment")
        body: dict[str, Any] = self.api(
            "POST", "/powerpath/makeExternalTestAssignment", json={"student": student, "lesson": lesson}
        )
        self.show("provider", body.get("toolProvider"))
        self.show("lessonType", body.get("lessonType"))
        self.show("attempt", body.get("attempt"))
        self.show("assignmentId", body.get("assignmentId"))
        self.show("testUrl", body.get("testUrl"))
        credentials = body.get("credentials")
        if credentials:
            self.show("credentials", f"returned for {credentials.get('email')}")
            self.show("password", f"(hidden, {len(credentials.get('password') or '')} chars)")
        else:
            self.show("credentials", "not returned (the service sets no password on this provider)")
        if not body.get("assignmentId"):
            raise DemoError("the assignment has no assignmentId")
        return body

    def finish_edulastic(self, assignment_id: str) -> None:
        self.step("The student finishes the test on the Edulastic simulator (all correct, GRADED)")
        max_scores = [1, 1, 2, 1]
        questions = [
            {"index": i, "score": m, "maxScore": m, "correct": True, "feedback": "Correct"}
            for i, m in enumerate(max_scores)
        ]
        body = {"assignmentId": assignment_id, "email": ADA_EMAIL, "graded": "GRADED", "questions": questions}
        answer = self.call("POST", self.stack.edulastic.app_url + "/_control/finish", json=body)
        self.show("test activity", answer.get("testActivityId"))
        self.show("scores", f"{sum(max_scores)}/{sum(max_scores)} over {len(questions)} questions")

    def finish_mastery_track(self, assignment_id: str) -> None:
        self.step("The student finishes the test on the MasteryTrack simulator (95, fully graded)")
        body = {
            "assignmentId": assignment_id,
            "score": 95,
            "totalQuestions": 20,
            "correctQuestions": 19,
            "scoreStatus": "fully graded",
            "processed": True,
        }
        answer = self.call("POST", self.stack.mastery_track.app_url + "/_control/finish", json=body)
        write_back = answer.get("writeBack") or {}
        self.show("write-back", f"PUT {write_back.get('url')}")
        self.show("write-back status", write_back.get("status"))
        if write_back.get("status") != 200:
            raise DemoError(f"the simulator's write-back to the service failed: {write_back}")

    def find_execution(self, student: str, lesson: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=self.state_machine_arn)
            for page in pages:
                for execution in page["executions"]:
                    arn = str(execution["executionArn"])
                    data = json.loads(self.sfn.describe_execution(executionArn=arn)["input"])
                    if data.get("student") == student and data.get("lesson") == lesson:
                        return arn
            time.sleep(POLL_SECONDS)
        raise DemoError(f"no workflow execution for {student} / {lesson} within {TIMEOUT:.0f} s")

    def history(self, arn: str) -> list[dict[str, Any]]:
        return list(self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])

    @staticmethod
    def entered_states(events: list[dict[str, Any]]) -> list[str]:
        return [str(e["stateEnteredEventDetails"]["name"]) for e in events if "stateEnteredEventDetails" in e]

    @staticmethod
    def callback_outcome(events: list[dict[str, Any]]) -> str | None:
        """How the AwaitWriteBack task ended (TaskSucceeded = woken by the write-back)."""
        entered = next(
            (e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "AwaitWriteBack"), None
        )
        if entered is None:
            return None
        ends = ("TaskSucceeded", "TaskTimedOut", "TaskFailed")
        end = next((e for e in events if e["id"] > entered["id"] and e["type"] in ends), None)
        if end is None:
            return "still waiting"
        took = (end["timestamp"] - entered["timestamp"]).total_seconds()
        return f"{end['type']} {took:.2f} s after AwaitWriteBack was entered"

    @staticmethod
    def print_history(events: list[dict[str, Any]]) -> None:
        print("   execution history:", flush=True)
        for event in events:
            details = {k: v for k, v in event.items() if k.endswith("EventDetails")}
            print(f"     {event['id']:>3} {event['type']:<24} {json.dumps(details, default=str)[:200]}")

    def await_workflow(self, student: str, lesson: str, expected: list[str]) -> None:
        self.step("Wait for the finalization workflow (Step Functions on moto; no client poll)")
        arn = self.find_execution(student, lesson)
        self.show("execution", arn.rsplit(":", 1)[-1])
        started = time.monotonic()
        status = "RUNNING"
        while time.monotonic() - started < TIMEOUT:
            status = str(self.sfn.describe_execution(executionArn=arn)["status"])
            if status != "RUNNING":
                break
            time.sleep(POLL_SECONDS)
        events = self.history(arn)
        states = self.entered_states(events)
        self.show("status", f"{status} after {time.monotonic() - started:.1f} s")
        self.show("states", " → ".join(states))
        callback = self.callback_outcome(events)
        if callback is not None:
            self.show("callback", callback)
        if status != "SUCCEEDED":
            self.print_history(events)
            raise DemoError(f"the workflow is {status}, not SUCCEEDED, after {TIMEOUT:.0f} s")
        # A slow student may add Wait → Poll → Decide rounds; collapse repeats before comparing.
        loop = ["Decide", "Wait", "Poll"]
        collapsed = list(states)
        while expected[1] == "Wait" and collapsed[3:6] == loop:
            del collapsed[3:6]
        woken = callback is None or callback.startswith("TaskSucceeded")
        if collapsed != expected or not woken:
            self.print_history(events)
            raise DemoError(f"unexpected states {' → '.join(states)}; expected {' → '.join(expected)}")

    def progress_and_enrollment(self, student: str, lesson: str, course: str) -> None:
        self.step("Read the result: GET /powerpath/getAssessmentProgress and the enrollment in DynamoDB")
        query = {"student": student, "lesson": lesson}
        body = self.api("GET", "/powerpath/getAssessmentProgress", params=query)
        for key in ("finalized", "score", "accuracy", "xp", "multiplier", "enrollmentFailed"):
            self.show(key, body.get(key))
        items = self.dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": f"USER#{student}"}, ":sk": {"S": "ENROLLMENT#"}},
        )["Items"]
        courses = [item["SK"]["S"].removeprefix("ENROLLMENT#") for item in items]
        self.show("enrollments", ", ".join(courses) or "(none)")
        if body.get("finalized") is not True:
            raise DemoError("the attempt is not finalized")
        if body.get("enrollmentFailed") is not False:
            raise DemoError(f"enrollmentFailed is {body.get('enrollmentFailed')!r}")
        if course not in courses:
            raise DemoError(f"{student} is not enrolled in {course}")

    def run(self) -> None:
        self.get_token()
        edu = self.assign(ADA, EDU_LESSON)
        self.finish_edulastic(str(edu["assignmentId"]))
        self.await_workflow(ADA, EDU_LESSON, EDULASTIC_STATES)
        self.progress_and_enrollment(ADA, EDU_LESSON, "course-math-g6")
        mt = self.assign(ALAN, MT_LESSON)
        self.finish_mastery_track(str(mt["assignmentId"]))
        self.await_workflow(ALAN, MT_LESSON, MASTERY_TRACK_STATES)
        self.progress_and_enrollment(ALAN, MT_LESSON, "course-math-g6")

    def run_live(self, webhook: Webhook) -> None:
        """The same Edulastic test on the live path: roster and enrollment on the platform."""
        self.get_token()
        edu = self.assign(ADA, EDU_LESSON)
        self.finish_edulastic(str(edu["assignmentId"]))
        self.await_workflow(ADA, EDU_LESSON, EDULASTIC_STATES)
        self.step("The enrollment arrived on the platform (EduBridge on the TimeBack simulator)")
        state = self.call("GET", self.stack.timeback.app_url + "/_control/state")
        mine = [e for e in state["enrollments"] if e.get("userId") == ADA]
        for enrollment in mine:
            self.show(
                "enrollment", f"{enrollment['courseId']} at {enrollment['school']['id']} ({enrollment['id']})"
            )
        if [e["courseId"] for e in mine] != ["course-math-g6"]:
            raise DemoError(f"expected one platform enrollment in course-math-g6, found {mine}")
        self.step("The events the webhook received (EventBridge envelope, POSTed by the stack)")
        wanted = ["External Test Assigned", "External Test Finalized", "Student Enrolled"]
        received = webhook.wait_for(wanted, TIMEOUT)
        for envelope in received:
            detail = envelope["detail"]
            self.show(envelope["detail-type"], f"eventId {detail['eventId']} student {detail['student']}")
        missing = set(wanted) - {e["detail-type"] for e in received}
        if missing:
            raise DemoError(f"the webhook did not receive {sorted(missing)}")


class Webhook:
    """A receiver for the stack's events webhook (EVENTS_WEBHOOK_URL)."""

    def __init__(self) -> None:
        from werkzeug.serving import make_server

        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/events"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from werkzeug.wrappers import Request, Response

        with self._lock:
            self.received.append(json.loads(Request(environ).get_data()))
        return Response("{}", content_type="application/json")(environ, start_response)

    def wait_for(self, detail_types: list[str], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                seen = list(self.received)
            if set(detail_types) <= {e["detail-type"] for e in seen}:
                return seen
            time.sleep(0.1)
        return seen

    def stop(self) -> None:
        self._server.shutdown()


def _part(title: str, settings: Settings, play: Any) -> None:
    print(f"\n=== {title} ===\nStarting the local stack (moto, handlers, simulators) ...", flush=True)
    stack = LocalStack(settings)
    demo: Demo | None = None
    try:
        stack.start()
        print(f"   API {stack.api_url}   moto {stack.moto_endpoint}", flush=True)
        demo = Demo(stack)
        play(demo)
    except Exception as error:
        where = f" at step {demo.step_no}" if demo is not None else " while starting the stack"
        raise DemoError(f"{title}{where}: {type(error).__name__}: {error}") from error
    finally:
        stack.stop()


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    webhook = Webhook()

    def quick(**changes: Any) -> Settings:
        return Settings(
            port=0, workflow_wait_seconds="1,1,2", callback_timeout_seconds=60, log_level="WARNING", **changes
        )

    try:
        _part("Part 1: the roster file in the table", quick(), Demo.run)
        live = quick(roster_source="timeback", events_webhook_url=webhook.url)
        _part(
            "Part 2: the live platform (TimeBack simulator) and the events webhook",
            live,
            lambda d: d.run_live(webhook),
        )
    except Exception as error:  # report any failure as the demo's outcome
        print(f"\ndemo FAILED {error}", flush=True)
        return 1
    finally:
        webhook.stop()
    print(f"\ndemo succeeded in {time.monotonic() - started:.1f} s", flush=True)
    return 0
