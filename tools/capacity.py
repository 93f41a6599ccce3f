"""Capacity and cost model: `make capacity` (`python -m tools.capacity [--results FILE]`).

Reads what the bench measured (bench/results.json: for every use case the DynamoDB calls with the
size of each item read and written, the writes on the sparse index, the provider and TimeBack
platform calls, KMS and Step Functions calls, the events stored and the PutEvents they cost, the
handler's CPU time; the workflow's state transitions per poll) and combines it with the mix of
tests, the latencies and the AWS list prices stated below into usage and cost per test and per
month at 1,000 / 100,000 / 1,000,000 tests a day, for this service (table roster, live roster)
next to a PowerPath-style design where clients poll the import every 60 s until final; then the
hot spots at the top volume. Pure computation: no AWS, no network, well under a second.
docs/capacity.md explains every figure. Everything that is not measured is an assumption and is
printed as one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT / "layers" / "shared" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from exttests.config import Settings  # noqa: E402
from exttests.domain.rules import next_wait  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
TEMPLATE = ROOT / "template.yaml"
DAYS_PER_MONTH = 30
SECONDS_PER_MONTH = DAYS_PER_MONTH * 86400
VOLUMES = (1_000, 100_000, 1_000_000)

# --- prices: AWS list prices, us-east-1, as of 2026-12-01, without free tiers --------------------
PRICES_AS_OF = "2026-12-01"
REGION = "us-east-1"
PRICES: dict[str, tuple[float, str]] = {
    "lambda_request": (0.20 / 1e6, "Lambda: per request"),
    "lambda_gb_second_arm64": (0.0000133334, "Lambda: per GB-second, arm64"),
    "lambda_gb_second_x86_64": (0.0000166667, "Lambda: per GB-second, x86_64"),
    "dynamodb_wru": (0.625 / 1e6, "DynamoDB on-demand: per write request unit"),
    "dynamodb_rru": (0.125 / 1e6, "DynamoDB on-demand: per read request unit"),
    "dynamodb_storage_gb_month": (0.25, "DynamoDB: storage per GB-month (Standard table class)"),
    "dynamodb_pitr_gb_month": (0.20, "DynamoDB: point-in-time recovery per GB-month"),
    "sfn_transition": (0.025 / 1e3, "Step Functions Standard: per state transition"),
    "http_api_request": (1.00 / 1e6, "API Gateway HTTP API: per request (first 300 million a month)"),
    "eventbridge_event": (1.00 / 1e6, "EventBridge: per custom event published (PutEvents entry)"),
    "eventbridge_api_destination": (0.20 / 1e6, "EventBridge: per API destination invocation"),
    "kms_request": (0.03 / 1e4, "KMS: per request (symmetric Encrypt/Decrypt)"),
    "kms_key_month": (1.00, "KMS: per customer managed key per month"),
    "xray_trace": (5.00 / 1e6, "X-Ray: per trace recorded"),
    "logs_ingested_gb": (0.50, "CloudWatch Logs: per GB ingested (standard class)"),
    "custom_metric_month": (0.30, "CloudWatch: per custom metric per month (first 10,000)"),
    "alarm_metric_month": (0.10, "CloudWatch: per standard-resolution alarm metric per month"),
    "dashboard_month": (3.00, "CloudWatch: per dashboard per month"),
    "secret_month": (0.40, "Secrets Manager: per secret per month"),
}

# --- default quotas (us-east-1, as documented on 2026-12-01; check Service Quotas) ---------------
QUOTAS: dict[str, tuple[float, str]] = {
    "dynamodb_partition_wcu": (1000, "DynamoDB: write units a second per partition (table or index)"),
    "dynamodb_partition_rcu": (3000, "DynamoDB: read units a second per partition"),
    "dynamodb_table_ondemand": (40000, "DynamoDB on-demand: read or write units a second per table"),
    "lambda_concurrency": (1000, "Lambda: concurrent executions per account and region"),
    "sfn_start_execution_refill": (300, "Step Functions Standard: StartExecution, refill per second"),
    "sfn_start_execution_bucket": (1300, "Step Functions Standard: StartExecution, bucket"),
    "sfn_transition_refill": (5000, "Step Functions Standard: state transitions, refill per second"),
    "sfn_open_executions": (1_000_000, "Step Functions Standard: open executions per account and region"),
    "eventbridge_put_events": (10000, "EventBridge: PutEvents requests a second"),
    "http_api_account": (10000, "API Gateway: requests a second per account and region (all APIs)"),
    "kms_symmetric": (50000, "KMS: symmetric cryptographic requests a second (shared)"),
}


def price(name: str) -> float:
    return PRICES[name][0]


def quota(name: str) -> float:
    return QUOTAS[name][0]


# --- assumptions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mix:
    """The tests a day are made of (assumptions: the bench does not know the platform's traffic)."""

    edulastic_share: float = 0.5  # the rest MasteryTrack
    # lesson type -> (share of tests, share of its finalized tests that enroll): a test-out enrolls
    # when mastered (>= 90), a placement when not (< 90), a unit test never.
    lesson_types: tuple[tuple[str, float, float], ...] = (
        ("test-out", 0.5, 0.4),
        ("placement", 0.3, 0.6),
        ("unit-test", 0.2, 0.0),
    )
    test_minutes: float = 45.0  # from assignment to the final result (Edulastic submit + grading)
    edulastic_questions: int = 30  # the attempt item holds every question's result
    new_student_share: float = 0.3  # Edulastic assigns for a student the service never saw
    assign_twice_share: float = 0.2  # tests whose assign is called a second time (stored answer)
    writebacks_per_mastery_track_test: int = 2  # one partial, then the final one
    client_imports_per_test: float = 1.0  # the platform imports the final result once
    progress_per_test: float = 1.0  # and shows it once
    abandoned_share: float = 0.05  # assigned, never taken: polled until the deadline
    peak_factor: float = 6.0  # busiest hour / 24-hour average (an 8-hour school day, peak hour 2x)
    powerpath_poll_seconds: float = 60.0  # the PowerPath-style client's poll interval
    powerpath_abandoned_minutes: float = 45.0  # how long such a client polls a test nobody takes
    webhook: bool = True  # EventsWebhookUrl configured: every event also goes to an API destination

    @property
    def enrollments_per_finalized_test(self) -> float:
        return sum(share * enrolls for _, share, enrolls in self.lesson_types)


@dataclass(frozen=True)
class Latency:
    """Waits in AWS (assumptions: the bench's are loopback and in-process). A request's duration
    is its measured CPU time at the memory size's CPU share plus these waits."""

    dynamodb_ms: float = 8.0  # one DynamoDB round trip
    provider_ms: float = 300.0  # one Edulastic or MasteryTrack call
    platform_ms: float = 150.0  # one TimeBack platform call
    aws_call_ms: float = 15.0  # one KMS, Step Functions or EventBridge call
    publisher_cpu_ms: float = 5.0  # the outbox publisher's own work per invocation (not measured)
    sweeper_ms: float = 150.0  # one sweeper run with nothing overdue (not measured)


@dataclass(frozen=True)
class Observability:
    """CloudWatch and X-Ray volumes (assumptions; check IncomingBytes once deployed)."""

    log_kb_per_invocation: float = 1.5  # START/END/REPORT, a few JSON lines, EMF metric lines
    access_log_kb_per_request: float = 0.4  # the HTTP API's access log line
    custom_metrics: int = 30  # EMF metric names x dimension values (providers, lesson types)
    xray_reservoir_per_second: float = 1.0  # X-Ray's default rule: 1 a second, then 5 %
    xray_rate: float = 0.05


@dataclass(frozen=True)
class Deployment:
    """What template.yaml (and the service's defaults) deploy."""

    memory_mb: int = 1024
    architecture: str = "arm64"
    waits: tuple[int, ...] = (60, 120, 300, 600, 1800, 3600)
    callback_timeout_s: float = 21600
    deadline_days: float = 30.0
    roster_cache_s: float = 300
    due_shards: int = 8
    http_rate: float = 100
    http_burst: float = 200
    webhook_rate: float = 50
    sweeps_per_hour: float = 12
    alarm_metrics: int = 0
    publisher_batch: int = 25
    publisher_window_s: float = 1.0


def deployment_from_template(path: Path = TEMPLATE) -> Deployment:
    from local import cfn_yaml

    template = cfn_yaml.load(path)
    params = template["Parameters"]
    resources = template["Resources"]
    api = resources["HttpApi"]["Properties"]["DefaultRouteSettings"]
    schedule = resources["SweeperFunction"]["Properties"]["Events"]["SweepSchedule"]["Properties"]["Schedule"]
    minutes = float(str(schedule).removeprefix("rate(").split()[0])
    alarms = [r["Properties"] for _, r in cfn_yaml.resources_of_type(template, "AWS::CloudWatch::Alarm")]
    stream = resources["EventPublisherFunction"]["Properties"]["Events"]["Outbox"]["Properties"]
    return Deployment(
        memory_mb=int(template["Globals"]["Function"]["MemorySize"]),
        architecture=str(params["Architecture"]["Default"]),
        waits=tuple(int(w) for w in str(params["WorkflowWaitSeconds"]["Default"]).split(",")),
        callback_timeout_s=float(params["CallbackTimeoutSeconds"]["Default"]),
        deadline_days=float(params["EdulasticDeadlineDays"]["Default"]),
        roster_cache_s=float(params["RosterCacheSeconds"]["Default"]),
        due_shards=Settings().due_index_shards,
        http_rate=float(api["ThrottlingRateLimit"]),
        http_burst=float(api["ThrottlingBurstLimit"]),
        webhook_rate=float(
            resources["EventsWebhookDestination"]["Properties"]["InvocationRateLimitPerSecond"]
        ),
        sweeps_per_hour=60 / minutes,
        alarm_metrics=sum(
            sum(1 for m in a["Metrics"] if "MetricStat" in m) if "Metrics" in a else 1 for a in alarms
        ),
        publisher_batch=int(stream["BatchSize"]),
        publisher_window_s=float(stream["MaximumBatchingWindowInSeconds"]),
    )


def poll_times(
    until_s: float, waits: Iterable[int], *, start_s: float = 0.0, first_wait: float | None = None
) -> list[float]:
    """When the workflow polls, until the first poll at or after `until_s`: the first after
    `first_wait` (default the schedule's first wait), then the service's backoff (next_wait)."""
    schedule = list(waits)
    t = start_s + (schedule[0] if first_wait is None else first_wait)
    times, step = [], 1
    while True:
        times.append(t)
        if t >= until_s:
            return times
        t += next_wait(schedule, step)
        step += 1


# --- usage ----------------------------------------------------------------------------------------
class Usage(dict[str, float]):
    """Amounts by name (requests, units, calls...), added and scaled."""

    def add(self, other: Mapping[str, float], weight: float = 1.0) -> Usage:
        for key, value in other.items():
            self[key] = self.get(key, 0.0) + value * weight
        return self

    def scaled(self, weight: float) -> Usage:
        return Usage({k: v * weight for k, v in self.items()})

    def total(self, prefix: str) -> float:
        return sum(v for k, v in self.items() if k.startswith(prefix))


HTTP_FUNCTIONS = {
    "assign": "makeExternalTestAssignment",
    "import_results": "importExternalTestAssignmentResults",
    "progress": "getAssessmentProgress",
    "writeback": "assessmentResults write-back",
}
PLATFORM = "timeback:"
ENROLLMENT_ROUTE = "/edubridge/enrollments/"


def request_units(calls: list[dict[str, Any]], attempt_extra_bytes: float = 0.0) -> tuple[float, float]:
    """(read, write) request units of a use case's DynamoDB calls, on-demand rules: a strongly
    consistent read of an item costs 1 unit per 4 KB (rounded up per item; a key that does not
    exist still costs 1), an eventually consistent one half; a query costs its returned bytes,
    rounded up to 4 KB, once; a write costs 1 unit per KB (rounded up per item), twice inside a
    transaction; a transaction's ConditionCheck is a transactional read (2 units per 4 KB); every
    write on the index costs 1 write unit (keys-only entries are well under 1 KB). Attempt items
    grow by `attempt_extra_bytes` (a test with more questions than the bench's)."""
    reads = writes = 0.0
    for call in calls:
        factor = 1.0 if call["consistent"] else 0.5
        kinds = call.get("read_kinds") or ["?"] * len(call["read_bytes"])
        if call["operation"] in ("Query", "Scan"):
            reads += factor * max(1, math.ceil(sum(b or 0 for b in call["read_bytes"]) / 4096))
        else:
            for size, kind in zip(call["read_bytes"], kinds, strict=True):
                grown = (size or 0) + (attempt_extra_bytes if kind == "attempt" and size else 0)
                reads += factor * max(1, math.ceil(grown / 4096))
        for item in call["written"]:
            grown = item["bytes"] + (attempt_extra_bytes if item["kind"] == "attempt" else 0)
            if item["condition_check"]:
                reads += 2 * max(1, math.ceil(grown / 4096))
            else:
                writes += (2 if item["transactional"] else 1) * max(1, math.ceil(grown / 1024))
        writes += call["index_writes"]
    return reads, writes


def cpu_factor(memory_mb: int) -> float:
    """Lambda's CPU share: one vCPU at 1,769 MB (bench/memory.py)."""
    return max(1.0, 1769 / memory_mb)


def use_case_usage(
    record: Mapping[str, Any],
    deployment: Deployment,
    latency: Latency,
    *,
    attempt_extra_bytes: float = 0.0,
    drop_kms: bool = False,
    no_workflow: bool = False,
    as_task: bool = False,
) -> Usage:
    """One request of a measured use case: what it costs in every unit the model prices.
    `drop_kms`: the same path without returning credentials (a MasteryTrack student);
    `no_workflow`: the same request in a design without a workflow (no StartExecution);
    `as_task`: the same use case run by the workflow's Poll task (the import that finalizes: the
    same code, invoked by Step Functions, returning no credentials)."""
    function = "workflow_tasks" if as_task else record["function"]
    drop_kms = drop_kms or as_task
    routes: Mapping[str, int] = record.get("provider_routes") or {}
    aws = {
        call: n
        for call, n in (record.get("aws_calls") or {}).items()
        if not (drop_kms and call.startswith("kms:")) and not (no_workflow and call == "sfn:StartExecution")
    }
    platform = {r: n for r, n in routes.items() if r.startswith(PLATFORM)}
    enroll_calls = sum(n for r, n in platform.items() if ENROLLMENT_ROUTE in r)
    provider_calls = {r.split(":", 1)[0]: 0.0 for r in routes if not r.startswith(PLATFORM)}
    for route, n in routes.items():
        if not route.startswith(PLATFORM):
            provider_calls[route.split(":", 1)[0]] += n
    cpu_ms = float(record["latency"]["handler_cpu"]["p50_ms"])
    duration_ms = (
        cpu_ms * cpu_factor(deployment.memory_mb)
        + record["round_trips"] * latency.dynamodb_ms
        + sum(provider_calls.values()) * latency.provider_ms
        + sum(platform.values()) * latency.platform_ms
        + sum(aws.values()) * latency.aws_call_ms
    )
    reads, writes = request_units(record["capacity"], attempt_extra_bytes)
    usage = Usage(
        {
            f"lambda:{function}": 1,
            f"lambda_ms:{function}": math.ceil(duration_ms),
            "dynamodb_rru": reads,
            "dynamodb_wru": writes,
            "due_index_writes": record["due_index_writes"],
            "kms": sum(v for k, v in aws.items() if k.startswith("kms:")),
            "executions": aws.get("sfn:StartExecution", 0),
            "events": len(record.get("events") or []),
            "put_events": (record.get("outbox") or {}).get("put_events", 0),
            "calls:timeback reads": sum(platform.values()) - enroll_calls,
            "calls:timeback enroll": enroll_calls,
        }
    )
    for provider, count in provider_calls.items():
        usage[f"calls:{provider}"] = count
    if function in HTTP_FUNCTIONS:
        usage[f"http:{function}"] = 1
    return usage


# --- what one test does ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """Requests at one moment of a test: each named use case with its weight (how often it
    happens per test); `roster`: it reads the student and the lesson (cached or not, with the
    live roster); `grown`: the attempt item holds the Edulastic test's results by then;
    `transitions`: the state transitions the workflow makes there."""

    minute: float
    choices: tuple[tuple[str, float], ...]
    roster: bool = True
    grown: bool = False
    drop_kms: bool = False
    as_task: bool = False  # run by the workflow's Poll task, not by a client's request
    transitions: float = 0.0


@dataclass(frozen=True)
class Plan:
    """One kind of test in one design: its requests and its workflow's state transitions."""

    name: str
    steps: tuple[Step, ...]
    open_hours: float = 0.0  # how long its execution stays open
    no_workflow: bool = False


