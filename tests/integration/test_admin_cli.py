"""The operator CLI on moto, in-process (`main(argv)`): every command against the real table, state
machine and handlers, aimed at a CloudFormation stack whose outputs and parameters name them —
the same path as `--stack-name` against AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from exttests.adapters.dynamo import keys
from exttests.adapters.dynamo.store import DynamoStore
from exttests.admin.cli import main
from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from exttests.domain.models import LessonType, ToolProvider
from tests.integration.test_results import ADA, EDU_TESTOUT, enrollments, finish
from tests.support import DEMO_ROSTER

pytestmark = pytest.mark.workflow

STACK = "exttests-it"
GRACE, KATHERINE = "student-grace", "student-katherine"
MT_TESTOUT = "lesson-mt-testout-math-g5"
ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]


@pytest.fixture
def admin(service: Any, capsys: pytest.CaptureFixture[str]) -> Any:
    """Runs the CLI against a stack named STACK, as an operator would: (exit code, stdout, stderr)."""
    template = {
        "Parameters": {name: {"Type": "String"} for name in ("RosterSource", "WorkflowWaitSeconds")},
        "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "TableName": {"Value": service.table},
            "StateMachineArn": {"Value": service.resources.state_machine_arn},
            "CredentialsKeyId": {"Value": service.resources.kms_key_id},
        },
    }
    boto3.client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "RosterSource", "ParameterValue": "table"},
            {"ParameterKey": "WorkflowWaitSeconds", "ParameterValue": "3600"},  # redriven workflows park
        ],
    )

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()  # the handlers' own log lines so far
        code = main(["--stack-name", STACK, "--region", "us-east-1", *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def put_attempt(service: Any, student: str, lesson: str, **fields: Any) -> Attempt:
    """An attempt as a crash or an old deadline would have left it (the clock cannot be moved on moto)."""
    store = DynamoStore(service.table, due_shards=8)
    attempt = Attempt(
        student_id=student,
        lesson_id=lesson,
        attempt=1,
        sourced_id=f"ear-{student}",
        line_item_id=f"eali-{student}",
        tool_provider=ToolProvider.EDULASTIC,
        lesson_type=LessonType.TEST_OUT,
        assignment_id=f"asg-{student}",
        version=1,
        **fields,
    )
    item = store._attempt_item(attempt, keys.attempt_head(student, lesson))
    boto3.client("dynamodb").put_item(TableName=service.table, Item=item)
    return attempt


def roster_without(tmp_path: Path, course: str) -> Path:
    roster = json.loads(DEMO_ROSTER.read_text(encoding="utf-8"))
    roster["courses"] = [c for c in roster["courses"] if c["sourcedId"] != course]
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(roster), encoding="utf-8")
    return path


def outbox(service: Any, detail_type: str) -> list[dict[str, Any]]:
    return [
        doc
        for doc in (
            json.loads(item["doc"]["S"]) for item in service.items() if item["PK"]["S"].startswith("OUTBOX#")
        )
        if doc["detail_type"] == detail_type
    ]


def test_show_tells_the_attempt_its_execution_and_its_history(service: Any, admin: Any) -> None:
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    code, out, err = admin("attempt", "show", "--student", ADA, "--lesson", EDU_TESTOUT, "--json")
    report = json.loads(out)
    assert (code, err) == (0, "")
    assert report["attempt"]["status"] == "assigned" and report["workflow"]["status"] == "RUNNING"
    assert report["workflow"]["arn"].startswith(
        service.resources.state_machine_arn.replace("stateMachine", "execution")
    )
    code, out, _ = admin("attempt", "show", "--result", report["attempt"]["resultId"])
    assert code == 0 and f"{ADA} on {EDU_TESTOUT}: attempt 1 (current)" in out and "RUNNING" in out
    assert admin("attempt", "show", "--student", ADA, "--lesson", EDU_TESTOUT, "--attempt", "2")[0] == 3


def test_a_stuck_attempt_is_listed_and_redriven_and_then_no_longer_stuck(service: Any, admin: Any) -> None:
    overdue = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    put_attempt(
        service, GRACE, EDU_TESTOUT, status=AttemptStatus.ASSIGNED, due_at=overdue, workflow_started=True
    )
    code, out, _ = admin("attempts", "list", "--stuck", "--since", "1d", "--json")
    assert code == 0 and [(a["student"], a["at"]) for a in json.loads(out)["attempts"]] == [(GRACE, overdue)]

    code, out, err = admin("attempt", "redrive", "--student", GRACE, "--lesson", EDU_TESTOUT)
    assert (code, err) == (0, "") and "workflow restarted" in out and "-g1" in out

    assert admin("attempts", "list", "--stuck")[1] == "no stuck attempts (workflow overdue)\n"
    code, out, _ = admin("attempt", "show", "--student", GRACE, "--lesson", EDU_TESTOUT, "--json")
    assert (
        json.loads(out)["workflow"]["status"] == "RUNNING"
        and json.loads(out)["attempt"]["workflowGeneration"] == 1
    )


def test_expired_attempts_are_listed(service: Any, admin: Any) -> None:
    put_attempt(
        service, KATHERINE, EDU_TESTOUT, status=AttemptStatus.EXPIRED, updated_at="2025-05-02T10:00:00+00:00"
    )
    code, out, _ = admin("attempts", "list", "--expired", "--since", "2025-05-01")
    assert code == 0 and KATHERINE in out and "EXPIRED AT" in out
    assert "no expired attempts" in admin("attempts", "list", "--expired", "--since", "2025-05-03")[1]


def test_a_stack_that_does_not_exist_is_not_found(service: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--stack-name", "nope", "--region", "us-east-1", "attempts", "list", "--stuck"]) == 3
    assert capsys.readouterr().err == "error: no stack named 'nope' in us-east-1\n"


def test_a_roster_dry_run_writes_nothing(service: Any, admin: Any, tmp_path: Path) -> None:
    before = service.snapshot()
    code, out, _ = admin(
        "roster", "load", str(roster_without(tmp_path, "course-math-g6")), "--dry-run", "--json"
    )
    summary = json.loads(out)
    assert code == 0 and summary["dryRun"] is True and summary["deleted"] == 0
    assert summary["kinds"]["courses"]["removedIds"] == ["course-math-g6"]
    assert service.snapshot() == before
    bad = tmp_path / "bad.json"
    bad.write_text('{"users": [{"sourcedId": 7}]}', encoding="utf-8")
    assert admin("roster", "load", str(bad)) == (
        2,
        "",
        "error: users[0]: sourcedId must be a non-empty string\n",
    )
    assert service.snapshot() == before


def test_a_failed_enrollment_is_found_fixed_and_retried_into_exactly_one_enrollment(
    service: Any, admin: Any, tmp_path: Path
) -> None:
    # The roster loses the grade-6 Math course: Ada's mastered test-out cannot enroll.
    code, out, _ = admin("roster", "load", str(roster_without(tmp_path, "course-math-g6")))
    assert code == 0 and "courses removed: course-math-g6" in out
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    finish(service, EDU_TESTOUT, ALL_CORRECT)
    assert service.import_results(ADA, EDU_TESTOUT)[0] == 200
    assert service.head(ADA, EDU_TESTOUT).enrollment is EnrollmentStatus.FAILED

    code, out, _ = admin("attempts", "list", "--failed-enrollment", "--json")
    assert [(a["student"], a["lesson"]) for a in json.loads(out)["attempts"]] == [(ADA, EDU_TESTOUT)]
    # Retrying before the roster is fixed fails again, and says why.
    code, _, err = admin("enrollment", "retry", "--student", ADA, "--lesson", EDU_TESTOUT)
    assert (code, err) == (1, "error: the enrollment was not made: course 'course-math-g6' does not exist\n")

    code, out, _ = admin("roster", "load", str(DEMO_ROSTER), "--json")
    assert code == 0 and json.loads(out)["kinds"]["courses"]["added"] == 1 and json.loads(out)["written"] == 1
    code, out, err = admin("enrollment", "retry", "--student", ADA, "--lesson", EDU_TESTOUT)
    assert (code, err) == (0, "") and "enrolled (course-math-g6)" in out
    assert admin("enrollment", "retry", "--student", ADA, "--lesson", EDU_TESTOUT)[0] == 4

    assert enrollments(service, ADA) == ["course-math-g6"]
    assert [e["detail"]["courseId"] for e in outbox(service, "Student Enrolled")] == ["course-math-g6"]
    assert admin("attempts", "list", "--failed-enrollment")[1] == "no attempts whose enrollment failed\n"
    assert service.head(ADA, EDU_TESTOUT).enrollment is EnrollmentStatus.ENROLLED
