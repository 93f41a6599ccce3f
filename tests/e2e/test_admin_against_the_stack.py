"""The operator CLI as an operator runs it: `python -m exttests.admin` in its own process against a
running local stack (`python -m local.stack`), found through the discovery file the stack writes
(in a temporary directory here, through LOCAL_STACK_FILE) and that it removes when it stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import StackProcess, running_stack, write_roster
from tests.support import ROOT

pytestmark = pytest.mark.e2e

ADA, ADA_EMAIL = "student-ada", "ada.lovelace@students.example.com"
EDU_TESTOUT = "lesson-edu-testout-math-g5"
MT_TESTOUT = "lesson-mt-testout-math-g5"
ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]
CLI_TIMEOUT = 60.0


class Admin:
    def __init__(self, discovery_file: Path) -> None:
        self.env = {
            **os.environ,
            "LOCAL_STACK_FILE": str(discovery_file),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "shared" / "python"), str(ROOT)]),
        }
        self.env.pop("AWS_PROFILE", None)

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "exttests.admin", *argv],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout, done.stderr

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


def without_course(roster: Path, course: str) -> Path:
    document = json.loads(roster.read_text(encoding="utf-8"))
    document["courses"] = [c for c in document["courses"] if c["sourcedId"] != course]
    path = roster.with_name("roster-without-course.json")
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def fail_an_enrollment(stack: StackProcess, admin: Admin, roster: Path) -> None:
    """Ada masters a test-out whose track course the roster (loaded by the CLI) no longer has."""
    code, out, _ = admin("roster", "load", str(without_course(roster, "course-math-g6")))
    assert code == 0 and "courses removed: course-math-g6" in out
    assert stack.assign(ADA, EDU_TESTOUT).status_code == 200
    shown = admin.json("attempt", "show", "--student", ADA, "--lesson", EDU_TESTOUT)
    stack.edulastic_control(
        "finish",
        {
            "assignmentId": shown["attempt"]["assignmentId"],
            "email": ADA_EMAIL,
            "graded": "GRADED",
            "questions": ALL_CORRECT,
        },
    )
    assert stack.import_results(ADA, EDU_TESTOUT).status_code == 200


def test_every_command_works_on_the_running_stack_through_its_discovery_file(tmp_path: Path) -> None:
    discovery_file = tmp_path / "state" / "stack.json"
    roster = write_roster(tmp_path)
    admin = Admin(discovery_file)
    settings = {
        "LOCAL_STACK_FILE": str(discovery_file),
        "WORKFLOW_WAIT_SECONDS": "3600",
        "CALLBACK_TIMEOUT_SECONDS": "3600",
    }
    with running_stack(roster, settings) as stack:
        facts = json.loads(discovery_file.read_text(encoding="utf-8"))
        assert (facts["apiUrl"], facts["awsEndpoint"]) == (stack.api_url, stack.moto_url)
        assert stack.client_secret not in discovery_file.read_text(encoding="utf-8")

        # roster load: a dry run changes nothing; the real load removes the course.
        dry = admin.json("roster", "load", str(without_course(roster, "course-math-g6")), "--dry-run")
        assert dry["dryRun"] and dry["kinds"]["courses"]["removedIds"] == ["course-math-g6"]
        fail_an_enrollment(stack, admin, roster)

        # attempt show, by (student, lesson) and by result id
        shown = admin.json("attempt", "show", "--student", ADA, "--lesson", EDU_TESTOUT)
        assert shown["attempt"]["enrollment"] == "failed" and shown["attempt"]["finalized"] is True
        code, out, _ = admin("attempt", "show", "--result", shown["attempt"]["resultId"])
        assert code == 0 and "course 'course-math-g6' does not exist" in out

        # attempts list, every view
        failed = admin.json("attempts", "list", "--failed-enrollment", "--since", "1h")["attempts"]
        assert [(a["student"], a["lesson"]) for a in failed] == [(ADA, EDU_TESTOUT)]
        assert admin.json("attempts", "list", "--stuck")["attempts"] == []
        assert admin.json("attempts", "list", "--expired", "--limit", "5")["attempts"] == []

        # attempt redrive: a finished attempt is refused; a waiting one gets a new workflow.
        code, _, err = admin("attempt", "redrive", "--student", ADA, "--lesson", EDU_TESTOUT)
        assert code == 4 and "needs no workflow" in err
        assert stack.assign(ADA, MT_TESTOUT).status_code == 200
        stack.wait_for_callback(ADA, MT_TESTOUT)
        redriven = admin.json("attempt", "redrive", "--student", ADA, "--lesson", MT_TESTOUT)
        assert redriven["workflowGeneration"] == 1 and redriven["stoppedPrevious"] is True
        # (moto marks a stopped execution ABORTED only once its parked callback task wakes up)
        executions = {e["name"]: e["status"] for e in stack.executions(ADA, MT_TESTOUT)}
        assert len(executions) == 2 and executions[redriven["execution"]] == "RUNNING"

        # enrollment retry, once the roster has its course again
        assert admin.json("roster", "load", str(roster))["kinds"]["courses"]["added"] == 1
        retried = admin.json("enrollment", "retry", "--student", ADA, "--lesson", EDU_TESTOUT)
        assert (retried["enrollment"], retried["enrolledCourseId"]) == ("enrolled", "course-math-g6")
        assert stack.enrollments(ADA) == ["course-math-g6"]
        assert admin("enrollment", "retry", "--student", ADA, "--lesson", EDU_TESTOUT)[0] == 4

    assert not discovery_file.exists()  # removed at the clean stop
    code, out, err = admin("attempts", "list", "--stuck")
    assert (code, out) == (1, "") and err.startswith("error: no local stack is running")