@dataclass(frozen=True)
class Workflow:
    """The measured state transitions (bench workflow section)."""

    per_poll: float
    head: float  # Route (+ AwaitWriteBack)
    finalized_tail: float  # StartEnrollment, Enroll, EnrollmentDone, Finalized
    expired_tail: float  # Expired
    mastery_track: float  # a MasteryTrack execution woken by its write-back

    @classmethod
    def from_results(cls, workflow: Mapping[str, Any]) -> Workflow:
        loop = {"Wait", "Poll", "Decide"}

        def tail(run: Mapping[str, Any]) -> float:
            return sum(n for s, n in run["by_state"].items() if s not in loop | {"Route", "AwaitWriteBack"})

        edulastic = workflow["edulastic_a"]
        return cls(
            per_poll=float(workflow["per_poll_iteration"]["state_transitions"]),
            head=float(edulastic["by_state"].get("Route", 1)),
            finalized_tail=tail(edulastic),
            expired_tail=tail(workflow["edulastic_expired"]),
            mastery_track=float(workflow["mastery_track"]["state_transitions"]),
        )


def _finalizing(enrolls: float, with_enrollment: str, without: str) -> tuple[tuple[str, float], ...]:
    return ((with_enrollment, enrolls), (without, 1 - enrolls))


def _assign_steps(mix: Mix, edulastic: bool) -> list[Step]:
    first: tuple[tuple[str, float], ...]
    if edulastic:
        first = (
            ("assign_edulastic", mix.new_student_share),
            ("assign_edulastic_returning", 1 - mix.new_student_share),
        )
        again = "assign_again_edulastic"
    else:
        first, again = (("assign_mastery_track", 1.0),), "assign_again_mastery_track"
    return [Step(0, first), Step(1, ((again, mix.assign_twice_share),))]


