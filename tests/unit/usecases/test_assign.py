"""makeExternalTestAssignment on fakes: the attempt rule, exactly one provider assignment,
credentials, and every failure path (rejection, outage, open circuit, crashes)."""

from __future__ import annotations

import threading

import pytest

from exttests.domain.attempt import Attempt, AttemptStatus
from exttests.domain.events import EventType
from exttests.domain.models import LessonType, ToolProvider
from exttests.errors import Busy, CircuitOpen, NotFound, ProviderRejected, ProviderUnavailable, Unprocessable
from exttests.providers.base import WorkflowWait
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.workflow_tasks import register_callback
from tests.fakes import make_deps
from tests.fakes.providers import SimulatedCrash

EDU = "lesson-edu-testout-math-g5"
MT = "lesson-mt-testout-math-g5"
ADA = "student-ada"
ADA_EMAIL = "ada.lovelace@students.example.com"


def test_first_assignment_is_attempt_one_with_the_password_the_student_was_created_with() -> None:
    world = make_deps()
    outcome = assign(world.deps, AssignCommand(ADA, EDU))
    assert outcome.attempt.attempt == 1
    assert outcome.attempt.status is AttemptStatus.ASSIGNED
    assert outcome.attempt.tool_provider is ToolProvider.EDULASTIC
    assert outcome.attempt.lesson_type is LessonType.TEST_OUT
    assert outcome.attempt.test_id == "edu-test-algebra-1"  # the Resource's vendorId
    assert outcome.credentials is not None
    assert outcome.credentials.email == ADA_EMAIL
    assert world.edulastic.students[ADA_EMAIL].password == outcome.credentials.password


def test_repeat_returns_the_stored_assignment_without_a_provider_call() -> None:
    world = make_deps()
    first = assign(world.deps, AssignCommand(ADA, EDU))
    second = assign(world.deps, AssignCommand(ADA, EDU))
    assert second.attempt.assignment_id == first.attempt.assignment_id
    assert second.credentials == first.credentials
    assert world.edulastic.calls["assign"] == 1
    assert world.metrics.total("AssignmentReused") == 1


def test_a_student_who_already_existed_on_the_provider_gets_no_credentials() -> None:
    world = make_deps()
    world.edulastic.existing_student(ADA_EMAIL)
    outcome = assign(world.deps, AssignCommand(ADA, EDU))
    assert outcome.credentials is None
    assert outcome.attempt.assignment_id is not None


def test_a_provider_that_creates_its_own_students_gets_no_password_and_waits_by_callback() -> None:
    world = make_deps()
    outcome = assign(world.deps, AssignCommand(ADA, MT))
    assert outcome.credentials is None
    assert world.mastery_track.requests[0].new_student_password is None
    assert world.mastery_track.requests[0].result_sourced_id == outcome.attempt.sourced_id
    assert list(world.workflow.started.values()) == [WorkflowWait.CALLBACK]


def test_the_requested_test_id_reaches_the_provider() -> None:
    world = make_deps()
    outcome = assign(world.deps, AssignCommand(ADA, MT, test_id="mt-test-42"))
    assert world.mastery_track.requests[0].requested_test_id == "mt-test-42"
    assert outcome.attempt.test_id == "mt-test-42"


def test_a_pulling_provider_is_polled_by_the_workflow() -> None:
    world = make_deps()
    assign(world.deps, AssignCommand(ADA, EDU))
    assert list(world.workflow.started.values()) == [WorkflowWait.POLL]


def test_unknown_student_or_lesson_is_404_and_writes_nothing() -> None:
    world = make_deps()
    with pytest.raises(NotFound):
        assign(world.deps, AssignCommand("nobody", EDU))
    with pytest.raises(NotFound):
        assign(world.deps, AssignCommand(ADA, "no-lesson"))
    with pytest.raises(NotFound):
        assign(world.deps, AssignCommand("teacher-1", EDU))
    assert world.store.head(ADA, EDU) is None
    assert world.store.calls["begin_attempt"] == 0


