"""The measured use cases. Each workload prepares iteration i untimed (data, provider state, the
API Gateway event) and then one handler invocation is measured: DynamoDB calls and the sizes of
what they read and wrote (bench.counters), KMS and Step Functions calls, provider and platform
calls (simulator call counters), the domain events it stored in the outbox, wall time and the
calling thread's CPU time. Shared by bench.run and tests/integration/test_cost_counts.py so both
count the same thing.

With the live roster (a service with a TimeBack platform) each use case runs twice: uncached
(the live roster's cache holds nothing for the student, the lesson and the Subject Tracks: the
first request for them, or the first after the cache window) and cached (they were read within
the window)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import requests

from bench.counters import (
    CallCounter,
    DynamoCounter,
    DynamoCounts,
    calls_delta,
    item_bytes,
    moto_cpu,
    provider_calls,
)
from bench.harness import (
    EDU_LESSON,
    EDU_PLACEMENT,
    MT_LESSON,
    MT_UNIT,
    attempt_head_items,
    bench_roster,
    drop_roster_cache,
    execution_arn,
    fill_roster_cache,
    item_layout,
    load_roster,
    mt_student_id,
    publisher_events_client,
    question_lesson,
    register_question_tests,
    release_moto_memory,
    service_aws_clients,
    service_dynamo_client,
    simulators_of,
    student_id,
)
from tests.support import ROOT, http_event

ASSIGN = "/powerpath/makeExternalTestAssignment"
IMPORT = "/powerpath/importExternalTestAssignmentResults"
PROGRESS = "/powerpath/getAssessmentProgress"
WRITEBACK_ROUTE = "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"
QUESTION_COUNTS = (10, 50, 200)
POLL_WAITS = [60, 120, 300, 600, 1800, 3600]  # the template's default schedule, as the workflow passes it


@dataclass
class Invocation:
    function: str  # functions/<function>
    event: dict[str, Any]


PLATFORM = "timeback:"  # the simulator name in provider_routes: the TimeBack platform


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
    aws: dict[str, int] = field(default_factory=dict)  # "kms:Decrypt" -> calls

    @property
    def round_trips(self) -> int:
        return self.dynamo.round_trips

    @property
    def provider_calls(self) -> int:
        """Calls to the test providers (Edulastic, MasteryTrack)."""
        return sum(n for route, n in self.provider.items() if not route.startswith(PLATFORM))

    @property
    def platform_calls(self) -> int:
        """Calls to the TimeBack platform (live roster reads, EduBridge)."""
        return sum(n for route, n in self.provider.items() if route.startswith(PLATFORM))

    def summary(self) -> dict[str, Any]:
        events = outbox_events(self.dynamo)
        return {
            **self.dynamo.summary(),
            "provider_calls": self.provider_calls,
            "platform_calls": self.platform_calls,
            "provider_routes": self.provider,
            "aws_calls": dict(sorted(self.aws.items())),
            "events": [e["detail_type"] for e in events],
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
    # The (student, lesson) iteration i acts on (the live roster's cache is set up for it).
    key: Callable[[int], tuple[str, str]] = lambda i: (student_id(i), EDU_LESSON)
    # Measured for its counts only: a few runs are enough (they are deterministic).
    counts_only: bool = False


@dataclass
class Counters:
    """The counters on the clients the handlers use: DynamoDB, and KMS + Step Functions."""

    dynamo: DynamoCounter
    aws: CallCounter


def counter_for(service: Any) -> Counters:
    """Counters on the AWS clients the handlers use."""
    return Counters(
        DynamoCounter(service_dynamo_client(), layout=item_layout()), CallCounter(*service_aws_clients())
    )


@functools.cache
def function_timeout(function: str) -> float:
    """The function's Timeout in template.yaml (its invocation budget)."""
    from local import cfn_yaml

    template = cfn_yaml.load(ROOT / "template.yaml")
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        if str(properties.get("CodeUri", "")).rstrip("/") == f"functions/{function}":
            return float(properties.get("Timeout") or template["Globals"]["Function"].get("Timeout", 3))
    raise KeyError(function)


def invoke(invocation: Invocation) -> Any:
    from local.lambda_dispatch import load_handler, make_context

    handler = load_handler(ROOT / "functions" / invocation.function)
    context = make_context(invocation.function, timeout_seconds=function_timeout(invocation.function))
    return handler(invocation.event, context)