def _client_steps(mix: Mix, minute: float, *, edulastic: bool) -> list[Step]:
    return [
        Step(
            minute + 1,
            (("import_final", mix.client_imports_per_test),),
            grown=edulastic,
            drop_kms=not edulastic,
        ),
        Step(minute + 2, (("progress", mix.progress_per_test),), grown=edulastic),
    ]


def _writeback_steps(mix: Mix) -> list[Step]:
    partial = max(0, mix.writebacks_per_mastery_track_test - 1)
    steps = [
        Step(mix.test_minutes * (k + 1) / (partial + 1), (("write_back_not_final", 1.0),))
        for k in range(partial)
    ]
    enrolls = mix.enrollments_per_finalized_test
    steps.append(Step(mix.test_minutes, _finalizing(enrolls, "write_back", "write_back_no_enrollment")))
    return steps


def _polls(minutes: list[float], use_case: str, per_poll: float, **step: Any) -> list[Step]:
    return [Step(m, ((use_case, 1.0),), transitions=per_poll, **step) for m in minutes]


def _workflow_starts(transitions: float) -> Step:
    return Step(0, (), roster=False, transitions=transitions)


def workflow_plans(mix: Mix, deployment: Deployment, workflow: Workflow) -> dict[str, Plan]:
    """This service: the workflow polls Edulastic with backoff and waits for MasteryTrack's
    write-back; clients import once and show the progress once. The state transitions are the
    measured ones: Route (+ AwaitWriteBack), Wait + Poll + Decide per poll (no Wait before the
    first poll after a callback timed out), then the finalization tail or Expired."""
    enrolls = mix.enrollments_per_finalized_test
    finished = [t / 60 for t in poll_times(mix.test_minutes * 60, deployment.waits)]
    last = finished[-1]
    edulastic = Plan(
        "Edulastic, taken",
        (
            *_assign_steps(mix, True),
            _workflow_starts(workflow.head),
            *_polls(finished[:-1], "task_poll_not_final", workflow.per_poll, grown=True),
            Step(
                last,
                _finalizing(enrolls, "import_finalizes", "import_finalizes_no_enrollment"),
                grown=True,
                as_task=True,
                transitions=workflow.per_poll,
            ),
            Step(last, (("task_enroll_done", 1.0),), roster=False, transitions=workflow.finalized_tail),
            *_client_steps(mix, last, edulastic=True),
        ),
        open_hours=last / 60,
    )
    mastery_track = Plan(
        "MasteryTrack, taken",
        (
            *_assign_steps(mix, False),
            Step(0, (("task_register_callback", 1.0),), roster=False),
            *_writeback_steps(mix),
            Step(mix.test_minutes, (("task_poll_final", 1.0),), transitions=workflow.mastery_track),
            Step(mix.test_minutes, (("task_enroll_done", 1.0),), roster=False),
            *_client_steps(mix, mix.test_minutes, edulastic=False),
        ),
        open_hours=mix.test_minutes / 60,
    )
    deadline = deployment.deadline_days * 86400
    idle = [t / 60 for t in poll_times(deadline, deployment.waits)]
    edulastic_abandoned = Plan(
        "Edulastic, never taken",
        (
            *_assign_steps(mix, True),
            _workflow_starts(workflow.head),
            *_polls(idle, "task_poll_idle", workflow.per_poll),
            Step(idle[-1], (), roster=False, transitions=workflow.expired_tail),
        ),
        open_hours=idle[-1] / 60,
    )
    # The callback times out, then the poll starts at once (no Wait) and backs off again.
    timed_out = [
        t / 60
        for t in poll_times(deadline, deployment.waits, start_s=deployment.callback_timeout_s, first_wait=0)
    ]
    polls = _polls(timed_out, "task_poll_idle_mastery_track", workflow.per_poll)
    mastery_track_abandoned = Plan(
        "MasteryTrack, never taken",
        (
            *_assign_steps(mix, False),
            Step(0, (("task_register_callback", 1.0),), roster=False, transitions=workflow.head + 1),
            replace(polls[0], transitions=workflow.per_poll - 1),
            *polls[1:],
            Step(timed_out[-1], (), roster=False, transitions=workflow.expired_tail),
        ),
        open_hours=timed_out[-1] / 60,
    )
    return {
        "edulastic": edulastic,
        "mastery_track": mastery_track,
        "edulastic_abandoned": edulastic_abandoned,
        "mastery_track_abandoned": mastery_track_abandoned,
    }


