"""Provider faults end to end: the whole local stack (`python -m local.stack`) in a subprocess of its own.

- Soak: both simulators inject ~30 % faults (5xx, read timeouts, 429 + Retry-After) on every
  provider route; 60 assignments (30 Edulastic, 30 MasteryTrack) are made over HTTP by a client
  that retries 502/503/429 like a real one, the simulated students finish, and the finalization
  workflow alone (no client poll) must finalize and enroll every one of them: none lost, none
  duplicated, no execution failed.
- Two failures the soak once hit, each reproduced deterministically: a MasteryTrack result lost
  after an assign that failed late (the write-back went to an abandoned intent's sourcedId), and
  Edulastic credentials withheld after an assign that failed after creating the student.
- Circuit breaker: under a full Edulastic outage the assign answers 502 until the breaker opens,
  then 503 + Retry-After without calling the provider; after the outage and the cool-down the next
  request goes through (half-open) and the circuit closes.

Each test starts its own stack (its own settings; the session stack of conftest.py parks the
workflow). A subprocess, not an in-process LocalStack: the same pytest worker also runs the moto
integration tests, and LocalStack.start() resets moto and rewrites os.environ.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import StackProcess, Student, e2e_student, running_stack
from tests.e2e.conftest import write_roster as write_e2e_roster
from tests.support import FULL_SCALE, at_scale

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT = 30.0
EDU_LESSON = "lesson-edu-testout-math-g5"  # Edulastic test edu-test-algebra-1: max scores 1, 1, 2, 1
MT_LESSON = "lesson-mt-testout-math-g5"
EDU_TEST_ID = "edu-test-algebra-1"
MT_TEST_ID = "mt-math-g5"
NEXT_COURSE = "course-math-g6"  # test-out of math grade 5 at >= 90 enrolls in grade 6
EDU_MAX_SCORES = [1, 1, 2, 1]
SOAK_STUDENTS = 120
SOAK_PER_PROVIDER = at_scale(6, 30)  # each costs the local stack ~0.5 s of CPU
SOAK_THREADS = 8
FINALIZE_TIMEOUT = 120.0
CLIENT_MAX_ATTEMPTS = 10  # the client's own bound on retrying one assign
CLIENT_RETRY_AFTER_CAP = 5.0
BREAKER_THRESHOLD = 3
BREAKER_COOLDOWN = 2.0


def soak_student(n: int) -> Student:
    return e2e_student(n, "soak")


def write_roster(directory: Path) -> Path:
    return write_e2e_roster(directory, "soak", SOAK_STUDENTS)


# --- a client that behaves like a real one ----------------------------------------------


@dataclass
class AssignOutcome:
    student: Student
    lesson: str
    statuses: list[int] = field(default_factory=list)
    body: dict[str, Any] | None = None
    last_text: str = ""
    seconds: float = 0.0


def retry_delay(answer: requests.Response, attempt: int) -> float:
    raw = answer.headers.get("Retry-After")
    try:
        return min(float(raw), CLIENT_RETRY_AFTER_CAP) if raw else min(0.2 * 2**attempt, 2.0)
    except ValueError:
        return 1.0


def assign_with_retries(stack: StackProcess, student: Student, lesson: str) -> AssignOutcome:
    """POST makeExternalTestAssignment; retry 502/503/429 (Retry-After honoured), bounded.

    The contract makes assign idempotent for an attempt that is not finalized, so a retry
    after a failed or lost answer is safe."""
    outcome = AssignOutcome(student, lesson)
    started = time.monotonic()
    for attempt in range(CLIENT_MAX_ATTEMPTS):
        answer = stack.assign(student.id, lesson, applicationName="soak")
        outcome.statuses.append(answer.status_code)
        outcome.last_text = answer.text[:500]
        if answer.status_code == 200:
            outcome.body = answer.json()
            break
        if answer.status_code not in (429, 502, 503):
            break
        time.sleep(retry_delay(answer, attempt))
    outcome.seconds = time.monotonic() - started
    return outcome


def finish(stack: StackProcess, outcome: AssignOutcome) -> dict[str, Any]:
    """The simulated student finishes the test, all correct (control routes: never faulted)."""
    assert outcome.body is not None
    assignment_id = outcome.body["assignmentId"]
    if outcome.body["toolProvider"] == "edulastic":
        questions = [
            {"index": i, "score": m, "maxScore": m, "correct": True, "feedback": "Correct"}
            for i, m in enumerate(EDU_MAX_SCORES)
        ]
        return dict(
            stack.edulastic_control(
                "finish",
                {
                    "assignmentId": assignment_id,
                    "email": outcome.student.email,
                    "graded": "GRADED",
                    "questions": questions,
                },
            )
        )
    # The simulator writes the result back to the service meanwhile.
    finished = stack.mastery_track_control(
        "finish",
        {
            "assignmentId": assignment_id,
            "score": 95,
            "totalQuestions": 20,
            "correctQuestions": 19,
            "scoreStatus": "fully graded",
            "processed": True,
        },
    )
    return dict(finished)


def set_faults(stack: StackProcess, body: dict[str, Any]) -> None:
    for root in (stack.edulastic_root, stack.mastery_track_root):
        answer = requests.post(f"{root}/_control/faults", json=body, timeout=HTTP_TIMEOUT)
        assert answer.status_code == 200, answer.text


def get_faults(root: str) -> dict[str, Any]:
    answer = requests.get(f"{root}/_control/faults", timeout=HTTP_TIMEOUT)
    answer.raise_for_status()
    faults: dict[str, Any] = answer.json()["faults"]
    return faults


def all_executions(stack: StackProcess) -> list[dict[str, Any]]:
    sfn = stack.aws("stepfunctions")
    found: list[dict[str, Any]] = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            found.extend(page["executions"])
    return found


def execution_report(stack: StackProcess, arn: str) -> str:
    sfn = stack.aws("stepfunctions")
    described = sfn.describe_execution(executionArn=arn)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    lines = [f"{arn}: {described['status']} input={described.get('input')}"]
    for event in events:
        details = {k: v for k, v in event.items() if k.endswith("EventDetails")}
        lines.append(f"  {event['id']:>3} {event['type']:<28} {json.dumps(details, default=str)[:300]}")
    return "\n".join(lines)


def sim_calls(state: dict[str, Any]) -> int:
    return sum(int(n) for n in state["calls"].values())


# --- the soak -----------------------------------------------------------------------------

SOAK_SETTINGS = {
    "WORKFLOW_WAIT_SECONDS": "1,1,2",
    # MasteryTrack is woken by the write-back; the timeout is only the fallback to polling.
    "CALLBACK_TIMEOUT_SECONDS": "30",
    "PROVIDER_READ_TIMEOUT": "1",
    "PROVIDER_MAX_ATTEMPTS": "4",
    "PROVIDER_BACKOFF_BASE": "0.05",
    "PROVIDER_BACKOFF_CAP": "0.5",
    "PROVIDER_RETRY_AFTER_CAP": "2",
    "PROVIDER_BREAKER_THRESHOLD": "5",
    "PROVIDER_BREAKER_COOLDOWN": "2",
}
# A little more of each fault on the small soak, so that every kind still happens on both providers.
FAULT_RATE = 0.1 if FULL_SCALE else 0.15
SOAK_FAULTS = {
    "errorRate": FAULT_RATE,  # 500/502/503
    "timeoutRate": FAULT_RATE,  # processed, answered after 2 s: the service's 1 s read timeout fires
    "timeoutSeconds": 2,
    "rateLimitRate": FAULT_RATE,  # 429 + Retry-After: 1
    "retryAfter": 1,
    "seed": 20250106,
}


@pytest.fixture
def soak_stack(tmp_path: Path) -> Iterator[StackProcess]:
    with running_stack(write_roster(tmp_path), SOAK_SETTINGS) as stack:
        yield stack


def lost_write_back(stack: StackProcess, outcome: AssignOutcome, finished: dict[str, Any]) -> str | None:
    """Why a MasteryTrack write-back was refused, when it is the known bug (else None).

    BUG (see test_mastery_track_write_back_after_an_assign_that_failed_late): an assign whose
    MasteryTrack create went through but whose request still failed (502) abandons its intent and
    its AssessmentResult sourcedId; the client's retry makes a new intent with a new sourcedId and
    reuses the existing assignment (409 ASSIGNMENT_EXISTS), which still carries the old sourcedId.
    MasteryTrack writes back to the old one: 404, and the result is lost."""
    write_back = finished.get("writeBack") or {}
    if write_back.get("status") != 404:
        return None
    head = stack.head(outcome.student.id, outcome.lesson) or {}
    written_to = str(write_back.get("url", "")).rsplit("/", 1)[-1]
    if written_to == head.get("sourced_id"):
        return None
    return (
        f"{outcome.student.id}: assign answers {outcome.statuses}; MasteryTrack wrote back to {written_to}"
        f" -> 404; the service's attempt has sourcedId {head.get('sourced_id')}"
    )


@pytest.mark.scaled
def test_soak_under_provider_faults_loses_no_assignment_result_or_enrollment(
    soak_stack: StackProcess,
) -> None:
    stack = soak_stack
    started = time.monotonic()
    set_faults(stack, SOAK_FAULTS)
    jobs = [(soak_student(n), EDU_LESSON) for n in range(SOAK_PER_PROVIDER)] + [
        (soak_student(SOAK_PER_PROVIDER + n), MT_LESSON) for n in range(SOAK_PER_PROVIDER)
    ]

    def assign_and_finish(job: tuple[Student, str]) -> tuple[AssignOutcome, dict[str, Any] | None]:
        outcome = assign_with_retries(stack, *job)
        return outcome, (finish(stack, outcome) if outcome.body is not None else None)

    with ThreadPoolExecutor(SOAK_THREADS) as pool:
        results = list(pool.map(assign_and_finish, jobs))
    assigned_at = time.monotonic()
    outcomes = [outcome for outcome, _ in results]
    answers = Counter(status for outcome in outcomes for status in outcome.statuses)
    unassigned = [(o.student.id, o.lesson, o.statuses, o.last_text) for o in outcomes if o.body is None]
    write_backs = Counter(
        str((finished.get("writeBack") or {}).get("status"))
        for outcome, finished in results
        if finished is not None and outcome.lesson == MT_LESSON
    )
    known_bug: dict[tuple[str, str], str] = {}
    for outcome, finished in results:
        if finished is not None and outcome.lesson == MT_LESSON:
            why = lost_write_back(stack, outcome, finished)
            if why is not None:
                known_bug[(outcome.student.id, outcome.lesson)] = why

    # Wait, without any client poll of importExternalTestAssignmentResults, for the workflow to
    # finalize and enroll everyone. getAssessmentProgress is a read that never calls a provider.
    pending = {(o.student.id, o.lesson) for o in outcomes if o.body is not None} - set(known_bug)
    progress: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + FINALIZE_TIMEOUT
    while pending and time.monotonic() < deadline:
        for key in sorted(pending):
            answer = stack.progress(*key)
            assert answer.status_code == 200, (key, answer.status_code, answer.text)
            body = answer.json()
            if body["finalized"] and NEXT_COURSE in stack.enrollments(key[0]):
                progress[key] = body
                pending.discard(key)
        if pending:
            time.sleep(0.5)
    finalized_at = time.monotonic()
    # An execution ends right after its Enroll task; give the last ones a moment to be recorded.
    settle = time.monotonic() + 10
    executions = all_executions(stack)
    while sum(e["status"] == "RUNNING" for e in executions) > len(known_bug) and time.monotonic() < settle:
        time.sleep(0.5)
        executions = all_executions(stack)
    sfn = stack.aws("stepfunctions")
    execution_of: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for execution in executions:
        given = json.loads(
            sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}"
        )
        execution_of.setdefault((given.get("student"), given.get("lesson")), []).append(execution)

    set_faults(stack, {})  # stop injecting before the bookkeeping reads
    edulastic = stack.edulastic_state()
    mastery_track = stack.mastery_track_state()
    by_status = Counter(e["status"] for e in executions)
    attempts = [o.statuses for o in outcomes]
    # BUG (see test_edulastic_credentials_after_an_assign_that_failed_after_creating_the_student):
    # a request that created the student and then failed leaves a retry that omits credentials.
    missing_credentials = {
        (o.student.id, o.lesson): f"{o.student.id}: assign answers {o.statuses}; credentials omitted"
        for o in outcomes
        if o.lesson == EDU_LESSON
        and o.body is not None
        and "credentials" not in o.body
        and o.statuses[0] != 200
    }
    print(
        "\n--- provider-fault soak ---"
        f"\nassignments: {len(jobs)} ({SOAK_PER_PROVIDER} Edulastic, {SOAK_PER_PROVIDER} MasteryTrack),"
        f" {SOAK_THREADS} client threads, faults {SOAK_FAULTS}"
        f"\nassign answers by status (incl. client retries): {dict(sorted(answers.items()))}"
        f"\nclient attempts per assignment: {dict(sorted(Counter(map(len, attempts)).items()))}"
        f"\nslowest assign (incl. retries): {max(o.seconds for o in outcomes):.1f} s"
        f"\nMasteryTrack write-backs by status: {dict(write_backs)}"
        f"\nEdulastic provider calls: {sim_calls(edulastic)} {edulastic['calls']}"
        f"\nEdulastic faults injected: {edulastic['faults']['injected']}"
        f"\nMasteryTrack provider calls: {sim_calls(mastery_track)} {mastery_track['calls']}"
        f"\nMasteryTrack faults injected: {mastery_track['faults']['injected']}"
        f"\nexecutions by status: {dict(by_status)} (total {len(executions)})"
        f"\nfinalized + enrolled: {len(progress)}/{len(jobs)}"
        f"\nwrite-backs lost: {len(known_bug)}"
        + "".join(f"\n  {why}" for why in known_bug.values())
        + f"\nEdulastic credentials omitted after a failed request: {len(missing_credentials)}"
        + "".join(f"\n  {why}" for why in missing_credentials.values())
        + f"\ntime: assign+finish {assigned_at - started:.1f} s, until all final"
        f" {finalized_at - started:.1f} s, total {time.monotonic() - started:.1f} s",
        flush=True,
    )

    # Faults were really injected, of every kind, on both providers.
    for state in (edulastic, mastery_track):
        assert {"error", "timeout", "rate_limit"} <= set(state["faults"]["injected"]), state["faults"]
    # Every assignment was made; a 500 is a bug and a 4xx other than 429 is wrong here.
    assert not unassigned, unassigned
    assert not [s for s in answers if s not in (200, 429, 502, 503)], answers
    assert write_backs["200"] + len(known_bug) == SOAK_PER_PROVIDER, write_backs
    # None lost: every attempt finalized and enrolled through the workflow.
    assert not pending, f"not finalized/enrolled after {FINALIZE_TIMEOUT:.0f} s: {sorted(pending)}"
    for (student_id, lesson), body in progress.items():
        assert body["attempt"] == 1, (student_id, lesson, body)
        assert body["enrollmentFailed"] is False, (student_id, lesson, body)
        assert body["accuracy"] >= 90, (student_id, lesson, body)

    # None duplicated or mixed up: exactly one enrollment per student, one provider account and
    # one provider assignment per (student, test), and it is the one the service answered with.
    email_by_user = {u["_id"]: u["email"] for u in edulastic["users"]}
    edu_users = Counter(email_by_user.values())
    edu_assigned = Counter(
        (email_by_user.get(sid), a["testId"])
        for a in edulastic["assignments"]
        for cls in a["class"]
        for sid in cls["students"]
    )
    mt_assigned = Counter((a["student_email"], a["timeback_id"]) for a in mastery_track["assignments"])
    for outcome in outcomes:
        key = (outcome.student.id, outcome.lesson)
        assert outcome.body is not None
        assert stack.enrollments(outcome.student.id) == ([] if key in known_bug else [NEXT_COURSE]), key
        if outcome.lesson == EDU_LESSON:
            [user] = [u for u in edulastic["users"] if u["email"] == outcome.student.email]
            if key not in missing_credentials:
                credentials = outcome.body.get("credentials") or {}
                assert credentials.get("email") == outcome.student.email, (key, outcome.body)
                assert credentials.get("password") == user["password"], key
            assert edu_users[outcome.student.email] == 1, (key, edu_users[outcome.student.email])
            assert edu_assigned[(outcome.student.email, EDU_TEST_ID)] == 1, key
            [assignment] = stack.edulastic_assignments_of(outcome.student.email)
            assert assignment["_id"] == outcome.body["assignmentId"], (key, assignment, outcome.body)
        else:
            assert mt_assigned[(outcome.student.email, MT_TEST_ID)] == 1, key
            [assignment] = [
                a for a in mastery_track["assignments"] if a["student_email"] == outcome.student.email
            ]
            assert assignment["id"] == outcome.body["assignmentId"], (key, assignment, outcome.body)
    assert sum(edu_assigned.values()) == len(edulastic["assignments"]) == SOAK_PER_PROVIDER, edu_assigned
    assert len(mastery_track["assignments"]) == SOAK_PER_PROVIDER, mt_assigned

    # The workflow did it, without failures: one execution per attempt, none FAILED.
    failed = [e["executionArn"] for e in executions if e["status"] not in ("SUCCEEDED", "RUNNING")]
    assert not failed, "\n".join(execution_report(stack, arn) for arn in failed[:5])
    for outcome in outcomes:
        key = (outcome.student.id, outcome.lesson)
        runs = execution_of.get(key, [])
        assert len(runs) == 1, (key, runs)
        if key not in known_bug:
            assert runs[0]["status"] == "SUCCEEDED", execution_report(stack, runs[0]["executionArn"])
    assert len(executions) == len(jobs), by_status

    # The two failures this soak once found (see the tests below) must not come back.
    bugs = []
    if known_bug:
        bugs.append(
            f"{len(known_bug)} MasteryTrack result(s) lost: the write-back went to the sourcedId of an"
            " abandoned intent (see test_mastery_track_write_back_after_an_assign_that_failed_late)"
        )
    if missing_credentials:
        bugs.append(
            f"{len(missing_credentials)} Edulastic student(s) created by the service got no credentials (see"
            " test_edulastic_credentials_after_an_assign_that_failed_after_creating_the_student)"
        )
    assert not bugs, bugs


# --- a long provider outage while the workflows poll ----------------------------------------

# Time scaled down: the workflow's 2 s waits stand for the minutes between its polls, the
# breaker's 1 s cool-down for its 30 s. Edulastic's result routes (what a poll calls) are down from
# before the first assignment, the whole of Edulastic once all are assigned, and it stays down
# until every workflow has polled into the outage at least MIN_POLLS_INTO_THE_OUTAGE times.
OUTAGE_WORKFLOWS = at_scale(10, 50)
OUTAGE_WAIT_SECONDS = at_scale(1, 2)
MIN_POLLS_INTO_THE_OUTAGE = 3
OUTAGE_LIMIT = 60.0  # seconds: the test fails if the polls do not come within this
RESULT_ROUTES = [
    "POST /assignments/{assignmentId}/classes/{classId}/test-activity",
    "GET /test/{testId}/minimal",
]
OUTAGE_SETTINGS = {
    "WORKFLOW_WAIT_SECONDS": str(OUTAGE_WAIT_SECONDS),
    "CALLBACK_TIMEOUT_SECONDS": "3600",
    "SWEEPER_INTERVAL_SECONDS": "0",  # no sweeper: the workflows alone must ride the outage out
    "PROVIDER_READ_TIMEOUT": "1",
    "PROVIDER_BACKOFF_BASE": "0.05",
    "PROVIDER_BACKOFF_CAP": "0.2",
    "PROVIDER_BREAKER_THRESHOLD": "5",
    "PROVIDER_BREAKER_COOLDOWN": "1",
}


@pytest.fixture
def outage_stack(tmp_path: Path) -> Iterator[StackProcess]:
    with running_stack(write_roster(tmp_path), OUTAGE_SETTINGS) as stack:
        yield stack


def polls_into_the_outage(stack: StackProcess, arn: str) -> Counter[str]:
    """The execution's polls answered "not yet, the provider is out", by the error they met."""
    history = stack.aws("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    met: Counter[str] = Counter()
    for event in history:
        output = (event.get("taskSucceededEventDetails") or {}).get("output")
        retrying = json.loads(output).get("Payload", {}).get("retrying") if output else None
        if retrying:
            met[str(retrying)] += 1
    return met


def fewest_polls_into_the_outage(stack: StackProcess) -> int:
    executions = all_executions(stack)
    counts = [sum(polls_into_the_outage(stack, e["executionArn"]).values()) for e in executions]
    return min(counts) if len(counts) == OUTAGE_WORKFLOWS else 0


@pytest.mark.scaled
def test_a_long_provider_outage_while_the_workflows_poll_loses_nothing(
    outage_stack: StackProcess,
) -> None:
    stack = outage_stack
    set_faults(stack, {"outage": True, "routes": RESULT_ROUTES})
    started = time.monotonic()

    def assign_and_finish(student: Student) -> AssignOutcome:
        outcome = assign_with_retries(stack, student, EDU_LESSON)
        if outcome.body is not None:
            finish(stack, outcome)  # the simulator's control routes answer during the outage
        return outcome

    with ThreadPoolExecutor(SOAK_THREADS) as pool:
        outcomes = list(pool.map(assign_and_finish, [soak_student(n) for n in range(OUTAGE_WORKFLOWS)]))
    assert all(o.statuses == [200] for o in outcomes), [(o.student.id, o.statuses) for o in outcomes]
    set_faults(stack, {"outage": True})
    assigned = time.monotonic()
    # The last workflow's first wait and two more; then, slow as the machine may be, until all did.
    time.sleep(MIN_POLLS_INTO_THE_OUTAGE * OUTAGE_WAIT_SECONDS + 0.5)
    while fewest_polls_into_the_outage(stack) < MIN_POLLS_INTO_THE_OUTAGE:
        assert time.monotonic() < assigned + OUTAGE_LIMIT, "the workflows stopped polling"
        time.sleep(0.3)  # the outage ends as soon as the last workflow has polled into it enough
    set_faults(stack, {})
    outage_ended = time.monotonic()

    deadline = outage_ended + FINALIZE_TIMEOUT
    executions = all_executions(stack)
    while time.monotonic() < deadline and any(e["status"] == "RUNNING" for e in executions):
        time.sleep(0.2)
        executions = all_executions(stack)
    settled = time.monotonic()
    by_status = Counter(e["status"] for e in executions)
    polls = {e["name"]: polls_into_the_outage(stack, e["executionArn"]) for e in executions}
    met_in_total = sum(polls.values(), Counter[str]())
    per_workflow = sorted(sum(met.values()) for met in polls.values())
    edulastic = stack.edulastic_state()
    print(
        "\n--- provider outage while the workflows poll ---"
        f"\nworkflows: {OUTAGE_WORKFLOWS}, a poll every {OUTAGE_WAIT_SECONDS} s; outage"
        f" {outage_ended - started:.1f} s (all of Edulastic for the last {outage_ended - assigned:.1f} s)"
        f"\npolls into the outage: {sum(met_in_total.values())} ({dict(met_in_total)}),"
        f" per workflow {per_workflow[0]}–{per_workflow[-1]}"
        f"\nEdulastic calls answered 503 by the outage: {edulastic['faults']['injected']}"
        f"\nexecutions by status: {dict(by_status)}"
        f"\ntime: assign {assigned - started:.1f} s, all final {settled - outage_ended:.1f} s after"
        f" the outage, total {settled - started:.1f} s",
        flush=True,
    )

    # Every workflow polled into the outage several times and rode it out: one execution each
    # (generation 0: the sweeper restarted nothing), none failed.
    assert len(executions) == OUTAGE_WORKFLOWS, by_status
    failed = [e["executionArn"] for e in executions if e["status"] != "SUCCEEDED"]
    assert not failed, "\n".join(execution_report(stack, arn) for arn in failed[:3])
    assert all(e["name"].endswith("-g0") for e in executions), [e["name"] for e in executions]
    assert per_workflow[0] >= MIN_POLLS_INTO_THE_OUTAGE, polls
    # All 50 finalized and enrolled, once.
    for student in (o.student for o in outcomes):
        progress = stack.progress(student.id, EDU_LESSON).json()
        assert progress["finalized"] is True and progress["accuracy"] == 100.0, (student.id, progress)
        assert progress["enrollmentFailed"] is False, (student.id, progress)
        assert stack.enrollments(student.id) == [NEXT_COURSE], student.id


# --- the circuit breaker -------------------------------------------------------------------


@pytest.fixture
def breaker_stack(tmp_path: Path) -> Iterator[StackProcess]:
    settings = {
        "WORKFLOW_WAIT_SECONDS": "3600",  # nothing polls the provider behind the test's back
        "CALLBACK_TIMEOUT_SECONDS": "3600",
        "PROVIDER_READ_TIMEOUT": "1",
        "PROVIDER_MAX_ATTEMPTS": "4",
        "PROVIDER_BACKOFF_BASE": "0.02",
        "PROVIDER_BACKOFF_CAP": "0.1",
        "PROVIDER_RETRY_AFTER_CAP": "1",
        "PROVIDER_BREAKER_THRESHOLD": str(BREAKER_THRESHOLD),
        "PROVIDER_BREAKER_COOLDOWN": str(BREAKER_COOLDOWN),
    }
    with running_stack(write_roster(tmp_path), settings) as stack:
        yield stack


def ims_failure(answer: requests.Response) -> dict[str, Any]:
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["imsx_codeMajor"] == "failure", body
    return body


def test_circuit_breaker_opens_under_outage_and_closes_after(breaker_stack: StackProcess) -> None:
    stack = breaker_stack
    student, later = soak_student(0), [soak_student(n) for n in (1, 2)]
    set_faults(stack, {"outage": True})

    # Outage: the service retries each provider call, then answers 502 until the breaker opens.
    answers: list[tuple[int, float, int, int, str | None]] = []  # status, seconds, calls before/after
    for _ in range(BREAKER_THRESHOLD + 3):
        before = sim_calls(stack.edulastic_state())
        t0 = time.perf_counter()
        answer = stack.assign(student.id, EDU_LESSON)
        took = time.perf_counter() - t0
        after = sim_calls(stack.edulastic_state())
        answers.append((answer.status_code, took, before, after, answer.headers.get("Retry-After")))
        assert answer.status_code in (502, 503), (answer.status_code, answer.text)
        ims_failure(answer)
        if answer.status_code == 503 and len([a for a in answers if a[0] == 503]) >= 3:
            break
    statuses = [a[0] for a in answers]
    first_open = statuses.index(503) if 503 in statuses else len(statuses)
    open_answers = answers[first_open:]
    print(
        "\n--- circuit breaker (Edulastic outage) ---"
        + "".join(
            f"\n  {status} in {took * 1000:.0f} ms, Edulastic calls {b} -> {a}, Retry-After {ra}"
            for status, took, b, a, ra in answers
        ),
        flush=True,
    )
    assert statuses[:first_open] and set(statuses[:first_open]) == {502}, statuses
    assert first_open <= BREAKER_THRESHOLD, statuses  # at most one breaker failure per request
    assert all(b < a for _, _, b, a, _ in answers[:first_open]), answers  # 502: the provider was tried
    assert len(open_answers) >= 3 and set(a[0] for a in open_answers) == {503}, statuses
    for _, _, before, after, retry_after in open_answers:
        assert after == before, answers  # open circuit: no provider call at all
        assert retry_after is not None and 1 <= int(retry_after) <= BREAKER_COOLDOWN + 1, answers
    print(f"  503 answers: max {max(a[1] for a in open_answers) * 1000:.0f} ms", flush=True)
    # No attempt was written by the failed requests.
    progress = stack.progress(student.id, EDU_LESSON).json()
    assert progress["finalized"] is False and not progress["questions"], progress

    # The outage ends; after the cool-down the next request is the half-open trial, and succeeds.
    set_faults(stack, {})
    time.sleep(BREAKER_COOLDOWN + 0.5)
    calls_before = sim_calls(stack.edulastic_state())
    t0 = time.perf_counter()
    answer = stack.assign(student.id, EDU_LESSON)
    print(f"  after the cool-down: {answer.status_code} in {(time.perf_counter() - t0) * 1000:.0f} ms")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["attempt"] == 1 and body["toolProvider"] == "edulastic"
    assert sim_calls(stack.edulastic_state()) > calls_before  # it did go to the provider
    assert [a["_id"] for a in stack.edulastic_assignments_of(student.email)] == [body["assignmentId"]]

    # Closed again: later requests (new students, so they do call the provider) succeed at once.
    for other in later:
        answer = stack.assign(other.id, EDU_LESSON)
        assert answer.status_code == 200, answer.text
        assert [a["_id"] for a in stack.edulastic_assignments_of(other.email)] == [
            answer.json()["assignmentId"]
        ]
    print(
        f"  later requests: 200 x {len(later)}; Edulastic calls in total {sim_calls(stack.edulastic_state())}"
    )


# --- a MasteryTrack assignment made by a request that failed late ----------------------------


@pytest.fixture(scope="module")
def parked_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack for the two tests below (different students and providers)."""
    tmp_path = tmp_path_factory.mktemp("parked")
    settings = {
        "WORKFLOW_WAIT_SECONDS": "3600",
        "CALLBACK_TIMEOUT_SECONDS": "3600",
        "PROVIDER_READ_TIMEOUT": "1",
        "PROVIDER_BACKOFF_BASE": "0.02",
        "PROVIDER_BACKOFF_CAP": "0.1",
    }
    with running_stack(write_roster(tmp_path), settings) as stack:
        yield stack


def require(condition: object, message: object) -> None:
    """A precondition of the scenario: fails the test outright, whatever the assertion that follows."""
    if not condition:
        pytest.fail(str(message), pytrace=False)


def test_mastery_track_write_back_after_an_assign_that_failed_late(parked_stack: StackProcess) -> None:
    stack = parked_stack
    student = soak_student(0)
    # The create is processed but answered too late (read timeout: outcome unknown); the service
    # asks again, which answers 409 ASSIGNMENT_EXISTS — too late as well. Then the faults disarm.
    answer = requests.post(
        f"{stack.mastery_track_root}/_control/faults",
        json={
            "timeoutRate": 1,
            "timeoutSeconds": 2,
            "routes": ["POST /delivery/assignments/assign"],
            "times": 2,
        },
        timeout=HTTP_TIMEOUT,
    )
    require(answer.status_code == 200, answer.text)
    failed = stack.assign(student.id, MT_LESSON)
    require(failed.status_code == 502, (failed.status_code, failed.text))
    [made] = stack.mastery_track_assignments_of(student.email)  # the provider did make it
    # The outcome was unknown, so the intent stays, with the sourcedId MasteryTrack writes back to.
    kept = stack.head(student.id, MT_LESSON) or {}
    require(kept.get("status") == "assigning", f"the intent should be kept: {kept}")
    require(kept.get("sourced_id") == made["assessment_result_sourced_id"], (kept, made))

    # The client retries, as the contract allows: the existing assignment is reused, not doubled.
    retried = stack.assign(student.id, MT_LESSON)
    require(retried.status_code == 200, (retried.status_code, retried.text))
    require(retried.json()["assignmentId"] == made["id"], (retried.json(), made))
    require(len(stack.mastery_track_assignments_of(student.email)) == 1, "a second assignment was made")
    head = stack.head(student.id, MT_LESSON) or {}
    print(
        f"\nMasteryTrack assignment {made['id']} writes back to {made['assessment_result_sourced_id']};"
        f" the service's attempt has sourcedId {head.get('sourced_id')}"
        f" (GET on the former: {stack.get_result(made['assessment_result_sourced_id']).status_code})",
        flush=True,
    )

    finished = stack.mastery_track_control(
        "finish",
        {
            "assignmentId": made["id"],
            "score": 95,
            "totalQuestions": 20,
            "correctQuestions": 19,
            "scoreStatus": "fully graded",
            "processed": True,
        },
    )
    print(f"write-back: {finished['writeBack']}", flush=True)
    assert finished["writeBack"]["status"] == 200, finished["writeBack"]
    progress = stack.progress(student.id, MT_LESSON).json()
    assert progress["finalized"] is True, progress


def test_edulastic_credentials_after_an_assign_that_failed_after_creating_the_student(
    parked_stack: StackProcess,
) -> None:
    stack = parked_stack
    student = soak_student(1)
    # The student is created, then every try of the assign call is rate limited: the request fails.
    answer = requests.post(
        f"{stack.edulastic_root}/_control/faults",
        json={"rateLimitRate": 1, "retryAfter": 0, "routes": ["POST /assignments/v2/assign"], "times": 4},
        timeout=HTTP_TIMEOUT,
    )
    require(answer.status_code == 200, answer.text)
    failed = stack.assign(student.id, EDU_LESSON)
    require(failed.status_code == 502, (failed.status_code, failed.text))
    [user] = [u for u in stack.edulastic_state()["users"] if u["email"] == student.email]
    require(not stack.edulastic_assignments_of(student.email), "an assignment was made")

    retried = stack.assign(student.id, EDU_LESSON)
    require(retried.status_code == 200, (retried.status_code, retried.text))
    body = retried.json()
    require([a["_id"] for a in stack.edulastic_assignments_of(student.email)] == [body["assignmentId"]], body)
    users = [u for u in stack.edulastic_state()["users"] if u["email"] == student.email]
    require(users == [user], f"the student was created again: {users}")
    # The service created this student with the password it stored: the student must get it.
    assert body.get("credentials", {}).get("email") == student.email, body
    assert body["credentials"]["password"] == user["password"]