def measure(service: Any, counters: Counters, invocation: Invocation) -> Measurement:
    sims = simulators_of(service)
    before = provider_calls(*sims)
    moto = moto_cpu()
    with counters.dynamo.measure() as counts, counters.aws.measure() as aws:
        started, cpu_started, moto_started = time.perf_counter(), time.thread_time(), moto.seconds()
        answer = invoke(invocation)
        seconds = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started - (moto.seconds() - moto_started)
    delta = calls_delta(before, provider_calls(*sims))
    return Measurement(counts, delta, seconds, answer, cpu, invocation.function, dict(aws))


# --- the outbox -------------------------------------------------------------------------------


def outbox_items(counts: DynamoCounts) -> list[dict[str, Any]]:
    """The outbox items the measured calls stored (writes that a condition refused stored none)."""
    found = []
    for call in counts.calls:
        if call.error is not None:
            continue
        puts = (
            [call.params]
            if call.operation == "PutItem"
            else [entry["Put"] for entry in call.params.get("TransactItems") or [] if "Put" in entry]
        )
        for put in puts:
            item = put.get("Item") or {}
            if item and item_layout().kind(item["PK"]["S"], item["SK"]["S"]) == "event (outbox)":
                found.append(item)
    return found


def outbox_events(counts: DynamoCounts) -> list[dict[str, Any]]:
    return [json.loads(item["doc"]["S"]) for item in outbox_items(counts)]


