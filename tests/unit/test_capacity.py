"""The capacity and cost model (tools/capacity.py) on a small results document whose figures can
be worked out by hand: request units by DynamoDB's rules, the workflow's transitions and polls,
the live roster's cache window, the cost of each line, and that a change in a measured count moves
the cost the right way."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from tools import capacity as cap

KB = 1024
TESTS_A_DAY = 1000


def call(
    operation: str,
    *,
    reads: tuple[int | None, ...] = (),
    read_kind: str = "attempt",
    writes: tuple[tuple[str, int, bool], ...] = (),
    checks: tuple[int, ...] = (),
    consistent: bool = True,
    index: int = 0,
    due: int = 0,
) -> dict[str, Any]:
    written = [
        {"kind": kind, "bytes": size, "transactional": transactional, "condition_check": False}
        for kind, size, transactional in writes
    ]
    written += [
        {"kind": "course", "bytes": size, "transactional": True, "condition_check": True} for size in checks
    ]
    return {
        "operation": operation,
        "failed": False,
        "consistent": consistent,
        "read_bytes": list(reads),
        "read_kinds": [read_kind] * len(reads),
        "written": written,
        "index_writes": index,
        "due_index_writes": due,
    }


def record(
    function: str,
    *calls: dict[str, Any],
    provider: dict[str, int] | None = None,
    aws: dict[str, int] | None = None,
    events: tuple[str, ...] = (),
    cpu_ms: float = 2.0,
) -> dict[str, Any]:
    routes = provider or {}
    return {
        "title": function,
        "function": function,
        "round_trips": len(calls),
        "capacity": list(calls),
        "due_index_writes": sum(c["due_index_writes"] for c in calls),
        "provider_routes": routes,
        "provider_calls": sum(n for r, n in routes.items() if not r.startswith("timeback:")),
        "aws_calls": aws or {},
        "events": list(events),
        "outbox": {"records": len(events), "put_events": len(events)},
        "latency": {"handler_cpu": {"p50_ms": cpu_ms}},
    }


ONE_ITEM_READ = call("BatchGetItem", reads=(1000,))
EDU = {"edulastic:POST /x": 1}


def fixture_results() -> dict[str, Any]:
    """Each use case reads one 1,000-byte attempt (1 RRU) and writes as commented."""
    assign = record(
        "assign",
        ONE_ITEM_READ,
        call("TransactWriteItems", writes=(("attempt", 1000, True),), index=1, due=1),  # 2 WRU + 1
        provider={"edulastic:POST /assign": 3},
        aws={"kms:Encrypt": 1, "kms:Decrypt": 2, "sfn:StartExecution": 1},
        events=("External Test Assigned",),
    )
    finalizes = record(
        "import_results",
        ONE_ITEM_READ,
        # attempt 2 KB in a transaction (4 WRU), enrollment (2 WRU), 2 events (4 WRU), the course's
        # ConditionCheck (2 RRU), the entry leaves the due view (1 WRU)
        call(
            "TransactWriteItems",
            writes=(
                ("attempt", 2 * KB, True),
                ("enrollment", 400, True),
                ("event (outbox)", 500, True),
                ("event (outbox)", 500, True),
            ),
            checks=(30,),
            index=1,
            due=1,
        ),
        provider=EDU | {"edulastic:GET /y": 1},
        aws={"kms:Decrypt": 1},
        events=("External Test Finalized", "Student Enrolled"),
    )
    reads_only = record("import_results", ONE_ITEM_READ, aws={"kms:Decrypt": 1})
    use_cases = {
        "assign_edulastic": assign,
        "assign_edulastic_returning": assign,
        "assign_again_edulastic": reads_only,
        "assign_mastery_track": record("assign", ONE_ITEM_READ, aws={"sfn:StartExecution": 1}),
        "assign_again_mastery_track": record("assign", ONE_ITEM_READ),
        # a poll: read, write the new answers (1 WRU), move the due time (1 WRU + 2 index writes)
        "task_poll_not_final": record(
            "workflow_tasks",
            ONE_ITEM_READ,
            call("PutItem", writes=(("attempt", 1000, False),)),
            call("UpdateItem", writes=(("attempt", 1000, False),), index=2, due=2),
            provider={"edulastic:POST /activity": 2},
        ),
        "task_poll_idle": record("workflow_tasks", ONE_ITEM_READ, provider={"edulastic:POST /activity": 2}),
        "task_poll_idle_mastery_track": record("workflow_tasks", ONE_ITEM_READ),
        "task_register_callback": record("workflow_tasks", ONE_ITEM_READ),
        "task_poll_final": record("workflow_tasks", ONE_ITEM_READ),
        "task_enroll_done": record("workflow_tasks", ONE_ITEM_READ),
        "import_not_final": record(
            "import_results", ONE_ITEM_READ, provider={"edulastic:POST /activity": 2}, aws={"kms:Decrypt": 1}
        ),
        "import_finalizes": finalizes,
        "import_finalizes_no_enrollment": finalizes,
        "import_final": reads_only,
        "progress": record("progress", ONE_ITEM_READ),
        "write_back_not_final": record("writeback", ONE_ITEM_READ),
        "write_back": record("writeback", ONE_ITEM_READ, events=("External Test Finalized",)),
        "write_back_no_enrollment": record("writeback", ONE_ITEM_READ, events=("External Test Finalized",)),
        # the attempt grows by 100 bytes a question
        "import_finalizes_q10": {
            **finalizes,
            "questions": 10,
            "capacity": [call("PutItem", writes=(("attempt", 1000, False),))],
        },
        "import_finalizes_q200": {
            **finalizes,
            "questions": 200,
            "capacity": [call("PutItem", writes=(("attempt", 20000, False),))],
        },
    }
    platform_read = {
        "timeback:GET /users/{id}": 1,
        "timeback:GET /component-resources/{id}": 1,
        "timeback:GET /resources/{id}": 1,
    }
    uncached = {
        name: {**r, "provider_routes": {**r["provider_routes"], **platform_read}}
        for name, r in use_cases.items()
    }
    return {
        "generated_at": "2026-12-01T00:00:00+00:00",
        "mode": "fixture",
        "use_cases": use_cases,
        "live_roster": {"cache_seconds": 300, "uncached": uncached, "cached": copy.deepcopy(use_cases)},
        "workflow": {
            "per_poll_iteration": {"state_transitions": 3.0, "lambda_invocations": 1.0},
            "edulastic_a": {
                "state_transitions": 8,
                "by_state": {
                    "Route": 1,
                    "Wait": 1,
                    "Poll": 1,
                    "Decide": 1,
                    "StartEnrollment": 1,
                    "Enroll": 1,
                    "EnrollmentDone": 1,
                    "Finalized": 1,
                },
            },
            "edulastic_expired": {
                "state_transitions": 5,
                "by_state": {"Route": 1, "Wait": 1, "Poll": 1, "Decide": 1, "Expired": 1},
            },
            "mastery_track": {"state_transitions": 8, "by_state": {}},
        },
    }


# Edulastic only, every test taken, a test-out that always enrolls, nothing asked twice.
MIX = cap.Mix(
    edulastic_share=1.0,
    lesson_types=(("test-out", 1.0, 1.0),),
    edulastic_questions=4,
    new_student_share=1.0,
    assign_twice_share=0.0,
    abandoned_share=0.0,
)
DEPLOYMENT = cap.Deployment()
LATENCY = cap.Latency()


def per_test(results: dict[str, Any], mix: cap.Mix = MIX, *, live: bool = False) -> cap.Usage:
    workflow = cap.Workflow.from_results(results["workflow"])
    design = cap.Design("ours", cap.workflow_plans(mix, DEPLOYMENT, workflow), live=live)
    return cap.design_usage(design, results, mix, DEPLOYMENT, LATENCY).per_test.total


def monthly(results: dict[str, Any], mix: cap.Mix = MIX) -> cap.Month:
    workflow = cap.Workflow.from_results(results["workflow"])
    design = cap.Design("ours", cap.workflow_plans(mix, DEPLOYMENT, workflow))
    usage = cap.design_usage(design, results, mix, DEPLOYMENT, LATENCY)
    return cap.month(TESTS_A_DAY, usage, results, mix, DEPLOYMENT, LATENCY, cap.Observability())


# --- DynamoDB's rules -----------------------------------------------------------------------------


def test_a_write_costs_one_unit_per_started_kilobyte_and_twice_in_a_transaction() -> None:
    plain = call("PutItem", writes=(("attempt", 1025, False),))
    transactional = call("TransactWriteItems", writes=(("attempt", 1025, True),))

    assert cap.request_units([plain]) == (0, 2)
    assert cap.request_units([transactional]) == (0, 4)


def test_a_read_costs_one_unit_per_4_kb_a_missing_key_one_and_an_eventual_read_half() -> None:
    consistent = call("BatchGetItem", reads=(4096, 4097, None))
    eventual = call("GetItem", reads=(4096,), consistent=False)

    assert cap.request_units([consistent]) == (1 + 2 + 1, 0)
    assert cap.request_units([eventual]) == (0.5, 0)


def test_a_query_costs_what_it_returns_rounded_once() -> None:
    index_query = call("Query", reads=(5000,), consistent=False)
    empty = call("Query", reads=(0,), consistent=False)

    assert cap.request_units([index_query]) == (1.0, 0)
    assert cap.request_units([empty]) == (0.5, 0)


def test_a_condition_check_is_a_transactional_read_and_index_writes_are_write_units() -> None:
    checked = call("TransactWriteItems", checks=(30,), index=2)

    assert cap.request_units([checked]) == (2, 2)


def test_more_questions_grow_the_attempt_items_only() -> None:
    calls = [call("PutItem", writes=(("attempt", 1000, False), ("enrollment", 1000, False)))]

    assert cap.request_units(calls, attempt_extra_bytes=100) == (0, 2 + 1)
    assert cap.attempt_bytes_per_question(fixture_results()["use_cases"]) == 100


# --- the workflow ---------------------------------------------------------------------------------


def test_polls_follow_the_backoff_and_the_last_wait_repeats() -> None:
    waits = (60, 120, 300, 600, 1800, 3600)

    assert cap.poll_times(45 * 60, waits) == [60, 180, 480, 1080, 2880]
    month_of_polls = cap.poll_times(30 * 86400, waits)
    assert month_of_polls[5] == 2880 + 3600 and month_of_polls[-1] >= 30 * 86400
    assert len(month_of_polls) == 5 + math.ceil((30 * 86400 - 2880) / 3600)


def test_an_edulastic_test_costs_the_measured_transitions_and_one_task_per_poll() -> None:
    usage = per_test(fixture_results())

    assert usage["transitions"] == 1 + 3 * 5 + 4  # Route, 5 x (Wait, Poll, Decide), the enrollment tail
    assert usage["lambda:workflow_tasks"] == 5 + 1  # 4 polls + the one that finalizes, Enroll
    assert usage.total("http:") == 3  # assign, the client's import, progress
    assert usage["executions"] == 1
    assert usage["put_events"] == 3  # assigned, finalized, enrolled


def test_an_edulastic_test_costs_the_sum_of_its_requests_request_units() -> None:
    usage = per_test(fixture_results())

    # reads: 1 RRU each for assign, 4 polls, the finalizing poll (+2 for its ConditionCheck),
    # enroll, import, progress
    assert usage["dynamodb_rru"] == 1 + 4 + (1 + 2) + 1 + 1 + 1
    # writes: assign 2 + 1 index, each poll 1 + 1 + 2 index, finalizing 4 + 2 + 4 + 1 index
    assert usage["dynamodb_wru"] == 3 + 4 * 4 + 11
    assert usage["due_index_writes"] == 1 + 4 * 2 + 1


def test_a_test_nobody_takes_is_polled_until_its_deadline() -> None:
    results = fixture_results()
    abandoned = per_test(results, cap.Mix(edulastic_share=1.0, abandoned_share=1.0, assign_twice_share=0.0))

    polls = len(cap.poll_times(30 * 86400, DEPLOYMENT.waits))
    assert abandoned["lambda:workflow_tasks"] == polls
    assert abandoned["transitions"] == 1 + 3 * polls + 1  # Route, the polls, Expired
    assert abandoned["calls:edulastic"] == 3 + 2 * polls


def test_the_powerpath_design_polls_every_minute_without_a_workflow() -> None:
    results = fixture_results()
    design = cap.Design("powerpath", cap.powerpath_plans(MIX))

    usage = cap.design_usage(design, results, MIX, DEPLOYMENT, LATENCY).per_test.total

    assert usage.total("http:") == 1 + 45 + 1  # assign, 44 imports and the final one, progress
    assert usage.get("transitions", 0) == 0 and usage.get("executions", 0) == 0
    assert usage["kms"] == 3 + 45  # the assign, then credentials decrypted on every import


# --- the live roster ------------------------------------------------------------------------------


def test_the_live_roster_reads_the_platform_only_once_the_cache_window_has_passed() -> None:
    usage = per_test(fixture_results(), live=True)

    # assign at 0 min reads; polls at 1 and 3 min are cached; 8, 18 and 48 min read again; the
    # client's import and progress right after are cached; Enroll reads no roster.
    assert usage["calls:timeback reads"] == 3 * 4


def test_a_request_that_only_sometimes_happens_does_not_refill_the_cache() -> None:
    steps = [
        cap.Step(0, (("a", 1.0),)),
        cap.Step(6, (("b", 0.2),)),
        cap.Step(7, (("c", 1.0),)),
        cap.Step(8, (("d", 1.0),), roster=False),
        cap.Step(11, (("e", 1.0),)),
    ]

    assert cap.cache_hits(steps, 300) == [False, False, False, None, True]


# --- cost -----------------------------------------------------------------------------------------


def test_each_cost_line_is_its_usage_times_its_price() -> None:
    results = fixture_results()
    usage = per_test(results)
    cost = monthly(results)
    tests = TESTS_A_DAY * cap.DAYS_PER_MONTH

    assert cost.cost["DynamoDB writes (incl. index)"] == pytest.approx(30 * tests * 0.625e-6)
    assert cost.cost["Step Functions transitions"] == pytest.approx(20 * tests * 0.025e-3)
    assert cost.cost["HTTP API requests"] == pytest.approx(3 * tests * 1e-6)
    assert cost.cost["EventBridge events"] == pytest.approx(usage["put_events"] * tests * 1e-6)
    assert cost.cost["KMS requests + key"] == pytest.approx(usage["kms"] * tests * 0.03e-4 + 1.0)
    assert cost.total == pytest.approx(sum(cost.cost.values()))


def test_one_more_written_kilobyte_per_poll_raises_the_write_cost_by_its_units() -> None:
    before = monthly(fixture_results())
    results = fixture_results()
    results["use_cases"]["task_poll_not_final"]["capacity"][1]["written"][0]["bytes"] += KB

    after = monthly(results)

    extra_units = 4 * 1  # 4 not-final polls, one more write unit each
    expected = extra_units * TESTS_A_DAY * cap.DAYS_PER_MONTH * cap.price("dynamodb_wru")
    assert after.cost["DynamoDB writes (incl. index)"] - before.cost["DynamoDB writes (incl. index)"] == (
        pytest.approx(expected)
    )
    assert after.cost["DynamoDB reads"] == before.cost["DynamoDB reads"]


def test_more_transitions_per_poll_raise_the_step_functions_cost_in_proportion() -> None:
    results = fixture_results()
    results["workflow"]["per_poll_iteration"]["state_transitions"] = 4.0

    cost = monthly(results)

    assert cost.cost["Step Functions transitions"] == pytest.approx(
        (1 + 4 * 5 + 4) * TESTS_A_DAY * cap.DAYS_PER_MONTH * 0.025e-3
    )


def test_another_provider_call_per_poll_costs_lambda_time_not_aws_requests() -> None:
    before = monthly(fixture_results())
    results = fixture_results()
    results["use_cases"]["task_poll_not_final"]["provider_routes"]["edulastic:POST /activity"] += 1

    after = monthly(results)

    assert after.usage["calls:edulastic"] > before.usage["calls:edulastic"]
    assert after.cost["Lambda duration"] > before.cost["Lambda duration"]
    assert after.cost["Lambda requests"] == before.cost["Lambda requests"]


# --- hot spots ------------------------------------------------------------------------------------


def test_the_due_view_needs_more_shards_when_its_writes_pass_half_a_partition() -> None:
    results = fixture_results()
    workflow = cap.Workflow.from_results(results["workflow"])
    design = cap.Design("ours", cap.workflow_plans(MIX, DEPLOYMENT, workflow))
    usage = cap.design_usage(design, results, MIX, DEPLOYMENT, LATENCY)
    # 10 due-view writes per test; 10,000,000 tests a day at a 6x peak: ~6,944 writes a second.
    one_shard = cap.hot_spots(usage, 10_000_000, MIX, cap.Deployment(due_shards=1))

    check, at_peak, limit, verdict = one_shard.rows[0]
    assert at_peak.startswith("6,944") and limit == "1,000 WCU/s"
    assert verdict.startswith("**over**") and "14 shard(s)" in verdict


def test_the_deployment_is_read_from_the_template() -> None:
    deployment = cap.deployment_from_template()

    assert deployment.memory_mb == 1024 and deployment.architecture == "arm64"
    assert deployment.waits == (60, 120, 300, 600, 1800, 3600)
    assert (deployment.http_rate, deployment.http_burst, deployment.webhook_rate) == (100, 200, 50)
    assert deployment.sweeps_per_hour == 12 and deployment.due_shards == 8
    assert deployment.alarm_metrics >= 29


def test_the_report_names_its_prices_date_and_every_volume() -> None:
    text = cap.render(fixture_results(), mix=MIX, deployment=DEPLOYMENT)

    assert f"{cap.REGION}, as of {cap.PRICES_AS_OF}" in text
    for volume in cap.VOLUMES:
        assert f"## {volume:,} tests a day" in text
    assert "PowerPath-style polling" in text and "this service, live roster" in text


def test_the_committed_bench_results_can_be_priced() -> None:
    results = json.loads(cap.RESULTS.read_text())

    text = cap.render(results)

    assert "## Hot spots" in text
