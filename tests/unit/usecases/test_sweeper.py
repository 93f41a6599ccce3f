"""The sweeper: restarts the workflow of attempts nobody is looking after, expires overdue ones,
finishes assignments whose request died — once each, also with two sweepers at once."""

from __future__ import annotations

from datetime import datetime

import pytest

from exttests.adapters.step_functions import execution_name
from exttests.domain.attempt import AttemptStatus, EnrollmentStatus
from exttests.domain.events import EventType
from exttests.usecases import workflow_tasks as tasks
from exttests.usecases.workflow_tasks import sweep
from tests.fakes import make_deps
from tests.fakes.providers import SimulatedCrash
from tests.fakes.scenarios import (
    ADA,
    ADA_EMAIL,
    EDU_TESTOUT,
    MT_TESTOUT,
    activity,
    assigned,
    concurrently,
    final_with_enrollment_pending,
    head,
    pulled,
    seed,
    seeded_world,
)

GRACE = 900  # Settings.sweeper_grace_seconds
LEASE = 10  # the fakes' Settings.assign_lease_seconds


def test_the_sweeper_reads_only_the_due_attempts_and_restarts_them_with_a_new_generation() -> None:
    world, stuck = seeded_world()

    report = sweep(world.deps)

    assert world.store.calls["due_attempts"] == 1
    assert report.examined == 10 and world.store.calls["get_head"] == 10
    assert sorted(report.restarted) == sorted(
        execution_name(a.evolve({"workflow_generation": 1})) for a in stuck
    )
    assert sorted(world.workflow.started) == sorted(report.restarted)
    for attempt in stuck:
        restarted = head(world, attempt.lesson_id, attempt.student_id)
        assert restarted.workflow_generation == 1 and restarted.workflow_started
        assert datetime.fromisoformat(restarted.due_at or "") > world.clock.now()
    assert sweep(world.deps).examined == 0  # not picked up again right away


def test_a_live_execution_is_left_alone_but_its_due_time_moves() -> None:
    world = make_deps()
    attempt = assigned(world, EDU_TESTOUT)  # its workflow is running
    world.clock.advance(60 + GRACE)

    report = sweep(world.deps)

    assert report.examined == 1 and report.alive == 1 and report.restarted == []
    assert head(world, EDU_TESTOUT).workflow_generation == attempt.workflow_generation
    assert sweep(world.deps).examined == 0
    world.clock.advance(GRACE)
    world.workflow.stop_all()  # now it really died
    assert len(sweep(world.deps).restarted) == 1


def test_an_attempt_past_its_deadline_is_expired_not_restarted() -> None:
    world = make_deps()
    seed(world, 1, AttemptStatus.ASSIGNED, due_in=-60, deadline_in=-1)

    report = sweep(world.deps)

    assert report.expired == 1 and report.restarted == []
    assert head(world, EDU_TESTOUT, "student-bulk-1").status is AttemptStatus.EXPIRED
    assert len(world.store.events_of(EventType.EXPIRED)) == 1
    assert sweep(world.deps).examined == 0


def test_an_assignment_whose_request_crashed_is_finished_once_its_lease_ran_out() -> None:
    world = make_deps()
    world.edulastic.fail_after_acting(SimulatedCrash("killed after the provider call"))
    with pytest.raises(SimulatedCrash):
        assigned(world, EDU_TESTOUT)
    assert head(world, EDU_TESTOUT).status is AttemptStatus.ASSIGNING
    assert sweep(world.deps).examined == 0  # its lease still holds

    world.clock.advance(LEASE + GRACE)
    report = sweep(world.deps)

    assert report.resumed_assignments == 1
    resumed = head(world, EDU_TESTOUT)
    assert resumed.status is AttemptStatus.ASSIGNED and resumed.workflow_started
    assert len(world.edulastic.live_assignments(ADA_EMAIL)) == 1
    assert len(world.store.events_of(EventType.ASSIGNED)) == 1


