"""Nothing lost, nothing duplicated, nothing leaked: concurrency, crashes between writes, secrets."""

from __future__ import annotations

import base64
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from exttests import wiring
from exttests.adapters.dynamo.store import DynamoStore
from exttests.api.oneroster import WriteBackBody
from exttests.domain.attempt import AttemptStatus, EnrollmentStatus
from exttests.providers.http import token_cache
from exttests.usecases import workflow_tasks as tasks
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.results import import_results, write_back
from exttests.usecases.workflow_tasks import sweep
from tests.integration.test_results import (
    ADA,
    ADA_EMAIL,
    EDU_TESTOUT,
    MT_TESTOUT,
    enrollments,
    finish,
    writeback_body,
)
from tests.support import EDU_USER, MT_USER

ALL_CORRECT = [{"index": i, "score": 2 if i == 2 else 1, "correct": True} for i in range(4)]


def assignments_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(state["assignments"])


# The use cases are called from threads directly: in AWS every request runs in its own Lambda
# container, so nothing in-process serializes them — only the table's conditional writes do.


@pytest.mark.parametrize("lesson", [EDU_TESTOUT, MT_TESTOUT])
def test_fifty_concurrent_identical_assigns_make_one_provider_assignment(service: Any, lesson: str) -> None:
    deps = wiring.deps()
    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(lambda _: assign(deps, AssignCommand(ADA, lesson)), range(50)))

    assert len({o.attempt.assignment_id for o in outcomes}) == 1
    assert len({o.attempt.sourced_id for o in outcomes}) == 1
    assert len({o.credentials for o in outcomes}) == 1  # frozen records: hashable
    simulator = service.edulastic if lesson == EDU_TESTOUT else service.mastery_track
    assert len(assignments_of(simulator.state)) == 1


def _record(body: dict[str, Any]) -> dict[str, Any]:
    return WriteBackBody.model_validate(body).assessmentResult.model_dump(exclude_none=True)


def test_concurrent_imports_writebacks_and_workflow_tasks_lose_nothing(service: Any) -> None:
    """Many writers on one attempt: every write-back field lands, the attempt ends final, and
    the student is enrolled exactly once."""
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    head = service.wait_for_callback(ADA, MT_TESTOUT)
    deps = wiring.deps()

    def work(i: int, final: bool = False) -> Any:
        kind = i % 4
        if final and kind == 0:
            return write_back(deps, head.sourced_id, _record(writeback_body(score=95))).attempt.score_status
        if kind == 0:  # partial write-backs, each with its own extra field
            body = writeback_body(score=50, status="partially graded", **{f"ext{i}": i})
            return write_back(deps, head.sourced_id, _record(body)).attempt.version
        if kind == 1:
            return import_results(deps, ADA, MT_TESTOUT).attempt.version
        if kind == 2:
            return tasks.poll(deps, ADA, MT_TESTOUT, 1, 0, [3600])["step"]
        return tasks.enroll(deps, ADA, MT_TESTOUT, 1)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(work, range(40)))
    stored = deps.store.get_head(ADA, MT_TESTOUT)
    assert stored is not None and not stored.is_final
    extras = {k for k in (stored.writeback or {}) if k.startswith("ext")}
    assert extras == {f"ext{i}" for i in range(0, 40, 4)}  # no write-back was lost

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: work(i, final=True), range(40)))

    stored = deps.store.get_head(ADA, MT_TESTOUT)
    assert stored.finalized and stored.score == 95 and stored.enrollment == EnrollmentStatus.ENROLLED
    assert enrollments(service, ADA) == ["course-math-g6"]


