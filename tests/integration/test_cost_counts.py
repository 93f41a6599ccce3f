"""DynamoDB round trips and provider calls per use case, counted the way `make bench` counts them
(bench.counters: botocore after-call hooks on the service's DynamoDB client, the simulators' call
counters). Counts are deterministic, so a regression fails here; times are not asserted.

Budgets are the issue's targets, tightened to what the service does today where it does better
(a change that costs a round trip more is a regression even if still inside the target).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import scenarios as sc
from bench.harness import EDU_LESSON, MT_LESSON, student_id
from exttests import wiring

# (round trips, provider calls): issue target -> budget asserted here
# Target ≤ 3 RT, ≤ 2 calls with a warm token. A student the service never saw costs 3 calls: the
# contract says look the student up first (a student who already existed on Edulastic must not be
# handed a password the service never set), then create, then assign. A returning student: 1.
ASSIGN_EDULASTIC = (3, 3)
ASSIGN_EDULASTIC_RETURNING = (3, 1)
ASSIGN_MASTERY_TRACK = (3, 1)  # target ≤ 3 RT, ≤ 2 calls; today 1 call
IMPORT_NOT_FINAL = (2, 2)  # no target; today's figures
IMPORT_FINALIZES_200 = (3, 2)  # target ≤ 4 RT and 2 calls; today 3 RT
IMPORT_FINAL = (1, 0)  # target 1 RT, 0 calls
WRITE_BACK = (4, 0)  # no target; today's figures
PROGRESS = (1, 0)  # target 1 RT


@pytest.fixture
def bench(service: Any) -> Any:
    sc.load_bench_data(service, 3)
    return service


def run(service: Any, invocation: sc.Invocation) -> sc.Measurement:
    measurement = sc.measure(service, sc.counter_for(service), invocation)
    sc.ok(measurement.answer)
    return measurement


def assert_budget(measurement: sc.Measurement, budget: tuple[int, int]) -> None:
    round_trips, provider_calls = budget
    assert measurement.round_trips <= round_trips, measurement.dynamo.operations
    assert measurement.provider_calls <= provider_calls, measurement.provider


@pytest.mark.parametrize(
    ("lesson", "budget"),
    [
        pytest.param(
            EDU_LESSON,
            ASSIGN_EDULASTIC,
            id="edulastic",
        ),
        pytest.param(MT_LESSON, ASSIGN_MASTERY_TRACK, id="mastery-track"),
    ],
)
def test_assign_on_a_warm_token(bench: Any, lesson: str, budget: tuple[int, int]) -> None:
    assert bench.assign("student-ada", lesson)[0] == 200  # logs in, caches the token

    measurement = run(bench, sc.Invocation("assign", sc.assign_event(student_id(0), lesson)))

    assert_budget(measurement, budget)
    assert "Scan" not in measurement.dynamo.operations


def test_assign_of_a_returning_edulastic_student(bench: Any) -> None:
    assert bench.assign(student_id(0), EDU_LESSON)[0] == 200
    other = "lesson-edu-placement-math-g5"

    measurement = run(bench, sc.Invocation("assign", sc.assign_event(student_id(0), other)))

    assert_budget(measurement, ASSIGN_EDULASTIC_RETURNING)


def _assigned(service: Any, lesson: str = EDU_LESSON, student: int = 0) -> None:
    assert service.assign(student_id(student), lesson)[0] == 200


def test_import_not_final(bench: Any) -> None:
    _assigned(bench)
    sc.finish_edulastic(bench, student_id(0), sc.email(0), EDU_LESSON, 4, submitted=False)

    measurement = run(bench, sc.Invocation("import_results", sc.import_event(student_id(0), EDU_LESSON)))

    assert_budget(measurement, IMPORT_NOT_FINAL)


def test_import_of_a_final_attempt_is_one_read_and_no_provider_call(bench: Any) -> None:
    _assigned(bench)
    sc.finish_edulastic(bench, student_id(0), sc.email(0), EDU_LESSON, 4)
    assert bench.import_results(student_id(0), EDU_LESSON)[1]["finalized"] is True

    measurement = run(bench, sc.Invocation("import_results", sc.import_event(student_id(0), EDU_LESSON)))

    assert measurement.round_trips == IMPORT_FINAL[0], measurement.dynamo.operations
    assert measurement.provider_calls == IMPORT_FINAL[1], measurement.provider
    assert measurement.dynamo.items_written == 0


def _import_that_finalizes(service: Any, questions: int, student: int) -> sc.Measurement:
    workload = sc.question_workload(service, questions)
    measurement = sc.run_once(service, sc.counter_for(service), workload, student)
    return measurement


def test_import_that_finalizes_a_200_question_test(bench: Any) -> None:
    measurement = _import_that_finalizes(bench, 200, 0)

    assert_budget(measurement, IMPORT_FINALIZES_200)
    assert measurement.provider_calls == 2


def test_import_round_trips_do_not_grow_with_the_question_count(bench: Any) -> None:
    counts = {
        questions: _import_that_finalizes(bench, questions, i).dynamo
        for i, questions in enumerate(sc.QUESTION_COUNTS)
    }

    shapes = {(tuple(c.operations), c.items_read, c.items_written) for c in counts.values()}
    assert len(shapes) == 1, {q: c.summary() for q, c in counts.items()}


def test_write_back(bench: Any) -> None:
    _assigned(bench, MT_LESSON)
    head = bench.wait_for_callback(student_id(0), MT_LESSON)

    measurement = run(bench, sc.Invocation("writeback", sc.writeback_event(head.sourced_id)))

    assert_budget(measurement, WRITE_BACK)


def test_progress_is_one_round_trip(bench: Any) -> None:
    _assigned(bench)

    measurement = run(bench, sc.Invocation("progress", sc.progress_event(student_id(0), EDU_LESSON)))

    assert measurement.round_trips == PROGRESS[0], measurement.dynamo.operations
    assert measurement.provider_calls == PROGRESS[1]


def test_sweeper_reads_track_the_stuck_attempts_only(service: Any) -> None:
    stuck = 10
    sc.seed_sweeper(service, 1000, stuck)

    measurement = sc.measure(service, sc.counter_for(service), sc.sweeper_invocation())

    assert measurement.answer["examined"] == stuck and len(measurement.answer["restarted"]) == stuck
    assert "Scan" not in measurement.dynamo.operations
    assert measurement.dynamo.items_read == 2 * stuck  # index entries + one re-read each
    shards = wiring.settings().due_index_shards  # one query per shard of the due view
    assert measurement.round_trips <= shards + 2 * stuck  # the queries, then a read and a write each
    assert measurement.provider_calls == 0