def powerpath_plans(mix: Mix) -> dict[str, Plan]:
    """The PowerPath-style design: no workflow; the client calls the import every
    `powerpath_poll_seconds` until the test is final (and gives up on a test nobody takes after
    `powerpath_abandoned_minutes`). An Edulastic poll fetches the results each time (measured:
    the import with new answers); a MasteryTrack one reads the stored write-back (measured: the
    import of a final attempt, one read, without credentials)."""
    enrolls = mix.enrollments_per_finalized_test
    every = mix.powerpath_poll_seconds / 60

    def minutes(until: float) -> list[float]:
        return [every * k for k in range(1, int(until / every) + 1)]

    until_final = minutes(mix.test_minutes)
    edulastic = Plan(
        "Edulastic, taken",
        (
            *_assign_steps(mix, True),
            *(Step(m, (("import_not_final", 1.0),), grown=True) for m in until_final[:-1]),
            Step(
                until_final[-1],
                _finalizing(enrolls, "import_finalizes", "import_finalizes_no_enrollment"),
                grown=True,
            ),
            Step(until_final[-1] + 2, (("progress", mix.progress_per_test),), grown=True),
        ),
        no_workflow=True,
    )
    mastery_track = Plan(
        "MasteryTrack, taken",
        (
            *_assign_steps(mix, False),
            *(Step(m, (("import_final", 1.0),), drop_kms=True) for m in until_final),
            *_writeback_steps(mix),
            Step(mix.test_minutes + 2, (("progress", mix.progress_per_test),)),
        ),
        no_workflow=True,
    )
    given_up = minutes(mix.powerpath_abandoned_minutes)
    return {
        "edulastic": edulastic,
        "mastery_track": mastery_track,
        "edulastic_abandoned": replace(
            edulastic,
            name="Edulastic, never taken",
            steps=(*_assign_steps(mix, True), *(Step(m, (("import_not_final", 1.0),)) for m in given_up)),
        ),
        "mastery_track_abandoned": replace(
            mastery_track,
            name="MasteryTrack, never taken",
            steps=(
                *_assign_steps(mix, False),
                *(Step(m, (("import_final", 1.0),), drop_kms=True) for m in given_up),
            ),
        ),
    }