@pytest.mark.parametrize(
    ("student", "lesson"),
    [
        (ADA, "lesson-quiz-math-g5"),  # not an external test
        (ADA, "lesson-unsupported-provider"),
        ("student-noemail", EDU),
    ],
)
def test_ineligible_lesson_or_student_is_422_and_writes_nothing(student: str, lesson: str) -> None:
    world = make_deps()
    with pytest.raises(Unprocessable):
        assign(world.deps, AssignCommand(student, lesson))
    assert world.store.calls["begin_attempt"] == 0
    assert world.edulastic.calls["assign"] == 0


def test_a_new_attempt_starts_only_after_the_current_one_is_final() -> None:
    world = make_deps()
    first = assign(world.deps, AssignCommand(ADA, EDU)).attempt
    final = world.store.head(ADA, EDU)
    assert final is not None
    world.store.save(final.evolve({"status": AttemptStatus.EXPIRED}))
    second = assign(world.deps, AssignCommand(ADA, EDU)).attempt
    assert second.attempt == 2
    assert second.assignment_id != first.assignment_id
    assert first.assignment_id in world.edulastic.requests[-1].exclude_assignment_ids
    # The student's password is kept per provider, so the second attempt needs no new one.
    assert world.edulastic.requests[-1].known_user_id is not None


def test_fifty_concurrent_identical_assigns_make_one_provider_assignment() -> None:
    world = make_deps()
    answers: list[str | None] = []
    lock = threading.Lock()

    def one() -> None:
        outcome = assign(world.deps, AssignCommand(ADA, EDU))
        with lock:
            answers.append(outcome.attempt.assignment_id)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 50 and len(set(answers)) == 1
    assert len(world.edulastic.live_assignments(ADA_EMAIL)) == 1
    assert len(world.store.events_of(EventType.ASSIGNED)) == 1


def test_a_provider_rejection_is_422_and_writes_nothing() -> None:
    world = make_deps()
    world.edulastic.fail_next(ProviderRejected("edulastic", "test not found", 404))
    with pytest.raises(ProviderRejected):
        assign(world.deps, AssignCommand(ADA, EDU))
    assert world.store.head(ADA, EDU) is None
    assert world.store.outbox == []


def test_an_open_circuit_fails_fast_without_a_provider_call_or_a_write() -> None:
    world = make_deps()
    world.edulastic.circuit_open_for = 7
    with pytest.raises(CircuitOpen) as caught:
        assign(world.deps, AssignCommand(ADA, EDU))
    assert caught.value.retry_after == 7
    assert world.edulastic.calls["assign"] == 0
    assert world.store.calls["begin_attempt"] == 0


def test_an_unknown_outcome_keeps_the_intent_and_the_retry_reuses_the_provider_assignment() -> None:
    world = make_deps()
    world.mastery_track.fail_after_acting(ProviderUnavailable("mastery-track", "timed out"))
    with pytest.raises(ProviderUnavailable):
        assign(world.deps, AssignCommand(ADA, MT))
    intent = world.store.head(ADA, MT)
    assert intent is not None and intent.status is AttemptStatus.ASSIGNING
    # The lease is released: the client's retry takes the intent over at once, same sourcedId.
    retried = assign(world.deps, AssignCommand(ADA, MT)).attempt
    assert retried.sourced_id == intent.sourced_id
    assert len(world.mastery_track.live_assignments(ADA_EMAIL)) == 1


def test_a_crash_between_the_provider_call_and_the_write_is_resumed_once_the_lease_runs_out() -> None:
    world = make_deps()
    world.edulastic.fail_after_acting(SimulatedCrash("killed"))
    with pytest.raises(SimulatedCrash):
        assign(world.deps, AssignCommand(ADA, EDU))
    crashed_at = world.clock.now()
    # The retry waits out the dead request's lease, then takes the intent over.
    outcome = assign(world.deps, AssignCommand(ADA, EDU))
    assert (world.clock.now() - crashed_at).total_seconds() >= world.deps.settings.assign_lease_seconds
    assert len(world.edulastic.live_assignments(ADA_EMAIL)) == 1
    assert outcome.attempt.status is AttemptStatus.ASSIGNED
    # (Credentials are the documented limit of this path: a killed Lambda cannot tell the retry
    # that the student it now finds was created by the service; docs/reliability.md.)


