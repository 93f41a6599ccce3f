"""Every call inside the Lambda deadline: a request that cannot finish answers a clean IMS 503
(with Retry-After) before its function's timeout, leaves the attempt for the retry to finish
exactly once, and the workflow rides a hanging provider out without the sweeper."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
import requests

from local.lambda_dispatch import load_handler, make_context
from tests.integration.test_results import ADA, ADA_EMAIL, EDU_TESTOUT, MT_TESTOUT, writeback_body
from tests.support import ROOT, http_event, states_entered, wait_for_end

ASSIGN = "/powerpath/makeExternalTestAssignment"
RESULT = "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"


def _call(function: str, event: dict[str, Any], seconds: float) -> tuple[int, dict[str, Any], float]:
    """The handler with a Lambda context of `seconds` to live; (status, body, wall seconds)."""
    import json

    handler = load_handler(ROOT / "functions" / function)
    started = time.monotonic()
    answer = handler(event, make_context(function, timeout_seconds=seconds))
    return answer["statusCode"], json.loads(answer["body"]), time.monotonic() - started


def _assign_event() -> dict[str, Any]:
    return http_event("POST", ASSIGN, body={"student": ADA, "lesson": EDU_TESTOUT})


def _assert_clean_503(status: int, body: dict[str, Any]) -> None:
    assert status == 503, body
    assert body["imsx_codeMajor"] == "failure" and body["imsx_CodeMinor"]["imsx_codeMinorField"][0][
        "imsx_codeMinorFieldValue"
    ] in ("server_busy", "internal_server_error")


def test_with_no_time_left_every_route_answers_a_clean_503_and_writes_nothing(service: Any) -> None:
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    sourced_id = service.wait_for_callback(ADA, MT_TESTOUT).sourced_id
    before = service.snapshot()
    result = RESULT.format(sourcedId=sourced_id)
    route = "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"
    events = [
        ("assign", _assign_event()),
        (
            "import_results",
            http_event(
                "GET",
                "/powerpath/importExternalTestAssignmentResults",
                query={"student": ADA, "lesson": MT_TESTOUT},
            ),
        ),
        (
            "progress",
            http_event(
                "GET", "/powerpath/getAssessmentProgress", query={"student": ADA, "lesson": MT_TESTOUT}
            ),
        ),
        (
            "writeback",
            http_event(
                "PUT", result, body=writeback_body(), path_parameters={"sourcedId": sourced_id}, route=route
            ),
        ),
        ("writeback", http_event("GET", result, path_parameters={"sourcedId": sourced_id}, route=route)),
    ]
    for function, event in events:
        # 1 s to live, less than the margin kept for answering: the budget is spent at once.
        status, body, _ = _call(function, event, seconds=1.0)
        _assert_clean_503(status, body)
    assert service.snapshot() == before


@pytest.mark.parametrize(
    "faults",
    [
        {"timeoutRate": 1, "timeoutSeconds": 60},  # hangs
        {"latencyMs": 9000},  # answers, in 9 s each time
    ],
    ids=["hangs", "answers-in-9s"],
)
def test_a_slow_provider_gets_a_503_within_the_budget_and_the_retry_assigns_once(
    service: Any, faults: dict[str, Any]
) -> None:
    service.edulastic_control("faults", faults)
    status, body, took = _call("assign", _assign_event(), seconds=4.0)
    _assert_clean_503(status, body)
    assert took < 4.0  # inside the function's timeout, with an IMS body
    service.edulastic_control("faults", {})
    status, body = service.assign(ADA, EDU_TESTOUT)
    assert status == 200, body
    sim = requests.get(f"{service.edulastic.app_url}/_control/state", timeout=10).json()
    ada = {u["_id"] for u in sim["users"] if u["email"] == ADA_EMAIL}
    assert len([a for a in sim["assignments"] if any(ada & set(c["students"]) for c in a["class"])]) == 1


@pytest.fixture
def workflow_waits() -> str:
    return "0,1"


def test_the_workflow_rides_a_hanging_provider_out_without_the_sweeper(service: Any) -> None:
    # The workflow's task function gets 4 s to live (60 s in the template: scaled down).
    boto3.client("lambda").update_function_configuration(FunctionName="WorkflowTasksFunction", Timeout=4)
    assert service.assign(ADA, EDU_TESTOUT)[0] == 200
    head = service.head(ADA, EDU_TESTOUT)
    # Hang the next two calls before the test is finished: whenever the first poll comes (its wait
    # is 0 s), the poll after the student finished runs out of time before one gets the results.
    service.edulastic_control("faults", {"timeoutRate": 1, "timeoutSeconds": 60, "times": 2})
    service.edulastic_control(
        "finish",
        {
            "assignmentId": head.assignment_id,
            "email": ADA_EMAIL,
            "graded": "GRADED",
            "questions": [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)],
        },
    )
    prefix = service.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    from exttests.adapters.step_functions import execution_name

    arn = f"{prefix}:{execution_name(head)}"
    assert wait_for_end(arn, timeout=60) == "SUCCEEDED"
    states = states_entered(arn)
    # At least one poll ran out of time (the client may spend both hangs in one poll, retrying)
    # and the workflow went on to the next one instead of failing.
    assert states.count("Poll") >= 2 and "RecordFailure" not in states
    assert service.head(ADA, EDU_TESTOUT).enrollment == "enrolled"
