"""Contract of the finalization state machine (statemachine/finalization.asl.json).

cfn-lint and `sam validate --lint` do not look inside the definition, and moto neither
rejects a Next to a missing state nor runs JSONata; these checks stand in for them.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
STATE_MACHINE_ID = "FinalizationStateMachine"

# Error names the Python code raises on purpose (Lambda's errorType is the class name,
# and Step Functions matches it exactly — subclasses are not matched).
PYTHON_ERROR_NAMES = {
    "ProviderUnavailable",
    "ProviderDeadlineExceeded",
    "CircuitOpen",
    "Busy",
    "ConflictRetryExhausted",
    "DeadlineExceeded",
}
WORKFLOW_TASKS = {"register_callback", "poll", "enroll", "record_failure"}
TERMINAL_TYPES = {"Succeed", "Fail"}
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def sm_props(template: dict[str, Any]) -> dict[str, Any]:
    resource = template["Resources"][STATE_MACHINE_ID]
    assert resource["Type"] == "AWS::Serverless::StateMachine"
    return resource["Properties"]


@pytest.fixture(scope="module")
def asl_text(sm_props: dict[str, Any]) -> str:
    return (ROOT / sm_props["DefinitionUri"]).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def asl(asl_text: str) -> dict[str, Any]:
    return json.loads(asl_text)


@pytest.fixture(scope="module")
def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return asl["States"]


def _targets(state: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, target) for every transition out of a state."""
    if "Next" in state:
        yield "Next", state["Next"]
    if "Default" in state:
        yield "Default", state["Default"]
    for i, choice in enumerate(state.get("Choices", [])):
        yield f"Choices[{i}].Next", choice["Next"]
    for i, catcher in enumerate(state.get("Catch", [])):
        yield f"Catch[{i}].Next", catcher["Next"]


