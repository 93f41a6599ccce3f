"""The moto Lambda dispatch runs real handler code and surfaces handler exceptions to Step Functions.

Runs the state machine interpreter of moto (pinned 5.2.5) in-process under mock_aws.
"""

from __future__ import annotations

import json
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import pytest

from local import lambda_dispatch
from local.lambda_dispatch import mock_aws_with_workflow

pytestmark = pytest.mark.workflow

REGION = "us-east-1"

HANDLER = """
import json
from pathlib import Path

COUNTER = Path(__file__).with_name("calls.txt")


class ProviderUnavailable(Exception):
    pass


def handler(event, context):
    calls = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(calls + 1))
    if event.get("mode") == "fail":
        raise ProviderUnavailable("edulastic is unavailable: 503")
    return {
        "echo": event,
        "function": context.function_name,
        "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "memory": context.memory_limit_in_mb,
    }
"""


def _zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buffer.getvalue()


@pytest.fixture
def fake_function_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fake_fn"
    directory.mkdir()
    (directory / "app.py").write_text(HANDLER)
    return directory


def _create_function(name: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    created = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Timeout=30,
        MemorySize=256,
    )
    return str(created["FunctionArn"])


def _definition(function_arn: str) -> str:
    return json.dumps(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                    "ResultSelector": {"out.$": "$.Payload"},
                    "Retry": [
                        {
                            "ErrorEquals": ["ProviderUnavailable"],
                            "IntervalSeconds": 1,
                            "MaxAttempts": 1,
                            "BackoffRate": 1.0,
                        }
                    ],
                    "Catch": [
                        {"ErrorEquals": ["ProviderUnavailable"], "ResultPath": "$.error", "Next": "Caught"}
                    ],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        }
    )


def _run(sfn: Any, machine_arn: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    execution_arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("execution did not finish")


def _setup(fake_function_dir: Path) -> tuple[Any, str]:
    function_arn = _create_function("FakeFunction")
    lambda_dispatch.install({"FakeFunction": fake_function_dir})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/FakeFunction-role"
    machine = sfn.create_state_machine(name="fake", definition=_definition(function_arn), roleArn=role)
    return sfn, machine["stateMachineArn"]


def test_task_gets_the_real_handlers_output(fake_function_dir: Path) -> None:
    with mock_aws_with_workflow():
        sfn, machine_arn = _setup(fake_function_dir)
        described = _run(sfn, machine_arn, "ok-1", {"mode": "ok", "student": "s1"})

    assert described["status"] == "SUCCEEDED"
    out = json.loads(described["output"])["out"]
    assert out["echo"] == {"mode": "ok", "student": "s1"}
    assert out["function"] == "FakeFunction"
    assert out["arn"].endswith(":function:FakeFunction")
    assert out["memory"] == 256
    assert 0 < out["remaining"] <= 30_000
    assert out["request_id"]


def test_handler_exception_is_retried_and_caught_by_its_class_name(fake_function_dir: Path) -> None:
    with mock_aws_with_workflow():
        sfn, machine_arn = _setup(fake_function_dir)
        described = _run(sfn, machine_arn, "fail-1", {"mode": "fail"})
        history = sfn.get_execution_history(executionArn=described["executionArn"])["events"]

    assert described["status"] == "SUCCEEDED"  # the Catch led to the Pass state
    output = json.loads(described["output"])
    assert output["error"]["Error"] == "ProviderUnavailable"
    cause = json.loads(output["error"]["Cause"])
    assert cause["errorType"] == "ProviderUnavailable"
    assert cause["errorMessage"] == "edulastic is unavailable: 503"

    failures = [e for e in history if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    assert len(failures) == 2  # first attempt + one retry
    for event in failures:
        details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
        assert details["error"] == "ProviderUnavailable"
    assert any(
        e["type"] == "PassStateEntered" and e["stateEnteredEventDetails"]["name"] == "Caught" for e in history
    )
    assert (fake_function_dir / "calls.txt").read_text() == "2"


def test_direct_invoke_reports_function_error(fake_function_dir: Path) -> None:
    with mock_aws_with_workflow({"FakeFunction": fake_function_dir}):
        _create_function("FakeFunction")
        client = boto3.client("lambda", region_name=REGION)
        ok = client.invoke(FunctionName="FakeFunction", Payload=json.dumps({"mode": "ok"}))
        failed = client.invoke(FunctionName="FakeFunction", Payload=json.dumps({"mode": "fail"}))

    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["echo"] == {"mode": "ok"}
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ProviderUnavailable"


def test_unregistered_functions_keep_motos_echo(fake_function_dir: Path) -> None:
    with mock_aws_with_workflow({"FakeFunction": fake_function_dir}):
        _create_function("Other")
        answer = boto3.client("lambda", region_name=REGION).invoke(FunctionName="Other", Payload=b'{"a": 1}')
        assert json.loads(answer["Payload"].read()) == {"a": 1}
    assert not lambda_dispatch.installed()