def cache_hits(steps: Iterable[Step], window_s: float) -> list[bool | None]:
    """For each step (in order of time): would the live roster's cache have the student and the
    lesson (None: the step reads no roster)? The cache is filled by a request that found it
    stale and stays fresh `window_s` from then; a request that happens only sometimes (total
    weight below 1) is assumed not to refill it."""
    fresh_until = -math.inf
    hits: list[bool | None] = []
    for step in steps:
        if not step.roster:
            hits.append(None)
            continue
        hit = step.minute * 60 < fresh_until
        hits.append(hit)
        if not hit and sum(w for _, w in step.choices) >= 1:
            fresh_until = step.minute * 60 + window_s
    return hits


@dataclass
class PlanUsage:
    first_hour: Usage = field(default_factory=Usage)  # follows the day's peak
    later: Usage = field(default_factory=Usage)  # spread over the day (long-running polls)

    @property
    def total(self) -> Usage:
        return Usage(self.first_hour).add(self.later)


def plan_usage(
    plan: Plan,
    records: Mapping[str, Mapping[str, Any]],
    deployment: Deployment,
    latency: Latency,
    *,
    live: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    attempt_extra_bytes: float = 0.0,
) -> PlanUsage:
    """What one test of `plan` uses. With `live` (the bench's live-roster records, uncached and
    cached) a step that reads the roster uses the variant the cache simulation says."""
    steps = sorted(plan.steps, key=lambda s: s.minute)
    hits = cache_hits(steps, deployment.roster_cache_s) if live else [None] * len(steps)
    result = PlanUsage()
    for step, hit in zip(steps, hits, strict=True):
        source = records if hit is None or live is None else live["cached" if hit else "uncached"]
        target = result.first_hour if step.minute < 60 else result.later
        target.add({"transitions": step.transitions})
        for name, weight in step.choices:
            usage = use_case_usage(
                source[name],
                deployment,
                latency,
                attempt_extra_bytes=attempt_extra_bytes if step.grown else 0.0,
                drop_kms=step.drop_kms,
                no_workflow=plan.no_workflow,
                as_task=step.as_task,
            )
            target.add(usage, weight)
    result.first_hour["open_execution_hours"] = plan.open_hours
    return result


def attempt_bytes_per_question(records: Mapping[str, Mapping[str, Any]]) -> float:
    """Bytes one more question adds to the attempt item: the finalizing writes of the 10- and
    200-question tests (measured)."""

    def final_attempt(name: str) -> int:
        return max(
            w["bytes"] for c in records[name]["capacity"] for w in c["written"] if w["kind"] == "attempt"
        )

    small, large = records["import_finalizes_q10"], records["import_finalizes_q200"]
    return (final_attempt("import_finalizes_q200") - final_attempt("import_finalizes_q10")) / (
        large["questions"] - small["questions"]
    )


BENCH_QUESTIONS = 4  # the bench's default Edulastic test (its use cases' attempt sizes)


@dataclass(frozen=True)
class Design:
    name: str
    plans: dict[str, Plan]
    live: bool = False


@dataclass
class DesignUsage:
    """Per test (taken and never taken mixed as the mix says)."""

    design: Design
    per_test: PlanUsage
    secrets: int


def design_usage(
    design: Design,
    results: Mapping[str, Any],
    mix: Mix,
    deployment: Deployment,
    latency: Latency,
) -> DesignUsage:
    records = results["use_cases"]
    extra = max(0, mix.edulastic_questions - BENCH_QUESTIONS) * attempt_bytes_per_question(records)
    live = results["live_roster"] if design.live else None
    weights = {
        "edulastic": (1 - mix.abandoned_share) * mix.edulastic_share,
        "mastery_track": (1 - mix.abandoned_share) * (1 - mix.edulastic_share),
        "edulastic_abandoned": mix.abandoned_share * mix.edulastic_share,
        "mastery_track_abandoned": mix.abandoned_share * (1 - mix.edulastic_share),
    }
    per_test = PlanUsage()
    for key, plan in design.plans.items():
        usage = plan_usage(plan, records, deployment, latency, live=live, attempt_extra_bytes=extra)
        per_test.first_hour.add(usage.first_hour, weights[key])
        per_test.later.add(usage.later, weights[key])
    secrets = 2 + (1 if design.live else 0) + (1 if mix.webhook else 0)
    return DesignUsage(design, per_test, secrets)


# --- per month -------------------------------------------------------------------------------------
@dataclass
class Month:
    tests_per_day: int
    usage: Usage
    cost: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.cost.values())


def stored_bytes_per_test(results: Mapping[str, Any], mix: Mix) -> float:
    """What a test leaves in the table (assumption: the final attempt item, its result alias and,
    when it enrolls, the enrollment record; events and cache entries expire by TTL)."""
    records = results["use_cases"]
    extra = max(0, mix.edulastic_questions - BENCH_QUESTIONS) * attempt_bytes_per_question(records)

    def largest(name: str, kind: str) -> float:
        sizes = [w["bytes"] for c in records[name]["capacity"] for w in c["written"] if w["kind"] == kind]
        return float(max(sizes, default=0))

    edulastic = largest("import_finalizes", "attempt") + extra
    mastery_track = largest("write_back", "attempt")
    attempt = mix.edulastic_share * edulastic + (1 - mix.edulastic_share) * mastery_track
    enrollment = mix.enrollments_per_finalized_test * largest("import_finalizes", "enrollment")
    return attempt + largest("assign_edulastic", "result alias") + enrollment