def test_a_request_that_cannot_wait_out_another_requests_lease_is_told_to_retry() -> None:
    world = make_deps()
    world.edulastic.fail_after_acting(SimulatedCrash("killed"))
    with pytest.raises(SimulatedCrash):
        assign(world.deps, AssignCommand(ADA, EDU))
    world.with_settings(assign_lease_seconds=1000)
    head = world.store.head(ADA, EDU)
    assert head is not None
    world.store.save(head.evolve({"lease_until": world.clock.now().timestamp() + 1000}))
    with pytest.raises(Busy) as caught:
        assign(world.deps, AssignCommand(ADA, EDU))
    assert caught.value.retry_after


def test_credentials_survive_a_failure_after_the_student_was_created() -> None:
    world = make_deps()
    error = ProviderUnavailable("edulastic", "HTTP 503 after 4 attempts")
    error.creation_attempted = True
    world.edulastic.fail_after_acting(error)
    with pytest.raises(ProviderUnavailable):
        assign(world.deps, AssignCommand(ADA, EDU))
    outcome = assign(world.deps, AssignCommand(ADA, EDU))
    assert outcome.credentials is not None


def test_a_workflow_that_cannot_start_does_not_fail_the_assignment() -> None:
    world = make_deps()
    world.workflow.fail_starts = True
    outcome = assign(world.deps, AssignCommand(ADA, EDU))
    assert outcome.attempt.status is AttemptStatus.ASSIGNED
    assert outcome.attempt.workflow_started is False  # the sweeper starts it later
    world.workflow.fail_starts = False
    again = assign(world.deps, AssignCommand(ADA, EDU))
    assert again.attempt.workflow_started is True


def test_a_workflow_that_registers_its_callback_before_the_assignment_is_stored_loses_neither() -> None:
    # Step Functions may run the first step before the request that started it stores the
    # assignment: the callback's task token is written to the intent first.
    world = make_deps()
    world.workflow.first_step = lambda attempt: register_callback(
        world.deps, attempt.student_id, attempt.lesson_id, attempt.attempt, "task-token-1"
    )
    outcome = assign(world.deps, AssignCommand(ADA, MT))
    head = world.store.head(ADA, MT)
    assert head is not None and head.status is AttemptStatus.ASSIGNED
    assert head.task_token == "task-token-1"
    assert head.assignment_id == outcome.attempt.assignment_id
    assert len(world.mastery_track.live_assignments(ADA_EMAIL)) == 1


def test_an_intent_taken_over_by_another_request_is_left_to_it() -> None:
    world = make_deps()

    def another_request_takes_over(attempt: Attempt) -> None:
        head = world.store.head(attempt.student_id, attempt.lesson_id)
        assert head is not None
        world.store.save(head.evolve({"lease_until": world.clock.now().timestamp() + 1000}))

    world.workflow.first_step = another_request_takes_over
    with pytest.raises(Busy):  # it holds the intent for longer than this request may wait
        assign(world.deps, AssignCommand(ADA, MT))
    head = world.store.head(ADA, MT)
    assert head is not None and head.status is AttemptStatus.ASSIGNING and head.assignment_id is None


def test_the_password_is_encrypted_bound_to_student_and_provider() -> None:
    world = make_deps()
    assign(world.deps, AssignCommand(ADA, EDU))
    account = world.store.accounts[(ADA, ToolProvider.EDULASTIC)]
    password = world.edulastic.students[ADA_EMAIL].password
    assert account.password_ciphertext and password and password not in account.password_ciphertext
    with pytest.raises(PermissionError):
        world.cipher.decrypt(
            account.password_ciphertext, {"student": "student-alan", "provider": "edulastic"}
        )


def test_an_assignment_announces_itself_once_with_its_metric() -> None:
    world = make_deps()
    outcome = assign(world.deps, AssignCommand(ADA, EDU))
    assign(world.deps, AssignCommand(ADA, EDU))
    (event,) = world.store.outbox
    assert event.detail_type is EventType.ASSIGNED
    assert event.detail["assignmentId"] == outcome.attempt.assignment_id
    assert event.detail["toolProvider"] == "edulastic" and event.detail["lessonType"] == "test-out"
    assert world.metrics.counts[("AssignmentCreated", "edulastic", "test-out")] == 1
