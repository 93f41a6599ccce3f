"""The finalization workflow's tasks (poll, enroll, register_callback, record_failure) as the
state machine calls them. The state machine itself is tested on moto (tests/integration)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from exttests.domain.attempt import AttemptStatus, EnrollmentStatus
from exttests.domain.events import EventType
from exttests.errors import NotFound, ProviderUnavailable
from exttests.usecases import workflow_tasks as tasks
from exttests.usecases.results import import_results, write_back
from tests.fakes import FakeWorld, make_deps
from tests.fakes.scenarios import (
    ADA,
    EDU_TESTOUT,
    MT_TESTOUT,
    activity,
    assigned,
    finished,
    head,
    pulled,
    record,
)

GRACE = 900  # Settings.sweeper_grace_seconds


def due_now(world: FakeWorld, after_seconds: float) -> list[tuple[str, str]]:
    """What the sweeper would find `after_seconds` from now."""
    moment = world.clock.now() + timedelta(seconds=after_seconds)
    return [(d.student, d.lesson) for d in world.store.due_attempts(moment, 100)]


def at_the_deadline(world: FakeWorld, lesson: str) -> None:
    deadline = head(world, lesson).deadline
    assert deadline is not None
    world.clock.advance((datetime.fromisoformat(deadline) - world.clock.now()).total_seconds())


@pytest.mark.parametrize(
    ("step", "waits", "expected"),
    [
        (0, [], 60),  # the configured schedule: 60, 120, 300
        (1, [], 120),
        (2, [], 300),
        (9, [], 300),  # the last wait repeats
        (0, [5, 10], 5),  # the execution's own schedule
        (4, [5, 10], 10),
    ],
)
def test_a_poll_of_an_open_test_answers_the_next_step_and_wait(
    step: int, waits: list[int], expected: int
) -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    answer = tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, step, waits)
    assert answer == {"finalized": False, "expired": False, "step": step + 1, "waitSeconds": expected}
    assert world.edulastic.calls["fetch_results"] == 1


def test_a_poll_of_an_open_test_moves_its_sweeper_due_time_past_the_next_wait() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 1, [])
    assert due_now(world, 120 + GRACE - 1) == []
    assert due_now(world, 120 + GRACE) == [(ADA, EDU_TESTOUT)]


def test_a_poll_that_finds_the_test_final_finalizes_and_enrolls() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    pulled(world, EDU_TESTOUT, [activity(0, 1)])  # the student finished; the poll imports it
    assert tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 3, [])["finalized"] is True
    stored = head(world, EDU_TESTOUT)
    assert stored.enrollment is EnrollmentStatus.ENROLLED and not stored.needs_workflow
    assert due_now(world, 10**6) == []


def test_a_poll_at_the_deadline_expires_the_attempt_without_asking_the_provider() -> None:
    world = make_deps()
    attempt = assigned(world, EDU_TESTOUT)
    at_the_deadline(world, EDU_TESTOUT)

    answer = tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 5, [])
    again = tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 6, [])

    assert answer["expired"] is True and answer["finalized"] is False
    assert again["expired"] is True
    assert world.edulastic.calls["fetch_results"] == 0
    expired = head(world, EDU_TESTOUT)
    assert expired.status is AttemptStatus.EXPIRED and not expired.needs_workflow
    (event,) = world.store.events_of(EventType.EXPIRED)
    assert event.detail["assignmentId"] == attempt.assignment_id and event.detail["attempt"] == 1
    assert world.metrics.total("AttemptExpired") == 1
    assert due_now(world, 10**6) == []


def test_an_expired_attempt_never_becomes_final_afterwards() -> None:
    world = make_deps()
    sourced_id = assigned(world, MT_TESTOUT).sourced_id
    at_the_deadline(world, MT_TESTOUT)
    tasks.poll(world.deps, ADA, MT_TESTOUT, 1, 0, [])

    written = write_back(world.deps, sourced_id, record(score=95)).attempt
    imported = import_results(world.deps, ADA, MT_TESTOUT).attempt

    assert written.status is imported.status is AttemptStatus.EXPIRED
    assert world.store.events_of(EventType.FINALIZED) == [] and world.store.enrollments == {}


def test_a_poll_of_an_earlier_attempt_answers_its_stored_state_without_an_import() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    finished(world, EDU_TESTOUT, 100)
    assigned(world, EDU_TESTOUT)  # attempt 2
    calls = world.edulastic.calls["fetch_results"]
    assert tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 0, [])["finalized"] is True
    assert world.edulastic.calls["fetch_results"] == calls


def test_a_task_for_an_attempt_that_does_not_exist_is_not_found() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    with pytest.raises(NotFound):
        tasks.poll(world.deps, ADA, EDU_TESTOUT, 2, 0, [])
    with pytest.raises(NotFound):
        tasks.enroll(world.deps, ADA, EDU_TESTOUT, 2)
    with pytest.raises(NotFound):
        tasks.register_callback(world.deps, ADA, EDU_TESTOUT, 2, "token")


def test_a_provider_outage_during_a_poll_answers_the_next_wait_and_changes_nothing() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    before = head(world, EDU_TESTOUT)
    world.edulastic.fail_next(ProviderUnavailable("edulastic", "HTTP 503"), call="fetch_results")
    # The workflow rides the outage out on its backoff instead of failing the execution.
    answer = tasks.poll(world.deps, ADA, EDU_TESTOUT, 1, 2, [60, 120, 300, 600])
    assert answer == {
        "finalized": False,
        "expired": False,
        "step": 3,
        "waitSeconds": 300,
        "retrying": "ProviderUnavailable",
    }
    assert head(world, EDU_TESTOUT) == before


def test_the_enroll_task_reports_the_enrollment_of_the_attempt() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    assert tasks.enroll(world.deps, ADA, MT_TESTOUT, 1)["enrollment"] is None  # not final yet
    finished(world, MT_TESTOUT, 50)
    assert tasks.enroll(world.deps, ADA, MT_TESTOUT, 1)["enrollment"] == "not-due"


def test_register_callback_keeps_the_token_and_moves_the_due_time_past_the_callback_timeout() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    assert tasks.register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1") == {"registered": True}
    assert head(world, MT_TESTOUT).task_token == "token-1"
    assert world.workflow.callbacks == []
    assert due_now(world, 3600 + GRACE - 1) == []
    assert due_now(world, 3600 + GRACE) == [(ADA, MT_TESTOUT)]


@pytest.mark.parametrize(("accuracy", "finalized"), [(95, True), (None, False)])
def test_register_callback_on_an_attempt_already_final_wakes_the_workflow_at_once(
    accuracy: float | None, finalized: bool
) -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    if accuracy is None:
        at_the_deadline(world, MT_TESTOUT)
        tasks.poll(world.deps, ADA, MT_TESTOUT, 1, 0, [])
    else:
        finished(world, MT_TESTOUT, accuracy)
    version = head(world, MT_TESTOUT).version

    answer = tasks.register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")

    assert answer == {"registered": False}
    assert world.workflow.callbacks == [("token-1", {"finalized": finalized})]
    assert head(world, MT_TESTOUT).version == version  # nothing stored


def test_register_callback_racing_a_finalizing_write_back_still_wakes_the_workflow_once() -> None:
    world = make_deps()
    sourced_id = assigned(world, MT_TESTOUT).sourced_id
    world.store.before_next("save", lambda: write_back(world.deps, sourced_id, record(score=95)))

    answer = tasks.register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")

    assert answer == {"registered": False}
    assert world.workflow.callbacks == [("token-1", {"finalized": True})]


def test_record_failure_keeps_the_reason_on_the_attempt() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    error = {"Error": "ProviderUnavailable", "Cause": "edulastic is unavailable: " + "x" * 900}
    assert tasks.record_failure(world.deps, ADA, EDU_TESTOUT, 1, error) == {"recorded": True}
    reason = head(world, EDU_TESTOUT).last_error
    assert reason is not None and reason.startswith("ProviderUnavailable: edulastic is unavailable: ")
    assert len(reason) == len("ProviderUnavailable: ") + 500
    assert tasks.record_failure(world.deps, ADA, EDU_TESTOUT, 1, None) == {"recorded": True}
    assert head(world, EDU_TESTOUT).last_error == "Error: "


def test_record_failure_for_an_attempt_that_does_not_exist_records_nothing() -> None:
    world = make_deps()
    assert tasks.record_failure(world.deps, ADA, EDU_TESTOUT, 1, {"Error": "X"}) == {"recorded": False}
    assert world.store.calls["save"] == 0