def _tasks(states: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state


def _logical_ids_in(value: Any) -> set[str]:
    """Logical ids named by Ref / Fn::GetAtt / Fn::Sub anywhere inside an unresolved value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in PLACEHOLDER.findall(text) if not m.startswith("AWS::")}
            else:
                found |= _logical_ids_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _logical_ids_in(inner)
    return found


def test_definition_uses_jsonpath_and_a_known_start(asl: dict[str, Any], states: dict[str, Any]) -> None:
    # moto cannot run JSONata; the design fixes JSONPath.
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in states.items():
        assert state.get("QueryLanguage", "JSONPath") == "JSONPath", name
        assert not {"Arguments", "Output", "Assign"} & state.keys(), f"{name}: JSONata/variables field"
    assert asl["StartAt"] in states


def test_every_transition_target_exists(states: dict[str, dict[str, Any]]) -> None:
    missing = [
        f"{name}.{where} -> {target}"
        for name, state in states.items()
        for where, target in _targets(state)
        if target not in states
    ]
    assert not missing, f"transitions to missing states: {missing}"


def test_every_state_is_reachable(asl: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
    seen = {asl["StartAt"]}
    todo = [asl["StartAt"]]
    while todo:
        for _, target in _targets(states[todo.pop()]):
            if target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    assert set(states) == seen, f"unreachable states: {sorted(set(states) - seen)}"


def test_every_non_terminal_state_has_a_way_forward(states: dict[str, dict[str, Any]]) -> None:
    for name, state in states.items():
        kind = state["Type"]
        if kind in TERMINAL_TYPES:
            assert "Next" not in state and "End" not in state, f"{name}: {kind} takes no Next/End"
        elif kind == "Choice":
            assert state.get("Choices"), f"{name}: Choice without Choices"
            assert all("Next" in c for c in state["Choices"]), f"{name}: choice rule without Next"
            assert "End" not in state, f"{name}: Choice cannot End"
        else:
            has_next, ends = "Next" in state, state.get("End") is True
            assert has_next != ends, f"{name}: needs exactly one of Next / End: true"


def test_every_state_can_reach_a_terminal_state(states: dict[str, dict[str, Any]]) -> None:
    """No loop without an exit (the poll loop must be able to finish or expire)."""
    can_finish = {n for n, s in states.items() if s["Type"] in TERMINAL_TYPES or s.get("End") is True}
    changed = True
    while changed:
        changed = False
        for name, state in states.items():
            if name not in can_finish and any(t in can_finish for _, t in _targets(state)):
                can_finish.add(name)
                changed = True
    assert set(states) == can_finish, f"states that can never finish: {sorted(set(states) - can_finish)}"


def test_every_placeholder_has_a_definition_substitution(asl_text: str, sm_props: dict[str, Any]) -> None:
    placeholders = set(PLACEHOLDER.findall(asl_text))
    substitutions = set(sm_props.get("DefinitionSubstitutions") or {})
    assert placeholders, "expected the Lambda ARN to come from a DefinitionSubstitution"
    assert placeholders <= substitutions, f"no substitution for: {sorted(placeholders - substitutions)}"
    assert substitutions <= placeholders, f"unused substitutions: {sorted(substitutions - placeholders)}"


def test_substituted_lambdas_are_functions_of_the_template(
    template: dict[str, Any], sm_props: dict[str, Any]
) -> None:
    resources = template["Resources"]
    functions = {lid for lid, _ in cfn_yaml.resources_of_type(template, "AWS::Serverless::Function")}
    for key, value in sm_props["DefinitionSubstitutions"].items():
        named = _logical_ids_in(value)
        assert named, f"{key}: expected a Ref/GetAtt of a template resource, got {value!r}"
        for logical_id in named:
            assert logical_id in resources, f"{key} names unknown resource {logical_id}"
            if "Function" in key or "Lambda" in key:
                assert logical_id in functions, f"{key} names {logical_id}, not a Serverless::Function"


def test_state_machine_may_invoke_every_substituted_lambda(sm_props: dict[str, Any]) -> None:
    invokable = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in sm_props.get("Policies", [])
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }
    for key, value in sm_props["DefinitionSubstitutions"].items():
        if "Function" in key:
            assert _logical_ids_in(value) <= invokable, f"{key}: no LambdaInvokePolicy for it"


def test_lambda_tasks_name_the_function_by_placeholder_and_a_known_task(
    states: dict[str, dict[str, Any]],
) -> None:
    for name, state in _tasks(states):
        assert state["Resource"].startswith("arn:aws:states:::lambda:invoke"), name
        params = state["Parameters"]
        assert PLACEHOLDER.fullmatch(params["FunctionName"]), f"{name}: hard-coded FunctionName"
        assert params["Payload"]["task"] in WORKFLOW_TASKS, name


def test_retry_and_catch_error_names_are_raisable(states: dict[str, dict[str, Any]]) -> None:
    def allowed(error: str) -> bool:
        return error in PYTHON_ERROR_NAMES or error.startswith(("States.", "Lambda.", "Sandbox."))

    for name, state in _tasks(states):
        for rule in state.get("Retry", []) + state.get("Catch", []):
            bad = [e for e in rule["ErrorEquals"] if not allowed(e)]
            assert not bad, f"{name}: error names the code cannot raise: {bad}"
        for retrier in state.get("Retry", []):
            assert "States.ALL" not in retrier["ErrorEquals"] or len(retrier["ErrorEquals"]) == 1
            assert retrier.get("BackoffRate", 2.0) >= 1.0
            assert retrier.get("MaxAttempts", 3) >= 0


def test_python_error_names_exist_in_the_code() -> None:
    try:
        errors = importlib.import_module("exttests.errors")
    except ImportError as exc:  # the layer package is written alongside this test
        pytest.skip(f"exttests.errors not importable yet: {exc}")
    for error_name in sorted(PYTHON_ERROR_NAMES):
        cls = getattr(errors, error_name, None)
        assert isinstance(cls, type) and issubclass(cls, Exception), f"exttests.errors.{error_name} missing"


def test_callback_times_out_into_the_poll(states: dict[str, dict[str, Any]]) -> None:
    callbacks = [(n, s) for n, s in _tasks(states) if s["Resource"].endswith(".waitForTaskToken")]
    assert callbacks, "MasteryTrack needs a waitForTaskToken task"
    for name, state in callbacks:
        assert "TimeoutSecondsPath" in state or "TimeoutSeconds" in state, f"{name}: waits forever"
        assert state["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
        timeout_catch = [c for c in state.get("Catch", []) if "States.Timeout" in c["ErrorEquals"]]
        assert timeout_catch and states[timeout_catch[0]["Next"]]["Type"] == "Task", name
        assert state.get("Catch", [])[0] is timeout_catch[0], f"{name}: States.Timeout must be caught first"


def test_waits_read_their_seconds_from_the_input(states: dict[str, dict[str, Any]]) -> None:
    waits = [(n, s) for n, s in states.items() if s["Type"] == "Wait"]
    assert waits
    for name, state in waits:
        assert "SecondsPath" in state and "Seconds" not in state, f"{name}: tests need SecondsPath"


def test_moto_accepts_the_definition(asl_text: str, sm_props: dict[str, Any]) -> None:
    parser = pytest.importorskip("moto.stepfunctions.parser.asl.parse.asl_parser")
    text = asl_text
    for key in sm_props["DefinitionSubstitutions"]:
        text = text.replace("${" + key + "}", "arn:aws:lambda:us-east-1:123456789012:function:stub")
    program, _ = parser.AmazonStateLanguageParser.parse(text)
    assert program is not None


def test_every_lambda_task_has_a_timeout_and_retries_lambda_faults_before_catching(
    states: dict[str, dict[str, Any]],
) -> None:
    for name, state in _tasks(states):
        retried = {e for rule in state.get("Retry", []) for e in rule["ErrorEquals"]}
        assert {"Lambda.Unknown", "Sandbox.Timedout", "Lambda.ServiceException"} <= retried, name
        if not state["Resource"].endswith(".waitForTaskToken"):
            assert state.get("TimeoutSeconds"), f"{name}: a hung invocation would hold it forever"
            assert "States.Timeout" in retried, f"{name}: a timed-out task must be retried"


def test_polls_and_enrollments_loop_back_through_their_waits(states: dict[str, dict[str, Any]]) -> None:
    assert states["Decide"]["Default"] == "Wait"
    assert states["EnrollmentDone"]["Choices"][0]["Next"] == "WaitToEnroll"
    assert states["WaitToEnroll"]["Next"] == "Enroll"
