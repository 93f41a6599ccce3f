"""What each use case costs in store round trips and provider-port calls, counted on the fakes.

Each store method is one DynamoDB round trip in DynamoStore (BatchGetItem, GetItem, PutItem,
TransactWriteItems, UpdateItem or Query), except `find_by_sourced_id`, which is two (the alias,
then the context) — the fake counts those as its own call plus the `load_context` it makes, and
a third (`get_attempt`) for an archived attempt, as DynamoStore does. So the sums below are the
DynamoDB round trips the use cases cause; a change that costs one more fails here.

Provider HTTP calls behind one port call (the Edulastic adapter looks a new student up, creates
them, then assigns: 3; fetching results is 2) belong to the adapters and are counted there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from exttests.usecases.progress import get_progress
from exttests.usecases.results import import_results, write_back
from exttests.usecases.workflow_tasks import sweep
from tests.fakes import FakeWorld, make_deps
from tests.fakes.scenarios import (
    ADA,
    EDU_PLACEMENT,
    EDU_TESTOUT,
    MT_TESTOUT,
    activity,
    assigned,
    head,
    pulled,
    record,
    seeded_world,
)


def cost(world: FakeWorld, action: Callable[[], Any]) -> tuple[Counter[str], int]:
    """(store calls by method, provider-port calls that reach a provider) of one action."""
    store = Counter(world.store.calls)
    port = sum(p.calls["assign"] + p.calls["fetch_results"] for p in world.providers.by_name.values())
    action()
    after = sum(p.calls["assign"] + p.calls["fetch_results"] for p in world.providers.by_name.values())
    return world.store.calls - store, after - port


@pytest.mark.parametrize("lesson", [EDU_TESTOUT, MT_TESTOUT])
def test_an_assignment_costs_three_round_trips_and_one_provider_call(lesson: str) -> None:
    world = make_deps()
    calls, port = cost(world, lambda: assigned(world, lesson))
    assert calls == Counter(load_context=1, begin_attempt=1, save=1)
    assert port == 1


def test_a_returning_student_is_assigned_by_the_id_the_provider_gave_without_a_lookup() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    calls, port = cost(world, lambda: assigned(world, EDU_PLACEMENT))
    assert sum(calls.values()) == 3 and port == 1
    assert world.edulastic.requests[-1].known_user_id is not None


def test_a_repeated_assignment_costs_one_read_and_no_provider_call() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    calls, port = cost(world, lambda: assigned(world, EDU_TESTOUT))
    assert calls == Counter(load_context=1) and port == 0


def test_an_import_of_new_partial_results_costs_two_round_trips() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    pulled(world, EDU_TESTOUT, [activity(0, 1)], graded="IN GRADING")
    calls, port = cost(world, lambda: import_results(world.deps, ADA, EDU_TESTOUT))
    assert calls == Counter(load_context=1, save=1) and port == 1


@pytest.mark.parametrize("questions", [1, 50, 200])
def test_an_import_that_finalizes_and_enrolls_costs_three_round_trips_whatever_the_question_count(
    questions: int,
) -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    pulled(world, EDU_TESTOUT, [activity(i, 1) for i in range(questions)])
    calls, port = cost(world, lambda: import_results(world.deps, ADA, EDU_TESTOUT))
    assert calls == Counter(load_context=1, find_track_course=1, save_enrollment=1) and port == 1


def test_an_import_of_a_final_attempt_is_one_read() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    pulled(world, EDU_TESTOUT, [activity(0, 1)])
    import_results(world.deps, ADA, EDU_TESTOUT)
    calls, port = cost(world, lambda: import_results(world.deps, ADA, EDU_TESTOUT))
    assert calls == Counter(load_context=1) and port == 0


def test_a_finalizing_write_back_costs_four_round_trips() -> None:
    world = make_deps()
    sourced_id = assigned(world, MT_TESTOUT).sourced_id
    calls, port = cost(world, lambda: write_back(world.deps, sourced_id, record(score=95)))
    assert calls == Counter(find_by_sourced_id=1, load_context=1, find_track_course=1, save_enrollment=1)
    assert port == 0


def test_a_partial_write_back_costs_three_round_trips() -> None:
    world = make_deps()
    sourced_id = assigned(world, MT_TESTOUT).sourced_id
    partial = record(score=40, status="partially graded")
    calls, _ = cost(world, lambda: write_back(world.deps, sourced_id, partial))
    assert calls == Counter(find_by_sourced_id=1, load_context=1, save=1)


def test_progress_is_one_round_trip_and_an_earlier_attempt_two() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    write_back(world.deps, head(world, MT_TESTOUT).sourced_id, record(score=50))
    assigned(world, MT_TESTOUT)
    current, port = cost(world, lambda: get_progress(world.deps, ADA, MT_TESTOUT, None))
    earlier, _ = cost(world, lambda: get_progress(world.deps, ADA, MT_TESTOUT, 1))
    assert current == Counter(load_context=1) and port == 0
    assert earlier == Counter(load_context=1, get_attempt=1)


def test_the_sweeper_reads_one_query_then_one_read_and_one_write_per_stuck_attempt() -> None:
    world, stuck = seeded_world()
    calls, port = cost(world, lambda: sweep(world.deps))
    assert calls == Counter(due_attempts=1, get_head=len(stuck), save=len(stuck))
    assert port == 0
