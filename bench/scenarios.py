"""The measured use cases. Each workload prepares iteration i untimed (data, provider state, the
API Gateway event) and then one handler invocation is measured: DynamoDB calls (bench.counters),
provider calls (simulator call counters), wall time and the calling thread's CPU time. Shared by
bench.run and tests/integration/test_cost_counts.py so both count the same thing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from bench.counters import DynamoCounter, DynamoCounts, calls_delta, moto_cpu, provider_calls
from bench.harness import (
    EDU_LESSON,
    MT_LESSON,
    attempt_head_items,
    bench_roster,
    execution_arn,
    load_roster,
    question_lesson,
    register_question_tests,
    service_dynamo_client,
    student_id,
)
from tests.support import ROOT, http_event

ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
WRITEBACK_ROUTE = "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"
QUESTION_COUNTS = (10, 50, 200)


@dataclass
class Invocation:
    function: str  # functions/<function>
    event: dict[str, Any]


@dataclass
class Measurement:
    dynamo: DynamoCounts
    provider: dict[str, int]
    seconds: float
    answer: Any
    # CPU time of the calling thread without moto's in-process emulation of the AWS calls: the
    # handler's code, botocore's client side, the provider HTTP client (the simulators answer from
    # other threads) — what the function's CPU does in Lambda.
    cpu_seconds: float = 0.0
    function: str = ""

    @property
    def round_trips(self) -> int:
        return self.dynamo.round_trips

    @property
    def provider_calls(self) -> int:
        return sum(self.provider.values())

    def summary(self) -> dict[str, Any]:
        return {
            **self.dynamo.summary(),
            "provider_calls": self.provider_calls,
            "provider_routes": self.provider,
        }


@dataclass
class Workload:
    name: str
    title: str
    prepare: Callable[[int], Invocation]
    check: Callable[[int, Any], None] = lambda i, answer: None
    after: Callable[[int], None] = lambda i: None
    warm: Callable[[], None] = lambda: None
    notes: list[str] = field(default_factory=list)


def counter_for(service: Any) -> DynamoCounter:
    """A counter on the DynamoDB client the handlers use."""
    return DynamoCounter(service_dynamo_client())


def invoke(invocation: Invocation) -> Any:
    from local.lambda_dispatch import load_handler, make_context

    handler = load_handler(ROOT / "functions" / invocation.function)
    return handler(invocation.event, make_context(invocation.function))


def measure(service: Any, counter: DynamoCounter, invocation: Invocation) -> Measurement:
    sims = (service.edulastic, service.mastery_track)
    before = provider_calls(*sims)
    moto = moto_cpu()
    with counter.measure() as counts:
        started, cpu_started, moto_started = time.perf_counter(), time.thread_time(), moto.seconds()
        answer = invoke(invocation)
        seconds = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started - (moto.seconds() - moto_started)
    delta = calls_delta(before, provider_calls(*sims))
    return Measurement(counts, delta, seconds, answer, cpu, invocation.function)


def ok(answer: Any) -> None:
    if isinstance(answer, dict) and "statusCode" in answer and answer["statusCode"] != 200:
        raise AssertionError(f"handler answered {answer['statusCode']}: {answer.get('body')}")


# --- data -------------------------------------------------------------------------------------


def load_bench_data(service: Any, students: int, question_counts: tuple[int, ...] = QUESTION_COUNTS) -> None:
    load_roster(bench_roster(students, question_counts), service.table)
    register_question_tests(service.edulastic, question_counts)


def email(i: int) -> str:
    return f"bench.student.{i}@students.example.com"


def finish_edulastic(
    service: Any, student: str, mail: str, lesson: str, questions: int, *, submitted: bool = True
) -> None:
    head = service.head(student, lesson)
    answered = questions if submitted else 1
    service.edulastic_control(
        "finish",
        {
            "assignmentId": head.assignment_id,
            "email": mail,
            "submitted": submitted,
            "graded": "GRADED" if submitted else "IN GRADING",
            "questions": [{"index": q, "correct": True, "feedback": "ok"} for q in range(answered)],
        },
    )


def writeback_body(score: float = 95) -> dict[str, Any]:
    return {
        "assessmentResult": {
            "scoreStatus": "fully graded",
            "scoreDate": "2026-11-20",
            "score": score,
            "metadata": {"masteryTrackProcessed": True, "totalQuestions": 20, "correctQuestions": 19},
        }
    }


def wait_idle(service: Any, student: str, lesson: str, timeout: float = 10.0) -> None:
    """Wait until the attempt's workflow execution is no longer running (or is parked waiting),
    so its background Lambda tasks do not run during the next measured call."""
    arn = execution_arn(service, student, lesson)
    client = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return
        time.sleep(0.01)


# --- the use cases ------------------------------------------------------------------------


def assign_event(student: str, lesson: str) -> dict[str, Any]:
    return http_event("POST", ASSIGN, body={"student": student, "lesson": lesson})


def import_event(student: str, lesson: str) -> dict[str, Any]:
    return http_event("GET", IMPORT, query={"student": student, "lesson": lesson})


def progress_event(student: str, lesson: str) -> dict[str, Any]:
    return http_event("GET", PROGRESS, query={"student": student, "lesson": lesson})


def writeback_event(sourced_id: str) -> dict[str, Any]:
    return http_event(
        "PUT",
        WRITEBACK_ROUTE.replace("{sourcedId}", sourced_id),
        body=writeback_body(),
        path_parameters={"sourcedId": sourced_id},
        route=WRITEBACK_ROUTE,
    )


def _body(answer: Any) -> Any:
    import json

    return json.loads(answer["body"]) if isinstance(answer, dict) and answer.get("body") else None


def _expect_finalized(value: bool) -> Callable[[int, Any], None]:
    def check(i: int, answer: Any) -> None:
        ok(answer)
        body = _body(answer)
        if body is None or body.get("finalized") is not value:
            raise AssertionError(f"expected finalized={value}, got {body}")

    return check


def stop_workflow(service: Any, student: str, lesson: str) -> None:
    """Stop the attempt's execution (untimed, after a measurement that no later step needs it
    for): moto keeps a thread and its clients per running execution, and hundreds of executions
    parked in an hour-long Wait cost gigabytes and slow everything down."""
    arn = execution_arn(service, student, lesson)
    with contextlib.suppress(Exception):  # already ended: nothing to stop
        boto3.client("stepfunctions").stop_execution(executionArn=arn)


def _assign_ok(service: Any, student: str, lesson: str) -> None:
    status, body = service.assign(student, lesson)
    if status != 200:
        raise AssertionError(f"assign answered {status}: {body}")


def workloads(service: Any) -> list[Workload]:
    """The use cases, in the order they must run (iteration i of each uses bench student i,
    and each one leaves student i in the state the next one needs). Needs load_bench_data()
    with at least as many students as iterations."""

    def wait_callback(i: int) -> None:
        service.wait_for_callback(student_id(i), MT_LESSON)

    def import_after_answers(*, submitted: bool) -> Callable[[int], Invocation]:
        def prepare(i: int) -> Invocation:
            finish_edulastic(service, student_id(i), email(i), EDU_LESSON, 4, submitted=submitted)
            return Invocation("import_results", import_event(student_id(i), EDU_LESSON))

        return prepare

    def writeback_invocation(i: int) -> Invocation:
        head = service.head(student_id(i), MT_LESSON)
        return Invocation("writeback", writeback_event(head.sourced_id))

    return [
        Workload(
            "assign_edulastic",
            "assign (Edulastic, new student, warm token)",
            lambda i: Invocation("assign", assign_event(student_id(i), EDU_LESSON)),
            check=lambda i, a: ok(a),
            after=lambda i: stop_workflow(service, student_id(i), EDU_LESSON),
            warm=lambda: _assign_ok(service, "student-ada", EDU_LESSON),
            notes=["a first assign (student-ada) logged in and cached the token before measuring"],
        ),
        Workload(
            "assign_mastery_track",
            "assign (MasteryTrack, warm token)",
            lambda i: Invocation("assign", assign_event(student_id(i), MT_LESSON)),
            check=lambda i, a: ok(a),
            after=wait_callback,
            warm=lambda: _assign_ok(service, "student-ada", MT_LESSON),
            notes=["the workflow's register_callback task runs in a background thread: not counted"],
        ),
        Workload(
            "import_not_final",
            "import, not final (Edulastic, student in progress, new answers)",
            import_after_answers(submitted=False),
            check=_expect_finalized(False),
        ),
        Workload(
            "import_finalizes",
            "import that finalizes (Edulastic, 4 questions, graded, enrolls)",
            import_after_answers(submitted=True),
            check=_expect_finalized(True),
        ),
        Workload(
            "import_final",
            "import of a final attempt",
            lambda i: Invocation("import_results", import_event(student_id(i), EDU_LESSON)),
            check=_expect_finalized(True),
        ),
        Workload(
            "progress",
            "getAssessmentProgress (current attempt)",
            lambda i: Invocation("progress", progress_event(student_id(i), EDU_LESSON)),
            check=lambda i, a: ok(a),
        ),
        Workload(
            "write_back",
            "write-back (MasteryTrack, final, enrolls, wakes the workflow)",
            writeback_invocation,
            check=lambda i, a: ok(a),
            after=lambda i: wait_idle(service, student_id(i), MT_LESSON),
            notes=["the workflow woken by the write-back runs in a background thread: not counted"],
        ),
    ]


def question_workload(service: Any, questions: int) -> Workload:
    """Import that finalizes an Edulastic test with `questions` questions (scaling)."""
    lesson = question_lesson(questions)

    def prepare(i: int) -> Invocation:
        if service.assign(student_id(i), lesson)[0] != 200:
            raise AssertionError("assign failed")
        finish_edulastic(service, student_id(i), email(i), lesson, questions)
        return Invocation("import_results", import_event(student_id(i), lesson))

    return Workload(
        f"import_finalizes_q{questions}",
        f"import that finalizes (Edulastic, {questions} questions)",
        prepare,
        check=_expect_finalized(True),
        after=lambda i: stop_workflow(service, student_id(i), lesson),
    )


def run_once(service: Any, counter: DynamoCounter, workload: Workload, i: int) -> Measurement:
    invocation = workload.prepare(i)
    result = measure(service, counter, invocation)
    workload.check(i, result.answer)
    workload.after(i)
    return result


# --- sweeper ------------------------------------------------------------------------------


def seed_sweeper(service: Any, final: int, stuck: int, *, first_stuck: int = 1_000_000) -> None:
    """`final` finalized attempts (off the sweeper's index) and `stuck` assigned attempts whose
    workflow is overdue, written directly with BatchWriteItem."""
    items = attempt_head_items(service.table, 0, final, final=True, lesson=EDU_LESSON)
    items += attempt_head_items(service.table, first_stuck, stuck, final=False, lesson=EDU_LESSON)
    client = boto3.client("dynamodb")
    for start in range(0, len(items), 25):
        request = {service.table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def sweeper_invocation() -> Invocation:
    return Invocation(
        "sweeper",
        {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
    )