def month(
    tests_per_day: int,
    usage: DesignUsage,
    results: Mapping[str, Any],
    mix: Mix,
    deployment: Deployment,
    latency: Latency,
    observability: Observability,
) -> Month:
    tests = tests_per_day * DAYS_PER_MONTH
    total = usage.per_test.total.scaled(tests)
    # The outbox publisher: one invocation per stream batch (up to BatchSize records gathered for
    # up to the batching window; a single stream shard assumed).
    events_per_second = total.get("put_events", 0.0) / SECONDS_PER_MONTH
    batch = min(deployment.publisher_batch, max(1.0, events_per_second * deployment.publisher_window_s))
    publisher_invocations = total.get("put_events", 0.0) / batch
    publisher_ms = latency.publisher_cpu_ms * cpu_factor(deployment.memory_mb) + batch * latency.aws_call_ms
    total["lambda:event_publisher"] = publisher_invocations
    total["lambda_ms:event_publisher"] = publisher_invocations * math.ceil(publisher_ms)
    if not usage.design.plans["edulastic"].no_workflow:
        sweeps = deployment.sweeps_per_hour * 24 * DAYS_PER_MONTH
        total["lambda:sweeper"] = sweeps
        total["lambda_ms:sweeper"] = sweeps * latency.sweeper_ms
        total.add({"dynamodb_rru": sweeps * deployment.due_shards * 0.5})  # one query a shard
    invocations = total.total("lambda:")
    gb_seconds = total.total("lambda_ms:") / 1000 * deployment.memory_mb / 1024
    http = total.total("http:")
    roots = (
        total.total("http:")
        + total.get("executions", 0.0)
        + publisher_invocations
        + total.get("lambda:sweeper", 0.0)
    )
    rate = roots / SECONDS_PER_MONTH
    sampled = (
        min(rate, observability.xray_reservoir_per_second)
        + observability.xray_rate * max(0.0, rate - observability.xray_reservoir_per_second)
    ) * SECONDS_PER_MONTH
    log_gb = (
        invocations * observability.log_kb_per_invocation + http * observability.access_log_kb_per_request
    ) / 1e6
    stored_gb = stored_bytes_per_test(results, mix) * tests / 1e9
    api_destinations = total.get("put_events", 0.0) if mix.webhook else 0.0
    total.add(
        {
            "lambda_invocations": invocations,
            "lambda_gb_seconds": gb_seconds,
            "http_requests": http,
            "xray_traces": sampled,
            "logs_gb": log_gb,
            "stored_gb": stored_gb,
            "api_destination": api_destinations,
        }
    )
    cost = {
        "DynamoDB reads": total.get("dynamodb_rru", 0.0) * price("dynamodb_rru"),
        "DynamoDB writes (incl. index)": total.get("dynamodb_wru", 0.0) * price("dynamodb_wru"),
        "DynamoDB storage + PITR of one month's tests": stored_gb
        * (price("dynamodb_storage_gb_month") + price("dynamodb_pitr_gb_month")),
        "Step Functions transitions": total.get("transitions", 0.0) * price("sfn_transition"),
        "Lambda requests": invocations * price("lambda_request"),
        "Lambda duration": gb_seconds * price(f"lambda_gb_second_{deployment.architecture}"),
        "HTTP API requests": http * price("http_api_request"),
        "EventBridge events": total.get("put_events", 0.0) * price("eventbridge_event"),
        "EventBridge API destination": api_destinations * price("eventbridge_api_destination"),
        "KMS requests + key": total.get("kms", 0.0) * price("kms_request") + price("kms_key_month"),
        "X-Ray traces": sampled * price("xray_trace"),
        "CloudWatch Logs ingestion": log_gb * price("logs_ingested_gb"),
        "CloudWatch metrics, alarms, dashboard": observability.custom_metrics * price("custom_metric_month")
        + deployment.alarm_metrics * price("alarm_metric_month")
        + price("dashboard_month"),
        "Secrets Manager secrets": usage.secrets * price("secret_month"),
    }
    return Month(tests_per_day, total, cost)


# --- hot spots at peak -------------------------------------------------------------------------------
def peak_rates(usage: DesignUsage, tests_per_day: int, mix: Mix) -> Usage:
    """Amounts a second in the busiest hour: what follows a test's first hour rises with the
    day's peak; the long tails (tests nobody takes, polled for weeks) are spread evenly."""
    average = tests_per_day / 86400
    return usage.per_test.first_hour.scaled(average * mix.peak_factor).add(usage.per_test.later, average)


def concurrency(rates: Mapping[str, float]) -> dict[str, float]:
    """Concurrent executions per function (Little's law: arrivals a second x seconds each)."""
    return {
        key.removeprefix("lambda_ms:"): ms_per_second / 1000
        for key, ms_per_second in rates.items()
        if key.startswith("lambda_ms:")
    }


@dataclass
class HotSpots:
    rows: list[tuple[str, str, str, str]]  # (check, at peak, limit, verdict)


