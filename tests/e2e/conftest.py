"""End-to-end fixtures: the whole local stack (`python -m local.stack`) as a subprocess, driven over HTTP.

The stack runs with parked workflows (WORKFLOW_WAIT_SECONDS / CALLBACK_TIMEOUT_SECONDS = 3600) so a
test decides when results are imported, without the scheduled sweeper unless a test sets
SWEEPER_INTERVAL_SECONDS, and with a roster of its own: the demo roster plus generated students
`student-e2e-0..39`, one per test, so no two tests share state. Its functions run in worker
processes (`local.workers`); `StackProcess.invocations` reads what ran where.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.support import DEMO_ROSTER, ROOT, free_port

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 30.0
E2E_STUDENTS = 40
POWERPATH_SCOPE = "exttests/powerpath"
WRITEBACK_SCOPE = "exttests/writeback"
WRITEBACK_PATH = "/ims/oneroster/gradebook/v1p2/assessmentResults/{}"


@dataclass(frozen=True)
class Student:
    id: str
    email: str


def e2e_student(n: int, prefix: str = "e2e") -> Student:
    return Student(f"student-{prefix}-{n}", f"{prefix}-{n}@students.example.com")


def write_roster(directory: Path, prefix: str = "e2e", count: int = E2E_STUDENTS) -> Path:
    """The demo roster plus `count` students of our own, so tests do not share state."""
    roster = json.loads(DEMO_ROSTER.read_text(encoding="utf-8"))
    for n in range(count):
        student = e2e_student(n, prefix)
        roster["users"].append(
            {
                "sourcedId": student.id,
                "status": "active",
                "dateLastModified": "2025-01-06T00:00:00.000Z",
                "enabledUser": True,
                "givenName": prefix.capitalize(),
                "familyName": f"Student {n}",
                "email": student.email,
                "roles": [{"roleType": "primary", "role": "student", "org": {"sourcedId": "org-school-1"}}],
                "primaryOrg": {"sourcedId": "org-school-1"},
                "grades": ["5"],
            }
        )
    path = directory / "roster.json"
    path.write_text(json.dumps(roster, indent=2), encoding="utf-8")
    return path


@dataclass
class StackProcess:
    """The running `python -m local.stack` and everything a test needs to talk to it."""

    process: subprocess.Popen[str]
    output: list[str]
    api_url: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    moto_url: str = ""
    edulastic_url: str = ""  # provider API base (…/api)
    mastery_track_url: str = ""  # provider API base (…/prod)
    _tokens: dict[str | None, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)
    _table: str = ""

    # --- the stack's own output ---

    def parse_banner(self) -> None:
        values: dict[str, str] = {}
        for line in self.output:
            key, sep, value = line.partition(":")
            if sep and value.strip():
                values[key.strip()] = value.strip()
        self.api_url = values["API"]
        self.token_url = values["Token URL"]
        self.client_id = values["Client id"]
        self.client_secret = values["Client secret"]
        self.moto_url = values["moto"]
        # "<root>  (API <base>)": the simulators' control routes live at the root.
        self.edulastic_url = values["Edulastic sim"].split("(API ")[-1].rstrip(")")
        self.mastery_track_url = values["MasteryTrack sim"].split("(API ")[-1].rstrip(")")

    def text(self) -> str:
        return "".join(self.output)

    @property
    def edulastic_root(self) -> str:
        return self.edulastic_url.removesuffix("/api")

    @property
    def mastery_track_root(self) -> str:
        return self.mastery_track_url.rsplit("/", 1)[0]

    # --- OAuth2 ---

    def request_token(self, scope: str | None = None) -> requests.Response:
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        return requests.post(
            self.token_url, data=data, auth=(self.client_id, self.client_secret), timeout=HTTP_TIMEOUT
        )

    def token(self, scope: str | None = None) -> str:
        """An access token of the local client (every scope, or only `scope`)."""
        if scope not in self._tokens:
            answer = self.request_token(scope)
            assert answer.status_code == 200, answer.text
            self._tokens[scope] = answer.json()["access_token"]
        return self._tokens[scope]

    def headers(self, token: str | None = "default") -> dict[str, str]:
        if token == "default":
            token = self.token()
        return {"Authorization": f"Bearer {token}"} if token is not None else {}

    # --- the API ---

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        return requests.request(
            method,
            self.api_url + path,
            headers=self.headers() if headers is None else headers,
            timeout=HTTP_TIMEOUT,
            **kwargs,
        )

    def assign(self, student: str, lesson: str, **extra: Any) -> requests.Response:
        return self.request(
            "POST",
            "/powerpath/makeExternalTestAssignment",
            json={"student": student, "lesson": lesson, **extra},
        )

    def import_results(self, student: str, lesson: str) -> requests.Response:
        return self.request(
            "GET",
            "/powerpath/importExternalTestAssignmentResults",
            params={"student": student, "lesson": lesson},
        )

    def progress(self, student: str, lesson: str, attempt: int | None = None) -> requests.Response:
        params: dict[str, Any] = {"student": student, "lesson": lesson}
        if attempt is not None:
            params["attempt"] = str(attempt)
        return self.request("GET", "/powerpath/getAssessmentProgress", params=params)

    def get_result(self, sourced_id: str) -> requests.Response:
        return self.request("GET", WRITEBACK_PATH.format(sourced_id))

    def invocations(self, function: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        """The stack's recorded invocations (local-only route): function, pid, start/end, outcome."""
        answer = requests.get(
            self.api_url + "/_local/invocations",
            params={"function": function} if function else None,
            timeout=HTTP_TIMEOUT,
        )
        answer.raise_for_status()
        return [i for i in answer.json()["invocations"] if i["start"] >= since]

    # --- simulators (control routes, no auth) ---

    def edulastic_control(self, route: str, body: dict[str, Any]) -> Any:
        answer = requests.post(f"{self.edulastic_root}/_control/{route}", json=body, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def edulastic_state(self) -> dict[str, Any]:
        answer = requests.get(f"{self.edulastic_root}/_control/state", timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def edulastic_assignments_of(self, email: str) -> list[dict[str, Any]]:
        state = self.edulastic_state()
        user_ids = {u["_id"] for u in state["users"] if u["email"] == email}
        return [
            a
            for a in state["assignments"]
            if any(user_ids.intersection(cls["students"]) for cls in a["class"])
        ]

    def mastery_track_control(self, route: str, body: dict[str, Any]) -> Any:
        answer = requests.post(f"{self.mastery_track_root}/_control/{route}", json=body, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def mastery_track_state(self) -> dict[str, Any]:
        answer = requests.get(f"{self.mastery_track_root}/_control/state", timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def mastery_track_assignments_of(self, email: str) -> list[dict[str, Any]]:
        return [a for a in self.mastery_track_state()["assignments"] if a["student_email"] == email]

    # --- moto (the service's DynamoDB table and Step Functions) ---

    def aws(self, service: str) -> Any:
        """A client of the stack's moto server, one per service (the polling loops ask often)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.moto_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                aws_session_token="testing",
            )
        return self._clients[service]

    @property
    def dynamodb(self) -> Any:
        return self.aws("dynamodb")

    @property
    def table(self) -> str:
        if not self._table:
            names = self.dynamodb.list_tables()["TableNames"]
            assert len(names) == 1, names
            self._table = names[0]
        return self._table

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        values = {":pk": {"S": pk}}
        condition = "PK = :pk"
        if sk_prefix:
            condition += " AND begins_with(SK, :sk)"
            values[":sk"] = {"S": sk_prefix}
        answer = self.dynamodb.query(
            TableName=self.table, KeyConditionExpression=condition, ExpressionAttributeValues=values
        )
        items: list[dict[str, Any]] = answer["Items"]
        return items

    def enrollments(self, student: str) -> list[str]:
        return [
            item["SK"]["S"].removeprefix("ENROLLMENT#")
            for item in self.query(f"USER#{student}", "ENROLLMENT#")
        ]

    def result_items(self, student: str, lesson: str) -> list[dict[str, Any]]:
        return self.query(f"RESULT#{len(student)}:{student}#{lesson}")

    def head(self, student: str, lesson: str) -> dict[str, Any] | None:
        for item in self.result_items(student, lesson):
            if item["SK"]["S"] == "HEAD":
                doc: dict[str, Any] = json.loads(item["doc"]["S"])
                return doc
        return None

    def wait_for_callback(self, student: str, lesson: str, timeout: float = 15.0) -> dict[str, Any]:
        """The MasteryTrack workflow stores its task token on the attempt shortly after assign."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head = self.head(student, lesson)
            if head is not None and head.get("task_token"):
                return head
            time.sleep(0.05)
        raise AssertionError(f"the workflow of {student}/{lesson} did not register its callback")

    def executions(self, student: str, lesson: str) -> list[dict[str, Any]]:
        sfn = self.aws("stepfunctions")
        found = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"]
            ):
                for execution in page["executions"]:
                    described = sfn.describe_execution(executionArn=execution["executionArn"])
                    given = json.loads(described.get("input") or "{}")
                    if given.get("student") == student and given.get("lesson") == lesson:
                        found.append(described)
        return found


def max_concurrency(invocations: list[dict[str, Any]]) -> int:
    """The largest number of these invocations that were running at the same moment."""
    edges = sorted([(i["start"], 1) for i in invocations] + [(i["end"], -1) for i in invocations])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


def _reader(stream: Any, output: list[str], ready: threading.Event) -> None:
    for line in iter(stream.readline, ""):
        output.append(line)
        if line.strip() == "ready":
            ready.set()
    stream.close()


@contextmanager
def running_stack(roster: Path, settings: dict[str, str]) -> Iterator[StackProcess]:
    """`python -m local.stack` with `settings` on top of the environment, stopped by SIGTERM;
    it must stop within STOP_TIMEOUT with exit code 0."""
    # A developer's own settings for `make run` must not reach the tests' stacks.
    dropped = ("EDULASTIC_BASE_URL", "MASTERY_TRACK_BASE_URL", "LOCAL_CLIENT_ID", "LOCAL_CLIENT_SECRET")
    dropped += ("LOCAL_STATE_DIR", "LOCAL_WORKERS_PER_FUNCTION", "ROSTER_SOURCE", "EVENTS_WEBHOOK_URL")
    dropped += ("TIMEBACK_API_URL", "TIMEBACK_TOKEN_URL", "TIMEBACK_CLIENT_ID", "TIMEBACK_CLIENT_SECRET")
    env = {
        **{name: value for name, value in os.environ.items() if name not in dropped},
        "PORT": str(free_port()),
        "MOTO_PORT": str(free_port()),
        "EDULASTIC_SIM_PORT": str(free_port()),
        "MASTERY_TRACK_SIM_PORT": str(free_port()),
        "LOG_LEVEL": "WARNING",
        "SWEEPER_INTERVAL_SECONDS": "0",
        "ROSTER_FILE": str(roster),
        "PYTHONUNBUFFERED": "1",
        # Announced next to its roster, not in the repository's .local-state/.
        "LOCAL_STACK_FILE": str(roster.parent / "stack.json"),
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    output: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(target=_reader, args=(process.stdout, output, ready), daemon=True)
    reader.start()
    running = StackProcess(process, output)

    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            exited = process.poll()
            if exited is None:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
            reader.join(timeout=5)
            reason = (
                f"exited with code {exited}"
                if exited is not None
                else f"not ready after {READY_TIMEOUT:.0f} s"
            )
            pytest.fail(f"local stack {reason}; its output:\n{running.text()}", pytrace=False)
    running.parse_banner()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
            reader.join(timeout=5)
            pytest.fail(
                f"local stack did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM; output:\n{running.text()}",
                pytrace=False,
            )
        reader.join(timeout=5)
        assert code == 0, f"local stack exited with {code} on SIGTERM; output:\n{running.text()}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    roster = write_roster(tmp_path_factory.mktemp("e2e-roster"))
    # Long waits: the workflow stays parked, so the tests drive imports themselves.
    with running_stack(
        roster, {"WORKFLOW_WAIT_SECONDS": "3600", "CALLBACK_TIMEOUT_SECONDS": "3600"}
    ) as running:
        yield running


class StudentPool:
    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> Student:
        with self._lock:
            if self._next >= E2E_STUDENTS:
                raise RuntimeError(
                    f"all {E2E_STUDENTS} e2e students are used; raise E2E_STUDENTS in conftest"
                )
            student = e2e_student(self._next)
            self._next += 1
            return student


@pytest.fixture(scope="session")
def student_pool() -> StudentPool:
    return StudentPool()


@pytest.fixture
def student(student_pool: StudentPool) -> Student:
    """A roster student no other test has used."""
    return student_pool.take()


@pytest.fixture
def new_student(student_pool: StudentPool) -> Any:
    """For tests that need more than one fresh student."""
    return student_pool.take
