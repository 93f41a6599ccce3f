"""Fixtures: the service's AWS side under moto (real table, KMS, state machine from template.yaml,
Lambda tasks dispatched in-process to the real handlers) and the two provider simulators."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from local import botocore_data, gc_pace
from local.moto_imports import defer_batch_models
from tests import xdist_groups
from tests.support import (
    DEMO_ROSTER,
    EDU_USER,
    MT_USER,
    ROOT,
    http_event,
    moto_table_snapshot,
    shared_boto3_session,
    start_simulators,
)

defer_batch_models()  # before anything imports moto's Step Functions (0.8 s per worker)
gc_pace.set_for_moto()  # a worker runs moto in-process
botocore_data.share_one_loader()  # every session of a worker reads botocore's JSON once

REGION = "us-east-1"
AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@functools.cache
def aws_client(service: str, region: str) -> Any:
    """The fixtures' own boto3 clients, one per service for all the tests of a worker (making one
    costs 5-15 ms, and every test sets up the whole stack). Every test's moto mock answers them:
    moto intercepts every client of the process while a mock runs. The service's own clients
    are still made per test, by the code under test."""
    return shared_boto3_session().client(service, region_name=region)


@pytest.fixture(scope="session")
def simulators() -> Iterator[tuple[Any, Any]]:
    edulastic, mastery_track = start_simulators()
    yield edulastic, mastery_track
    edulastic.stop()
    mastery_track.stop()


@dataclass
class Service:
    """The deployed service, as seen by a test: handlers, table and simulators."""

    resources: Any
    edulastic: Any
    mastery_track: Any

    @property
    def table(self) -> str:
        return str(self.resources.table_name)

    @property
    def dynamodb(self) -> Any:
        """The tests' own DynamoDB client."""
        return aws_client("dynamodb", REGION)

    def invoke(self, function_dir: str, event: dict[str, Any]) -> dict[str, Any]:
        from local.lambda_dispatch import load_handler, make_context

        handler = load_handler(ROOT / "functions" / function_dir)
        result: dict[str, Any] = handler(event, make_context(function_dir, timeout_seconds=29.0))
        return result

    def http(
        self, function_dir: str, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Any, dict[str, str]]:
        answer = self.invoke(function_dir, http_event(method, path, **kwargs))
        body = json.loads(answer["body"]) if answer.get("body") else None
        return answer["statusCode"], body, answer.get("headers") or {}

    def assign(self, student: str, lesson: str, **extra: Any) -> tuple[int, Any]:
        status, body, _ = self.http(
            "assign",
            "POST",
            "/powerpath/makeExternalTestAssignment",
            body={"student": student, "lesson": lesson, **extra},
        )
        return status, body

    def import_results(self, student: str, lesson: str) -> tuple[int, Any]:
        status, body, _ = self.http(
            "import_results",
            "GET",
            "/powerpath/importExternalTestAssignmentResults",
            query={"student": student, "lesson": lesson},
        )
        return status, body

    def progress(self, student: str, lesson: str, attempt: str | None = None) -> tuple[int, Any]:
        query = {"student": student, "lesson": lesson, **({"attempt": attempt} if attempt else {})}
        status, body, _ = self.http("progress", "GET", "/powerpath/getAssessmentProgress", query=query)
        return status, body

    def write_back(self, sourced_id: str, body: Any = None, raw_body: str | None = None) -> tuple[int, Any]:
        path = f"/ims/oneroster/gradebook/v1p2/assessmentResults/{sourced_id}"
        status, answer, _ = self.http(
            "writeback",
            "PUT",
            path,
            body=body,
            raw_body=raw_body,
            path_parameters={"sourcedId": sourced_id},
            route="/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}",
        )
        return status, answer

    def items(self) -> list[dict[str, Any]]:
        """Every item in the table (tests only: the service itself never scans)."""
        client = self.dynamodb
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            page = client.scan(**kwargs)
            found.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def snapshot(self) -> list[str]:
        """Every item of the table, each as sorted JSON, sorted (read from moto's backend)."""
        return moto_table_snapshot(self.table, REGION)

    def scanned(self) -> list[str]:
        """The same, read by a scan through the API (the check that `snapshot` reads the same)."""
        return sorted(json.dumps(item, sort_keys=True) for item in self.items())

    def head(self, student: str, lesson: str) -> Any:
        from exttests.adapters.dynamo.store import DynamoStore

        return DynamoStore(self.table, self.dynamodb).get_head(student, lesson)

    def wait_for_callback(self, student: str, lesson: str, timeout: float = 10.0) -> Any:
        """The MasteryTrack workflow registers its task token right after assign; tests that
        compare table snapshots wait for that write first."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head = self.head(student, lesson)
            if head is not None and head.task_token:
                return head
            time.sleep(0.02)
        raise AssertionError("the workflow did not register its callback")

    def edulastic_control(self, route: str, body: dict[str, Any] | None = None) -> Any:
        base = self.edulastic.app_url
        answer = requests.post(f"{base}/_control/{route}", json=body or {}, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def mastery_track_control(self, route: str, body: dict[str, Any] | None = None) -> Any:
        base = self.mastery_track.url.rsplit("/", 1)[0]
        answer = requests.post(f"{base}/_control/{route}", json=body or {}, timeout=10)
        answer.raise_for_status()
        return answer.json()


def service_env(edulastic: Any, mastery_track: Any, resources: Any, waits: str) -> dict[str, str]:
    return {
        "TABLE_NAME": resources.table_name,
        "STATE_MACHINE_ARN": resources.state_machine_arn,
        "CREDENTIALS_KMS_KEY_ID": resources.kms_key_id,
        "EDULASTIC_BASE_URL": edulastic.url,
        "EDULASTIC_APP_URL": edulastic.app_url,
        "EDULASTIC_USERNAME": EDU_USER["username"],
        "EDULASTIC_PASSWORD": EDU_USER["password"],
        "EDULASTIC_CLASS_ID": EDU_USER["class_id"],
        "EDULASTIC_CLASS_CODE": EDU_USER["class_code"],
        "EDULASTIC_DISTRICT_ID": "district-int-1",
        "MASTERY_TRACK_BASE_URL": mastery_track.url,
        "MASTERY_TRACK_API_KEY": MT_USER["api_key"],
        "MASTERY_TRACK_EMAIL": MT_USER["api_email"],
        "WORKFLOW_WAIT_SECONDS": waits,
        "CALLBACK_TIMEOUT_SECONDS": "3600",
        "POWERTOOLS_SERVICE_NAME": "external-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "ExternalTests",
        "ASSIGN_LEASE_SECONDS": "10",
        # Fast retries so outage tests take milliseconds; the behaviour is the same.
        "PROVIDER_BACKOFF_BASE": "0.01",
        "PROVIDER_BACKOFF_CAP": "0.05",
        "PROVIDER_RETRY_AFTER_CAP": "0.1",
        "PROVIDER_READ_TIMEOUT": "5",
        "PROVIDER_BREAKER_THRESHOLD": "3",
        "PROVIDER_BREAKER_COOLDOWN": "30",
    }


@pytest.fixture
def workflow_waits() -> str:
    """Long waits by default: the workflow stays parked so tests drive the API themselves."""
    return "3600"


@pytest.fixture
def service(
    monkeypatch: pytest.MonkeyPatch, simulators: tuple[Any, Any], workflow_waits: str
) -> Iterator[Service]:
    from exttests import wiring
    from exttests.providers.http import reset_state
    from exttests.roster_loader import load_roster_file
    from local.aws_resources import create_resources
    from local.lambda_dispatch import install, mock_aws_with_workflow

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    edulastic, mastery_track = simulators
    for sim in (edulastic, mastery_track):
        requests.post(f"{sim.url.rsplit('/', 1)[0]}/_control/reset", json={}, timeout=10).raise_for_status()
    with mock_aws_with_workflow():
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", shared_boto3_session())
        resources = create_resources(ROOT / "template.yaml", clients=aws_client)
        install(resources.dispatch_registry())
        for name, value in service_env(edulastic, mastery_track, resources, workflow_waits).items():
            monkeypatch.setenv(name, value)
        load_roster_file(str(DEMO_ROSTER), resources.table_name, client=aws_client("dynamodb", REGION))
        wiring.reset()
        reset_state()
        yield Service(resources, edulastic, mastery_track)
        wiring.reset()
    os.environ.pop("MOTO_PORT", None)


def pytest_configure(config: pytest.Config) -> None:
    xdist_groups.register(config)  # which tests share a worker (make test: --dist loadgroup)


# --- time per tier (printed at the end of `make test`) -------------------------------------------

_TIER_SECONDS: dict[str, float] = {}
_TIER_TESTS: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if hasattr(report, "context"):  # a subtest's report: its time is already in its test's
        return
    tier = report.nodeid.split("/", 2)[1] if report.nodeid.startswith("tests/") else "other"
    _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + report.duration
    if report.when == "call":
        _TIER_TESTS[tier] = _TIER_TESTS.get(tier, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TIER_SECONDS:
        return
    terminalreporter.section("time per tier (test seconds, set-up included; workers run in parallel)")
    for tier in ("unit", "contract", "integration", "e2e"):
        if tier in _TIER_SECONDS:
            terminalreporter.write_line(
                f"{tier:<12} {_TIER_TESTS.get(tier, 0):>5} tests {_TIER_SECONDS[tier]:>8.1f} s"
            )
