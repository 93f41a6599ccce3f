"""With the invocation's time budget spent, every use case answers a clean "retry" (the HTTP
edge turns DeadlineExceeded into a 503 with Retry-After) and changes nothing a retry could trip
over; the workflow's tasks answer their next wait instead of failing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exttests import budget
from exttests.errors import DeadlineExceeded
from exttests.usecases import operations, workflow_tasks
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.progress import get_progress
from exttests.usecases.results import get_assessment_result, import_results, write_back
from tests.fakes import make_deps
from tests.fakes.deps import FakeWorld
from tests.fakes.scenarios import ADA, EDU_TESTOUT, MT_TESTOUT, assigned, head

USE_CASES: dict[str, Callable[[FakeWorld, str], Any]] = {
    "assign": lambda w, _: assign(w.deps, AssignCommand(ADA, EDU_TESTOUT)),
    "import": lambda w, _: import_results(w.deps, ADA, EDU_TESTOUT),
    "progress": lambda w, _: get_progress(w.deps, ADA, EDU_TESTOUT, None),
    "write-back": lambda w, sid: write_back(w.deps, sid, {"scoreStatus": "fully graded", "score": 95}),
    "read the result": lambda w, sid: get_assessment_result(w.deps, sid),
    "show (operator)": lambda w, _: operations.show_attempt(w.deps, ADA, EDU_TESTOUT),
    "sweeper": lambda w, _: workflow_tasks.sweep(w.deps),
}


@pytest.mark.parametrize("use_case", sorted(USE_CASES))
@pytest.mark.parametrize("seconds", [0.0, 0.1])
def test_a_spent_budget_is_a_clean_retry_and_changes_nothing(use_case: str, seconds: float) -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    sourced_id = assigned(world, MT_TESTOUT).sourced_id
    before = (head(world, EDU_TESTOUT), head(world, MT_TESTOUT), list(world.store.outbox))
    with budget.budget(seconds), pytest.raises(DeadlineExceeded):
        USE_CASES[use_case](world, sourced_id)
    assert (head(world, EDU_TESTOUT), head(world, MT_TESTOUT), list(world.store.outbox)) == before


@pytest.mark.parametrize("task", ["poll", "enroll"])
def test_a_workflow_task_out_of_time_answers_its_next_wait(task: str) -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    with budget.budget(0.0):
        if task == "poll":
            answer = workflow_tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 0, [])
        else:
            answer = workflow_tasks.enroll(world.deps, ADA, EDU_TESTOUT, 1)
    assert answer.get("retrying") == "DeadlineExceeded" or answer.get("finalized") is False


def test_a_provider_call_cut_by_the_budget_leaves_the_intent_for_the_retry_at_once() -> None:
    world = make_deps()
    with budget.budget(1.5), budget.reserving(1.4), pytest.raises(DeadlineExceeded):
        # 0.1 s for the provider: less than any call may start with.
        assign(world.deps, AssignCommand(ADA, EDU_TESTOUT))
    # Not assigned: the first call was never made; a retry with time assigns once.
    outcome = assign(world.deps, AssignCommand(ADA, EDU_TESTOUT))
    assert outcome.attempt.assignment_id is not None
    assert len(world.edulastic.assignments) == 1
