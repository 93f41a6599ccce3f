"""The real finalization state machine (statemachine/finalization.asl.json) executing on moto,
its Lambda tasks dispatched in-process to the real handlers."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from exttests import wiring
from exttests.adapters.step_functions import execution_name
from exttests.domain.attempt import EnrollmentStatus
from exttests.providers.base import WorkflowWait
from tests.integration.test_results import (
    ADA,
    ADA_EMAIL,
    EDU_TESTOUT,
    MT_TESTOUT,
    enrollments,
    writeback_body,
)
from tests.support import execution_history, states_entered, wait_for_end, wait_until

pytestmark = pytest.mark.workflow

ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]


@pytest.fixture
def workflow_waits() -> str:
    # First poll at once, then every second (moto really sleeps in Wait states).
    return "0,1"


def sfn() -> Any:
    return boto3.client("stepfunctions")


def execution_arn(service: Any, student: str, lesson: str) -> str:
    head = service.head(student, lesson)
    prefix = service.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{prefix}:{execution_name(head)}"


def finish_edulastic(service: Any, questions: list[dict[str, Any]] = ALL_CORRECT) -> None:
    head = service.head(ADA, EDU_TESTOUT)
    service.edulastic_control(
        "finish",
        {"assignmentId": head.assignment_id, "email": ADA_EMAIL, "graded": "GRADED", "questions": questions},
    )


def test_edulastic_polls_until_final_then_enrolls(service: Any) -> None:
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    arn = execution_arn(service, ADA, EDU_TESTOUT)
    wait_until(lambda: states_entered(arn).count("Poll") >= 1)
    finish_edulastic(service)

    assert wait_for_end(arn) == "SUCCEEDED"

    states = states_entered(arn)
    assert states[:2] == ["Route", "Wait"] and states[-2:] == ["EnrollmentDone", "Finalized"]
    assert "Poll" in states and "Decide" in states
    head = service.head(ADA, EDU_TESTOUT)
    assert head.finalized and head.enrollment == EnrollmentStatus.ENROLLED
    assert enrollments(service, ADA) == ["course-math-g6"]


def test_a_provider_outage_is_ridden_out_on_the_poll_backoff_without_a_failed_task(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVIDER_BREAKER_THRESHOLD", "1000")
    monkeypatch.setenv("PROVIDER_MAX_ATTEMPTS", "1")
    wiring.reset()
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    arn = execution_arn(service, ADA, EDU_TESTOUT)
    service.edulastic_control("faults", {"outage": True})
    finish_edulastic(service)  # control routes are never faulted
    wait_until(lambda: states_entered(arn).count("Poll") >= 3)  # polls during the outage
    service.edulastic_control("faults", {})

    assert wait_for_end(arn) == "SUCCEEDED"

    assert not [e for e in execution_history(arn) if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    assert "RecordFailure" not in states_entered(arn)
    assert service.head(ADA, EDU_TESTOUT).enrollment == EnrollmentStatus.ENROLLED


def test_deadline_marks_the_attempt_expired(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDULASTIC_DEADLINE_DAYS", str(1.5 / 86400))  # 1.5 seconds
    wiring.reset()
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    arn = execution_arn(service, ADA, EDU_TESTOUT)

    assert wait_for_end(arn) == "SUCCEEDED"

    assert states_entered(arn)[-1] == "Expired"
    head = service.head(ADA, EDU_TESTOUT)
    assert head.status == "expired" and not head.needs_workflow
    assert enrollments(service, ADA) == []


def test_writeback_completes_the_callback_at_once(service: Any) -> None:
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    head = service.wait_for_callback(ADA, MT_TESTOUT)
    arn = execution_arn(service, ADA, MT_TESTOUT)

    assert service.write_back(head.sourced_id, writeback_body(score=95))[0] == 200

    assert wait_for_end(arn, timeout=10) == "SUCCEEDED"
    states = states_entered(arn)
    assert states == [
        "Route",
        "AwaitWriteBack",
        "Poll",
        "Decide",
        "StartEnrollment",
        "Enroll",
        "EnrollmentDone",
        "Finalized",
    ]
    transitions = len([e for e in execution_history(arn) if e["type"].endswith("StateEntered")])
    assert transitions <= 12
    assert enrollments(service, ADA) == ["course-math-g6"]


def test_callback_timeout_falls_back_to_polling(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_TIMEOUT_SECONDS", "1")
    wiring.reset()
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    arn = execution_arn(service, ADA, MT_TESTOUT)
    head = service.wait_for_callback(ADA, MT_TESTOUT)
    wait_until(lambda: "Wait" in states_entered(arn))  # the callback timed out: polling now

    assert service.write_back(head.sourced_id, writeback_body(score=95))[0] == 200

    assert wait_for_end(arn) == "SUCCEEDED"
    states = states_entered(arn)
    assert states[:3] == ["Route", "AwaitWriteBack", "Poll"] and "Wait" in states
    assert states[-2:] == ["EnrollmentDone", "Finalized"]
    assert service.head(ADA, MT_TESTOUT).finalized


def test_starting_the_same_execution_twice_is_harmless(service: Any) -> None:
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    head = service.wait_for_callback(ADA, MT_TESTOUT)

    wiring.deps().workflow.start(head, WorkflowWait.CALLBACK)
    wiring.deps().workflow.start(head, WorkflowWait.CALLBACK)

    executions = sfn().list_executions(stateMachineArn=service.resources.state_machine_arn)["executions"]
    assert len(executions) == 1


def test_sweeper_restarts_a_lost_workflow_and_it_completes_the_enrollment(service: Any) -> None:
    """No execution was ever started (Step Functions refused), then a crash between "final" and
    "enrolled": the sweeper starts the workflow, whose poll finds the attempt final and whose
    enroll step finishes the job."""
    from datetime import UTC, datetime, timedelta

    from exttests.usecases.finalize import finalize
    from exttests.usecases.workflow_tasks import sweep

    deps = wiring.deps()

    def refuse(attempt: Any, wait: Any) -> str:
        raise RuntimeError("Step Functions unavailable")

    start = deps.workflow.start
    deps.workflow.start = refuse  # type: ignore[method-assign]
    try:
        assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    finally:
        deps.workflow.start = start  # type: ignore[method-assign]
    head = deps.store.get_head(ADA, EDU_TESTOUT)
    assert not head.workflow_started
    assert sfn().list_executions(stateMachineArn=service.resources.state_machine_arn)["executions"] == []
    lesson = deps.store.load_context(ADA, EDU_TESTOUT).lesson
    assert lesson is not None
    final = finalize(deps, head.evolve({"accuracy": 100.0, "score": 100.0}), lesson)
    overdue = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    deps.store.save(final.evolve({"due_at": overdue}))
    assert enrollments(service, ADA) == []

    report = sweep(deps)

    assert len(report.restarted) == 1
    restarted = execution_arn(service, ADA, EDU_TESTOUT)
    assert restarted.endswith("-g1")
    assert wait_for_end(restarted) == "SUCCEEDED"
    assert states_entered(restarted)[-2:] == ["EnrollmentDone", "Finalized"]
    assert enrollments(service, ADA) == ["course-math-g6"]
    assert not service.head(ADA, EDU_TESTOUT).needs_workflow