def test_an_assignment_that_crashed_before_its_write_is_finished_even_while_its_workflow_polls() -> None:
    world = make_deps()
    world.store.fail_next("save", SimulatedCrash("killed between the workflow start and the write"))
    with pytest.raises(SimulatedCrash):
        assigned(world, EDU_TESTOUT)
    assert world.workflow.started  # the execution exists and polls an attempt still being assigned
    for step in range(3):
        world.clock.advance(60)
        tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, step, [60])
    world.clock.advance(LEASE + GRACE)

    report = sweep(world.deps)

    assert report.resumed_assignments == 1
    assert head(world, EDU_TESTOUT).status is AttemptStatus.ASSIGNED
    assert len(world.edulastic.live_assignments(ADA_EMAIL)) == 1


def test_a_final_attempt_whose_enrollment_is_pending_gets_a_workflow_that_finishes_it() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    final_with_enrollment_pending(world, MT_TESTOUT, accuracy=95)
    world.workflow.stop_all()
    world.clock.advance(GRACE)

    report = sweep(world.deps)
    tasks.poll(world.deps, ADA, MT_TESTOUT, 1, 0, [])  # what the restarted execution does

    assert len(report.restarted) == 1
    done = head(world, MT_TESTOUT)
    assert done.enrollment is EnrollmentStatus.ENROLLED and not done.needs_workflow
    assert sweep(world.deps).examined == 0


def test_two_sweepers_at_once_restart_each_attempt_once() -> None:
    world, stuck = seeded_world()

    reports = concurrently([lambda: sweep(world.deps)] * 2)

    assert sum(len(r.restarted) for r in reports) == len(stuck)
    assert world.workflow.start_calls == len(stuck)
    assert all(head(world, a.lesson_id, a.student_id).workflow_generation == 1 for a in stuck)


def test_the_work_of_one_run_is_bounded_and_the_most_overdue_go_first() -> None:
    world, stuck = seeded_world()
    report = sweep(world.deps, limit=4)
    assert report.examined == 4
    assert sorted(report.restarted) == sorted(
        execution_name(a.evolve({"workflow_generation": 1})) for a in stuck[:4]
    )
    assert sweep(world.with_settings(sweeper_batch_size=3).deps).examined == 3


def test_the_sweeper_reports_restarts_errors_and_the_oldest_overdue_attempt() -> None:
    world, stuck = seeded_world()
    world.store.fail_next("get_head", RuntimeError("throttled"))

    report = sweep(world.deps)

    assert report.errors == 1 and len(report.restarted) == len(stuck) - 1  # one bad attempt stops nothing
    assert world.metrics.total("SweeperRestarted") == len(stuck) - 1
    assert world.metrics.total("SweeperErrors") == 1
    assert world.metrics.gauges["OldestOverdueAttemptSeconds"] == 3600


def test_a_sweep_with_nothing_to_do_reports_zeros() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    report = sweep(world.deps)
    assert report.examined == 0
    assert world.metrics.total("SweeperRestarted") == world.metrics.total("SweeperErrors") == 0
    assert world.metrics.gauges["OldestOverdueAttemptSeconds"] == 0


def test_a_restart_step_functions_refused_is_tried_again_once_the_attempt_is_due_again() -> None:
    world = make_deps()
    stuck = seed(world, 1, AttemptStatus.ASSIGNED, due_in=-60)
    world.workflow.fail_starts = True
    assert sweep(world.deps).errors == 1
    world.workflow.fail_starts = False
    assert sweep(world.deps).examined == 0

    world.clock.advance(world.deps.settings.callback_timeout_seconds + GRACE)
    report = sweep(world.deps)

    assert len(report.restarted) == 1
    assert head(world, EDU_TESTOUT, stuck.student_id).workflow_generation == 2


def test_an_attempt_finished_since_it_became_due_is_not_restarted() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    world.workflow.stop_all()
    world.clock.advance(60 + GRACE)
    pulled(world, EDU_TESTOUT, [activity(0, 1)])
    world.store.before_next("get_head", lambda: tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 0, []))

    report = sweep(world.deps)

    assert report.examined == 1 and report.restarted == []
    assert world.workflow.start_calls == 1  # the assignment's own
