"""The moto Lambda dispatch runs real handler code and surfaces handler exceptions to Step Functions;
the worker pools run each function like Lambda does, in processes of its own.

Runs the state machine interpreter of moto (pinned 5.2.5) in-process under mock_aws.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local import lambda_dispatch
from local.lambda_dispatch import FunctionSpec, Outcome, Throttled, mock_aws_with_workflow
from local.workers import WorkerPools

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


WORKER_HANDLER = """
import os
import time
from pathlib import Path

STARTED = Path(__file__).with_name("started")


class ProviderUnavailable(Exception):
    pass


def handler(event, context):
    mode = event.get("mode")
    if mode == "wait-for-all":  # returns once `n` invocations have started, whichever process they run in
        with STARTED.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        while len(STARTED.read_text().split()) < event["n"]:
            time.sleep(0.01)
    if mode == "hang":
        time.sleep(600)
    if mode == "fail":
        raise ProviderUnavailable("edulastic is unavailable: 503")
    if mode == "exit":
        os._exit(3)
    return {
        "pid": os.getpid(),
        "remaining": context.get_remaining_time_in_millis(),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "inherited": os.environ.get("LOCAL_TEST_MARKER"),
    }
"""


@pytest.fixture
def worker_function(tmp_path: Path) -> FunctionSpec:
    directory = tmp_path / "worker_fn"
    directory.mkdir()
    (directory / "app.py").write_text(WORKER_HANDLER)
    return FunctionSpec("WorkerFunction", directory, timeout_seconds=1.0, memory_mb=256)


@pytest.fixture
def pools() -> Iterator[WorkerPools]:
    running = WorkerPools({**os.environ, "LOCAL_TEST_MARKER": "from-the-stack"}, max_per_function=3)
    yield running
    running.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_invocations_run_in_worker_processes_reused_while_warm(
    pools: WorkerPools, worker_function: FunctionSpec
) -> None:
    first = pools.invoke(worker_function, {}).value()
    second = pools.invoke(worker_function, {}).value()

    assert first["pid"] != os.getpid()
    assert second["pid"] == first["pid"]  # the idle worker is reused, like a warm container
    assert first["function"] == "WorkerFunction"
    assert first["inherited"] == "from-the-stack"  # the stack's environment reaches the handler
    assert 0 < first["remaining"] <= 1000  # counts down from the function's Timeout
    cold = [entry.cold_start for entry in pools.log.entries("WorkerFunction")]
    assert cold == [True, False]


def test_concurrent_invocations_each_get_a_worker_up_to_the_maximum(
    pools: WorkerPools, worker_function: FunctionSpec
) -> None:
    rendezvous = {"mode": "wait-for-all", "n": 3}
    patient = replace(worker_function, timeout_seconds=30.0)  # however slowly the three workers start
    with ThreadPoolExecutor(max_workers=3) as executor:
        answers = list(executor.map(lambda _: pools.invoke(patient, rendezvous), range(3)))

    # Each invocation waited until all three had started: they ran at the same time, in 3 processes.
    assert len({answer.value()["pid"] for answer in answers}) == 3
    extra = pools.invoke(patient, {}).value()
    assert extra["pid"] in {answer.value()["pid"] for answer in answers}  # no fourth worker


def test_a_worker_past_its_timeout_is_killed_and_the_invocation_fails_with_sandbox_timedout(
    pools: WorkerPools, worker_function: FunctionSpec
) -> None:
    warm = pools.invoke(worker_function, {}).value()["pid"]
    outcome = pools.invoke(worker_function, {"mode": "hang"})

    assert outcome.failed and outcome.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in outcome.value()["errorMessage"]
    assert not _alive(warm)
    after = pools.invoke(worker_function, {})
    assert not after.failed and after.value()["pid"] != warm  # replaced by a fresh worker
    assert [e.outcome for e in pools.log.entries()] == ["ok", "Sandbox.Timedout", "ok"]


def test_handler_exception_and_crash_are_function_errors(
    pools: WorkerPools, worker_function: FunctionSpec
) -> None:
    failed = pools.invoke(worker_function, {"mode": "fail"})
    assert failed.failed and failed.error_type == "ProviderUnavailable"
    assert failed.value()["errorMessage"] == "edulastic is unavailable: 503"
    crashed = pools.invoke(worker_function, {"mode": "exit"})
    assert crashed.failed and crashed.error_type == "Runtime.ExitError"
    assert "exit status 3" in crashed.value()["errorMessage"]
    assert not pools.invoke(worker_function, {}).failed


def test_a_module_that_fails_to_import_fails_the_invocation(pools: WorkerPools, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("raise RuntimeError('bad configuration')\n")
    outcome = pools.invoke(FunctionSpec("Broken", tmp_path), {})
    assert outcome.failed and outcome.error_type == "RuntimeError"


def test_a_timed_out_task_fails_with_sandbox_timedout_in_step_functions(
    pools: WorkerPools, worker_function: FunctionSpec
) -> None:
    definition = json.dumps(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "FakeFunction", "Payload.$": "$"},
                    "Catch": [
                        {"ErrorEquals": ["Sandbox.Timedout"], "ResultPath": "$.error", "Next": "Caught"}
                    ],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        }
    )
    with mock_aws_with_workflow():
        _create_function("FakeFunction", timeout=1)
        lambda_dispatch.install({"FakeFunction": worker_function.directory}, invoker=pools)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="timeouts", definition=definition, roleArn="arn:aws:iam::123456789012:role/FakeFunction-role"
        )["stateMachineArn"]
        described = _run(sfn, machine, "hang-1", {"mode": "hang"})

    assert described["status"] == "SUCCEEDED"  # the Catch on Sandbox.Timedout led to Caught
    assert json.loads(described["output"])["error"]["Error"] == "Sandbox.Timedout"
    [entry] = pools.log.entries("FakeFunction")
    assert entry.outcome == "Sandbox.Timedout" and entry.pid != os.getpid()


class _ThrottlingInvoker:
    def __init__(self) -> None:
        self.log = lambda_dispatch.InvocationLog()

    def invoke(self, spec: FunctionSpec, event: Any) -> Outcome:
        raise Throttled("all workers stayed busy")


def test_no_free_worker_is_a_429_too_many_requests(fake_function_dir: Path) -> None:
    with mock_aws_with_workflow():
        _create_function("FakeFunction")
        lambda_dispatch.install({"FakeFunction": fake_function_dir}, invoker=_ThrottlingInvoker())
        client = boto3.client("lambda", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(ClientError) as raised:
            client.invoke(FunctionName="FakeFunction", Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def _create_function(name: str, timeout: int = 30) -> str:
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
        Timeout=timeout,
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