def stream_event(items: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The DynamoDB stream records Lambda would hand the outbox publisher for these inserts."""
    records = [
        {
            "eventID": f"bench-{n}",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": time.time(),
                "Keys": {"PK": item["PK"], "SK": item["SK"]},
                "NewImage": item,
                "SequenceNumber": str(100 + n),
                "SizeBytes": item_bytes(item),
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": stream_arn,
        }
        for n, item in enumerate(items)
    ]
    return {"Records": records}


def publish_outbox(service: Any, counts: DynamoCounts) -> dict[str, Any]:
    """Run the real outbox publisher on the stream records of what `counts` stored and count its
    EventBridge calls: what each stored event costs downstream."""
    items = outbox_items(counts)
    if not items:
        return {"records": 0, "put_events": 0}
    publisher = CallCounter(publisher_events_client())
    try:
        with publisher.measure() as calls:
            answer = invoke(
                Invocation("event_publisher", stream_event(items, service.resources.table_stream_arn))
            )
    finally:
        publisher.detach()
    if answer.get("batchItemFailures"):
        raise AssertionError(f"the publisher failed records: {answer}")
    return {"records": len(items), "put_events": calls.get("eventbridge:PutEvents", 0)}


def ok(answer: Any) -> None:
    if isinstance(answer, dict) and "statusCode" in answer and answer["statusCode"] != 200:
        raise AssertionError(f"handler answered {answer['statusCode']}: {answer.get('body')}")


# --- data -------------------------------------------------------------------------------------


def load_bench_data(service: Any, students: int, question_counts: tuple[int, ...] = QUESTION_COUNTS) -> None:
    """The bench roster in the table, or on the platform when the service reads it live."""
    roster = bench_roster(students, question_counts)
    platform = getattr(service, "platform", None)
    if platform is None:
        load_roster(roster, service.table)
    else:
        requests.post(f"{platform.url}/_control/roster", json=roster, timeout=60).raise_for_status()
    register_question_tests(service.edulastic, question_counts)


def email(i: int) -> str:
    return f"bench.student.{i}@students.example.com"


def finish_edulastic(
    service: Any,
    student: str,
    mail: str,
    lesson: str,
    questions: int,
    *,
    submitted: bool = True,
    answered: int | None = None,
) -> None:
    """The student answers (all questions when submitted, else `answered`, default 1)."""
    head = service.head(student, lesson)
    answered = questions if submitted else (answered or 1)
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


def writeback_body(score: float = 95, *, final: bool = True) -> dict[str, Any]:
    """MasteryTrack's write-back: fully graded and processed (final), or partially graded."""
    return {
        "assessmentResult": {
            "scoreStatus": "fully graded" if final else "partially graded",
            "scoreDate": "2026-11-20",
            "score": score,
            "metadata": {"masteryTrackProcessed": final, "totalQuestions": 20, "correctQuestions": 19},
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


def writeback_event(sourced_id: str, *, final: bool = True) -> dict[str, Any]:
    return http_event(
        "PUT",
        WRITEBACK_ROUTE.replace("{sourcedId}", sourced_id),
        body=writeback_body(final=final),
        path_parameters={"sourcedId": sourced_id},
        route=WRITEBACK_ROUTE,
    )


def task_event(task: str, student: str, lesson: str, **extra: Any) -> dict[str, Any]:
    """A workflow task's input as the state machine passes it (attempt 1)."""
    return {"task": task, "student": student, "lesson": lesson, "attempt": 1, **extra}


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


def _task_says(**expected: Any) -> Callable[[int, Any], None]:
    def check(i: int, answer: Any) -> None:
        if not isinstance(answer, dict) or any(answer.get(k) != v for k, v in expected.items()):
            raise AssertionError(f"expected {expected}, got {answer}")

    return check


def stop_workflow(service: Any, student: str, lesson: str) -> None:
    """Stop the attempt's execution (untimed, after a measurement that no later step needs it
    for): moto keeps a thread and its clients per running execution, and hundreds of executions
    parked in an hour-long Wait cost gigabytes and slow everything down."""
    stop_execution(execution_arn(service, student, lesson))


def stop_execution(arn: str, client: Any = None) -> None:
    """Stop one execution if it still runs (`client`: a Step Functions client to reuse when
    stopping many). moto starts an execution's worker on a thread that sets up its state a
    moment later; a stop in between raises AttributeError, so try again briefly before giving
    up (an execution left running only costs memory, not correctness)."""
    client = client or boto3.client("stepfunctions")
    for _ in range(40):
        try:
            client.stop_execution(executionArn=arn)
            return
        except AttributeError:
            time.sleep(0.05)
        except Exception:  # already ended: nothing to stop
            return


def _assign_ok(service: Any, student: str, lesson: str) -> None:
    status, body = service.assign(student, lesson)
    if status != 200:
        raise AssertionError(f"assign answered {status}: {body}")


def workloads(service: Any) -> list[Workload]:
    """The use cases, in the order they must run (iteration i of each uses bench student i,
    and each one leaves student i in the state the next one needs). Needs load_bench_data()
    with at least as many students as iterations."""

    def wait_callback(i: int) -> None:
        service.wait_for_callback(mt_student_id(i), MT_LESSON)

    def import_after_answers(lesson: str, questions: int, *, submitted: bool) -> Callable[[int], Invocation]:
        def prepare(i: int) -> Invocation:
            finish_edulastic(service, student_id(i), email(i), lesson, questions, submitted=submitted)
            return Invocation("import_results", import_event(student_id(i), lesson))

        return prepare

    def task(name: str, **extra: Any) -> Callable[[int], Invocation]:
        return lambda i: Invocation("workflow_tasks", task_event(name, student_id(i), EDU_LESSON, **extra))

    def poll_again(i: int) -> Invocation:
        # The first poll stores the test's (unanswered) questions; the ones after it find nothing new.
        poll = task("poll", step=1, waits=POLL_WAITS)(i)
        invoke(poll)
        return poll

    def poll_after_more_answers(i: int) -> Invocation:
        finish_edulastic(service, student_id(i), email(i), EDU_LESSON, 4, submitted=False, answered=2)
        return task("poll", step=1, waits=POLL_WAITS)(i)

    def writeback_invocation(lesson: str, *, final: bool) -> Callable[[int], Invocation]:
        def prepare(i: int) -> Invocation:
            head = service.head(mt_student_id(i), lesson)
            return Invocation("writeback", writeback_event(head.sourced_id, final=final))

        return prepare

    def unit_test_writeback(i: int) -> Invocation:
        _assign_ok(service, mt_student_id(i), MT_UNIT)
        service.wait_for_callback(mt_student_id(i), MT_UNIT)
        return writeback_invocation(MT_UNIT, final=True)(i)

    def on(lesson: str) -> Callable[[int], tuple[str, str]]:
        return lambda i: (student_id(i), lesson)

    def mt_on(lesson: str) -> Callable[[int], tuple[str, str]]:
        return lambda i: (mt_student_id(i), lesson)

    # Deliberately alike: a table, one entry per measured use case (the `duplicates` tool pairs
    # neighbouring entries).
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
            "assign_edulastic_returning",
            "assign (Edulastic, returning student, another lesson)",
            lambda i: Invocation("assign", assign_event(student_id(i), EDU_PLACEMENT)),
            check=lambda i, a: ok(a),
            after=lambda i: stop_workflow(service, student_id(i), EDU_PLACEMENT),
            key=on(EDU_PLACEMENT),
            counts_only=True,
        ),
        Workload(
            "assign_again_edulastic",
            "assign again (Edulastic, already assigned: the stored assignment)",
            lambda i: Invocation("assign", assign_event(student_id(i), EDU_LESSON)),
            check=lambda i, a: ok(a),
            counts_only=True,
        ),
        Workload(
            "assign_mastery_track",
            "assign (MasteryTrack, warm token)",
            lambda i: Invocation("assign", assign_event(mt_student_id(i), MT_LESSON)),
            check=lambda i, a: ok(a),
            after=wait_callback,
            warm=lambda: _assign_ok(service, "student-ada", MT_LESSON),
            key=mt_on(MT_LESSON),
            notes=["the workflow's register_callback task runs in a background thread: not counted"],
        ),
        Workload(
            "assign_again_mastery_track",
            "assign again (MasteryTrack, already assigned)",
            lambda i: Invocation("assign", assign_event(mt_student_id(i), MT_LESSON)),
            check=lambda i, a: ok(a),
            key=mt_on(MT_LESSON),
            counts_only=True,
        ),
        Workload(
            "task_poll_idle_mastery_track",
            "workflow task poll, nothing written back yet (MasteryTrack; moves the due time)",
            lambda i: Invocation("workflow_tasks", task_event("poll", mt_student_id(i), MT_LESSON, step=1)),
            check=_task_says(finalized=False),
            key=mt_on(MT_LESSON),
            counts_only=True,
        ),
        Workload(
            "task_poll_idle",
            "workflow task poll, nothing new (Edulastic, not started; moves the due time)",
            poll_again,
            check=_task_says(finalized=False),
            counts_only=True,
        ),
        Workload(
            "task_register_callback",
            "workflow task register_callback (keeps the task token on the attempt)",
            lambda i: task("register_callback", taskToken=f"bench-token-{i}")(i),
            counts_only=True,
        ),
        Workload(
            "import_not_final",
            "import, not final (Edulastic, student in progress, new answers)",
            import_after_answers(EDU_LESSON, 4, submitted=False),
            check=_expect_finalized(False),
        ),
        Workload(
            "task_poll_not_final",
            "workflow task poll, not final (Edulastic, new answers; moves the due time)",
            poll_after_more_answers,
            check=_task_says(finalized=False),
            counts_only=True,
        ),
        Workload(
            "import_finalizes",
            "import that finalizes (Edulastic, 4 questions, graded, enrolls)",
            import_after_answers(EDU_LESSON, 4, submitted=True),
            check=_expect_finalized(True),
        ),
        Workload(
            "task_poll_final",
            "workflow task poll of a final attempt (after the import or write-back finalized it)",
            task("poll", step=5, waits=POLL_WAITS),
            check=_task_says(finalized=True),
            counts_only=True,
        ),
        Workload(
            "task_enroll_done",
            "workflow task enroll, enrollment already made",
            task("enroll", step=0),
            counts_only=True,
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
            "import_finalizes_no_enrollment",
            "import that finalizes, no enrollment due (Edulastic placement, mastered)",
            import_after_answers(EDU_PLACEMENT, 5, submitted=True),
            check=_expect_finalized(True),
            key=on(EDU_PLACEMENT),
            counts_only=True,
        ),
        Workload(
            "write_back_not_final",
            "write-back, not final (MasteryTrack, partially graded)",
            writeback_invocation(MT_LESSON, final=False),
            check=lambda i, a: ok(a),
            key=mt_on(MT_LESSON),
            counts_only=True,
        ),
        Workload(
            "write_back",
            "write-back (MasteryTrack, final, enrolls, wakes the workflow)",
            writeback_invocation(MT_LESSON, final=True),
            check=lambda i, a: ok(a),
            after=lambda i: wait_idle(service, mt_student_id(i), MT_LESSON),
            key=mt_on(MT_LESSON),
            notes=["the workflow woken by the write-back runs in a background thread: not counted"],
        ),
        Workload(
            "write_back_no_enrollment",
            "write-back that finalizes, no enrollment due (MasteryTrack unit test)",
            unit_test_writeback,
            check=lambda i, a: ok(a),
            after=lambda i: wait_idle(service, mt_student_id(i), MT_UNIT),
            key=mt_on(MT_UNIT),
            counts_only=True,
        ),
    ]


def with_roster_cache(service: Any, workload: Workload, *, cached: bool) -> Workload:
    """The workload with the live roster's cache emptied (the first request for the student and
    lesson) or filled (a request inside the cache window) before each measured call."""

    def prepare(i: int) -> Invocation:
        invocation = workload.prepare(i)
        student, lesson = workload.key(i)
        if cached:
            fill_roster_cache(student, lesson)
        else:
            drop_roster_cache(service.table, student, lesson)
        return invocation

    return replace(workload, prepare=prepare)


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


def run_once(service: Any, counter: Counters, workload: Workload, i: int) -> Measurement:
    invocation = workload.prepare(i)
    result = measure(service, counter, invocation)
    workload.check(i, result.answer)
    workload.after(i)
    release_moto_memory(service.table)
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