def hot_spots(usage: DesignUsage, tests_per_day: int, mix: Mix, deployment: Deployment) -> HotSpots:
    rates = peak_rates(usage, tests_per_day, mix)
    rows: list[tuple[str, str, str, str]] = []

    def row(check: str, value: float, limit: float, unit: str, note: str = "") -> None:
        share = value / limit if limit else math.inf
        verdict = "ok" if share <= 0.5 else "tight" if share <= 1 else "**over**"
        rows.append((check, f"{value:,.1f} {unit}", f"{limit:,.0f} {unit}", f"{verdict} ({share:.0%}){note}"))

    due = rates.get("due_index_writes", 0.0)
    per_shard = due / deployment.due_shards
    half = quota("dynamodb_partition_wcu") / 2
    needed = max(1, math.ceil(due / half))
    ceiling = tests_per_day * deployment.due_shards * half / due if due else math.inf
    row(
        f"due view: index writes per shard ({deployment.due_shards} shards)",
        per_shard,
        quota("dynamodb_partition_wcu"),
        "WCU/s",
        f"; {due:,.0f} WCU/s in all: {needed} shard(s) keep each under half a partition; "
        f"{deployment.due_shards} do up to {ceiling:,.0f} tests a day",
    )
    for label, key, limit, unit in (
        ("DynamoDB table: write units", "dynamodb_wru", "dynamodb_table_ondemand", "WRU/s"),
        ("DynamoDB table: read units", "dynamodb_rru", "dynamodb_table_ondemand", "RRU/s"),
        ("Step Functions: StartExecution", "executions", "sfn_start_execution_refill", "/s"),
        ("Step Functions: state transitions", "transitions", "sfn_transition_refill", "/s"),
    ):
        row(label, rates.get(key, 0.0), quota(limit), unit)
    per_route = {k.removeprefix("http:"): v for k, v in rates.items() if k.startswith("http:")}
    busiest = max(per_route, key=lambda k: per_route[k]) if per_route else "none"
    row(
        f"HTTP API: busiest route ({HTTP_FUNCTIONS.get(busiest, busiest)})",
        per_route.get(busiest, 0.0),
        deployment.http_rate,
        "req/s",
        f"; burst {deployment.http_burst:.0f}",
    )
    row("HTTP API: all routes, account", sum(per_route.values()), quota("http_api_account"), "req/s")
    running = concurrency(rates)
    row("Lambda: concurrent executions", sum(running.values()), quota("lambda_concurrency"), "")
    open_executions = usage.per_test.total.get("open_execution_hours", 0.0) * tests_per_day / 24
    row("Step Functions: open executions", open_executions, quota("sfn_open_executions"), "")
    row("EventBridge: PutEvents", rates.get("put_events", 0.0), quota("eventbridge_put_events"), "/s")
    if mix.webhook:
        row(
            "EventBridge: API destination (webhook)",
            rates.get("put_events", 0.0),
            deployment.webhook_rate,
            "/s",
        )
    row("KMS: requests", rates.get("kms", 0.0), quota("kms_symmetric"), "/s")
    return HotSpots(rows)


@dataclass
class ProviderLoad:
    provider: str
    assigns_per_second: float
    concurrent_assigns: float
    calls_per_second: float


def provider_load(
    usage: DesignUsage, results: Mapping[str, Any], tests_per_day: int, mix: Mix, latency: Latency
) -> list[ProviderLoad]:
    """Assigns a second and in flight at peak per provider (an assign takes its measured
    provider calls x the assumed call latency), and all calls a second (assigns and polls)."""
    rates = peak_rates(usage, tests_per_day, mix)
    records = results["use_cases"]
    peak_tests = tests_per_day / 86400 * mix.peak_factor
    loads = []
    for provider, share, assigns in (
        (
            "edulastic",
            mix.edulastic_share,
            (
                ("assign_edulastic", mix.new_student_share),
                ("assign_edulastic_returning", 1 - mix.new_student_share),
            ),
        ),
        ("mastery-track", 1 - mix.edulastic_share, (("assign_mastery_track", 1.0),)),
    ):
        seconds = sum(w * records[name]["provider_calls"] * latency.provider_ms / 1000 for name, w in assigns)
        rate = peak_tests * share
        loads.append(ProviderLoad(provider, rate, rate * seconds, rates.get(f"calls:{provider}", 0.0)))
    return loads


# --- the report ------------------------------------------------------------------------------------
def designs(mix: Mix, deployment: Deployment, workflow: Workflow, results: Mapping[str, Any]) -> list[Design]:
    ours = workflow_plans(mix, deployment, workflow)
    found = [Design("this service, table roster", ours)]
    if results.get("live_roster"):
        found.append(Design("this service, live roster", ours, live=True))
    found.append(Design("PowerPath-style polling", powerpath_plans(mix)))
    return found


def money(value: float) -> str:
    return f"${value:,.2f}" if value < 100 else f"${value:,.0f}"