@pytest.mark.parametrize("lesson", [EDU_TESTOUT, MT_TESTOUT])
def test_crash_between_provider_call_and_write_reuses_the_provider_assignment(
    service: Any, monkeypatch: pytest.MonkeyPatch, lesson: str
) -> None:
    monkeypatch.setenv("ASSIGN_LEASE_SECONDS", "0.3")
    wiring.reset()
    original = DynamoStore.save
    crashes = {"left": 1}

    def crash_once(self: DynamoStore, attempt: Any, **kwargs: Any) -> Any:
        if attempt.status == AttemptStatus.ASSIGNED and crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("injected crash after the provider accepted the assignment")
        return original(self, attempt, **kwargs)

    monkeypatch.setattr(DynamoStore, "save", crash_once)
    status, body = service.assign(ADA, lesson)
    assert status == 500 and body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == (
        "internal_server_error"
    )
    simulator = service.edulastic if lesson == EDU_TESTOUT else service.mastery_track
    [accepted] = assignments_of(simulator.state)
    assert service.head(ADA, lesson).status == AttemptStatus.ASSIGNING  # the intent survived

    status, body = service.assign(ADA, lesson)  # the client retries (after the lease)

    assert status == 200, body
    assert body["assignmentId"] == (accepted["_id"] if lesson == EDU_TESTOUT else accepted["id"])
    assert len(assignments_of(simulator.state)) == 1  # the student never gets two
    assert service.head(ADA, lesson).status == AttemptStatus.ASSIGNED


def test_sweeper_finishes_an_assignment_whose_request_crashed(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSIGN_LEASE_SECONDS", "0.1")
    monkeypatch.setenv("SWEEPER_GRACE_SECONDS", "0")
    wiring.reset()
    original = DynamoStore.save

    def crash(self: DynamoStore, attempt: Any, **kwargs: Any) -> Any:
        if attempt.status == AttemptStatus.ASSIGNED:
            raise RuntimeError("injected crash")
        return original(self, attempt, **kwargs)

    monkeypatch.setattr(DynamoStore, "save", crash)
    assert service.assign(ADA, EDU_TESTOUT)[0] == 500
    monkeypatch.setattr(DynamoStore, "save", original)
    import time

    time.sleep(0.2)  # the lease runs out; nobody retries

    report = sweep(wiring.deps())

    assert report.resumed_assignments == 1
    head = service.head(ADA, EDU_TESTOUT)
    assert head.status == AttemptStatus.ASSIGNED and head.workflow_started
    assert len(assignments_of(service.edulastic.state)) == 1


# --- secrets --------------------------------------------------------------------------------


def test_no_secret_reaches_a_log_line_or_an_error_body(
    service: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("", "exttests", "botocore", "urllib3", "local", "external-tests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    bodies: list[str] = []

    # A full scenario on both providers, including errors and a provider outage.
    status, assigned = service.assign(ADA, EDU_TESTOUT)
    assert status == 200
    bodies.append(json.dumps(service.assign("student-noemail", EDU_TESTOUT)[1]))
    finish(service, EDU_TESTOUT, ALL_CORRECT)
    bodies.append(json.dumps(service.import_results(ADA, EDU_TESTOUT)[1]["finalized"]))
    assert service.assign(ADA, MT_TESTOUT)[0] == 200
    head = service.wait_for_callback(ADA, MT_TESTOUT)
    bodies.append(json.dumps(service.write_back(head.sourced_id, writeback_body(score=95))[1]))
    bodies.append(json.dumps(service.write_back(head.sourced_id, raw_body="{bad")[1]))
    service.edulastic_control("faults", {"outage": True})
    bodies.append(json.dumps(service.assign("student-alan", EDU_TESTOUT)[1]))
    service.edulastic_control("faults", {})

    password = assigned["credentials"]["password"]
    tokens = [entry[0] for entry in (token_cache.get(k) for k in list(token_cache._tokens)) if entry]
    assert tokens, "the scenario should have logged in to the providers"
    secrets = [password, EDU_USER["password"], MT_USER["api_key"], *tokens]
    logged = caplog.text + capsys.readouterr().out
    assert ADA_EMAIL  # emails are not secrets; passwords, keys and tokens are
    for secret in secrets:
        encoded = base64.b64encode(secret.encode()).decode().rstrip("=")
        for text in (logged, *bodies):
            assert secret not in text
            assert encoded not in text