def amount(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


PER_TEST_ROWS = (
    ("HTTP API requests", lambda u: u.total("http:")),
    ("Lambda invocations", lambda u: u.total("lambda:")),
    ("Lambda compute seconds (x memory GB = GB-s)", lambda u: u.total("lambda_ms:") / 1000),
    ("DynamoDB read request units", lambda u: u.get("dynamodb_rru", 0.0)),
    ("DynamoDB write request units (incl. index)", lambda u: u.get("dynamodb_wru", 0.0)),
    ("writes on the due view (index)", lambda u: u.get("due_index_writes", 0.0)),
    ("Step Functions executions", lambda u: u.get("executions", 0.0)),
    ("Step Functions state transitions", lambda u: u.get("transitions", 0.0)),
    ("events stored (outbox) = PutEvents", lambda u: u.get("put_events", 0.0)),
    ("KMS requests", lambda u: u.get("kms", 0.0)),
    ("Edulastic calls", lambda u: u.get("calls:edulastic", 0.0)),
    ("MasteryTrack calls", lambda u: u.get("calls:mastery-track", 0.0)),
    ("TimeBack roster reads", lambda u: u.get("calls:timeback reads", 0.0)),
    ("TimeBack EduBridge enrollment calls", lambda u: u.get("calls:timeback enroll", 0.0)),
)


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def measured_table(results: Mapping[str, Any], deployment: Deployment, latency: Latency) -> list[str]:
    """The measured figures per request the model uses, with the duration it assumes in AWS."""
    records, live = results["use_cases"], results.get("live_roster") or {}
    rows = []
    for name, record in records.items():
        if "capacity" not in record or name.startswith("import_finalizes_q") or name == "sweeper":
            continue
        usage = use_case_usage(record, deployment, latency)
        platform = "–"
        if name in live.get("cached", {}):

            def cell(variant: Mapping[str, Any]) -> str:
                calls = use_case_usage(variant, deployment, latency).total("calls:timeback")
                return f"{variant['round_trips']} RT, {calls:g}"

            platform = f"{cell(live['uncached'][name])} / {cell(live['cached'][name])}"
        rows.append(
            [
                name,
                record["function"],
                str(record["round_trips"]),
                amount(usage["dynamodb_rru"]),
                amount(usage["dynamodb_wru"]),
                str(record["due_index_writes"]),
                str(record["provider_calls"]),
                platform,
                amount(usage["kms"]),
                str(len(record.get("events") or [])),
                amount(record["latency"]["handler_cpu"]["p50_ms"]),
                f"{usage['lambda_ms:' + record['function']]:.0f}",
            ]
        )
    return [
        "## Measured per request (bench) and the duration assumed in AWS",
        "",
        *table(
            [
                "use case",
                "function",
                "RT",
                "RRU",
                "WRU",
                "due-view writes",
                "provider calls",
                "live roster: uncached / cached (RT, platform calls)",
                "KMS",
                "events",
                "CPU ms",
                "ms in AWS",
            ],
            rows,
        ),
    ]


def describe_mix(mix: Mix) -> str:
    types = ", ".join(f"{t} {share:.0%} ({enrolls:.0%} enroll)" for t, share, enrolls in mix.lesson_types)
    return "; ".join(
        [
            f"{mix.edulastic_share:.0%} Edulastic, the rest MasteryTrack",
            f"lesson types {types} = {mix.enrollments_per_finalized_test:.2f} enrollments per finalized test",
            f"{mix.test_minutes:g} min from assignment to the final result",
            f"{mix.edulastic_questions} questions per Edulastic test",
            f"{mix.new_student_share:.0%} of Edulastic assigns for a new student",
            f"{mix.assign_twice_share:.0%} of tests assigned twice",
            f"{mix.writebacks_per_mastery_track_test} write-backs per MasteryTrack test",
            f"{mix.client_imports_per_test:g} client import and {mix.progress_per_test:g} progress per test",
            f"{mix.abandoned_share:.0%} of tests never taken",
            f"busiest hour {mix.peak_factor:g}x the 24-hour average",
            f"events webhook {'on' if mix.webhook else 'off'}",
        ]
    )


def render(
    results: Mapping[str, Any],
    mix: Mix | None = None,
    deployment: Deployment | None = None,
    latency: Latency | None = None,
    observability: Observability | None = None,
) -> str:
    mix, latency, observability = mix or Mix(), latency or Latency(), observability or Observability()
    deployment = deployment or deployment_from_template()
    workflow = Workflow.from_results(results["workflow"])
    usages = [
        design_usage(d, results, mix, deployment, latency)
        for d in designs(mix, deployment, workflow, results)
    ]
    names = [u.design.name for u in usages]
    out = [
        f"# Capacity and cost (bench run {results.get('generated_at')}, {results.get('mode')} mode)",
        "",
        f"Prices: AWS list prices, {REGION}, as of {PRICES_AS_OF}, no free tier. "
        f"Deployment: {deployment.memory_mb} MB {deployment.architecture}, waits "
        f"{','.join(map(str, deployment.waits))} s, deadline {deployment.deadline_days:g} days, roster cache "
        f"{deployment.roster_cache_s:g} s, {deployment.due_shards} due-view shards. "
        f"Mix (assumed): {describe_mix(mix)}.",
        "",
        *measured_table(results, deployment, latency),
        "",
        "## Per test (taken and never-taken tests mixed)",
        "",
    ]
    out += table(
        ["", *names],
        ([label, *(amount(get(u.per_test.total)) for u in usages)] for label, get in PER_TEST_ROWS),
    )
    months = {
        v: [month(v, u, results, mix, deployment, latency, observability) for u in usages] for v in VOLUMES
    }
    for volume, per_design in months.items():
        out += ["", f"## {volume:,} tests a day: cost per month ({DAYS_PER_MONTH} days)", ""]
        lines = list(per_design[0].cost)
        out += table(
            ["", *names],
            [[line, *(money(m.cost[line]) for m in per_design)] for line in lines]
            + [["**total**", *(f"**{money(m.total)}**" for m in per_design)]],
        )
    top = VOLUMES[-1]
    ours = usages[0]
    out += ["", f"## Hot spots at {top:,} tests a day, busiest hour ({names[0]})", ""]
    out += table(
        ["check", "at peak", "limit", ""], [list(r) for r in hot_spots(ours, top, mix, deployment).rows]
    )
    out += ["", "Providers at peak (assign duration = its provider calls x the assumed call latency):", ""]
    out += table(
        ["provider", "assigns/s", "assigns in flight", "calls/s (assigns + polls)"]
        + [f"calls/s, {names[-1]}"],
        [
            [
                p.provider,
                amount(p.assigns_per_second),
                amount(p.concurrent_assigns),
                amount(p.calls_per_second),
                amount(q.calls_per_second),
            ]
            for p, q in zip(
                provider_load(ours, results, top, mix, latency),
                provider_load(usages[-1], results, top, mix, latency),
                strict=True,
            )
        ],
    )
    running = concurrency(peak_rates(ours, top, mix))
    out += [
        "",
        "Lambda concurrency at peak by function: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(running.items()))
        + ".",
    ]
    out += ["", f"## What if ({top:,} tests a day, {names[0]})", ""]
    scenarios = [
        ("as above", mix, deployment),
        ("nobody abandons a test", replace(mix, abandoned_share=0.0), deployment),
        (
            "the last wait is a day (waits ...,3600,86400)",
            mix,
            replace(deployment, waits=(*deployment.waits, 86400)),
        ),
        (
            "... and a 7-day deadline",
            mix,
            replace(deployment, waits=(*deployment.waits, 86400), deadline_days=7),
        ),
        ("50 questions per Edulastic test", replace(mix, edulastic_questions=50), deployment),
    ]
    rows = []
    for label, m, d in scenarios:
        u = design_usage(Design(ours.design.name, workflow_plans(m, d, workflow)), results, m, d, latency)
        polling = design_usage(Design("PowerPath-style", powerpath_plans(m)), results, m, d, latency)
        cost = month(top, u, results, m, d, latency, observability)
        rates = peak_rates(u, top, m)
        rows.append(
            [
                label,
                money(cost.total),
                money(cost.cost["Step Functions transitions"]),
                money(cost.cost["DynamoDB writes (incl. index)"]),
                amount(rates.get("calls:edulastic", 0.0)),
                amount(rates.get("transitions", 0.0)),
                amount(u.per_test.total.get("open_execution_hours", 0.0) * top / 24),
                money(month(top, polling, results, m, d, latency, observability).total),
            ]
        )
    out += table(
        [
            "",
            "total / month",
            "Step Functions",
            "DynamoDB writes",
            "Edulastic calls/s at peak",
            "transitions/s at peak",
            "open executions",
            "PowerPath-style total",
        ],
        rows,
    )
    out += ["", "## Prices used", ""]
    out += table(["price", "USD"], [[label, f"{value:.10g}"] for value, label in PRICES.values()])
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="bench results (default bench/results.json)"
    )
    args = parser.parse_args(argv)
    print(render(json.loads(args.results.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
