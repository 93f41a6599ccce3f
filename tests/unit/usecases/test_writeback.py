"""The OneRoster write-back of a provider that writes results back (MasteryTrack-like), and the
import of what it wrote."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from exttests.adapters.dynamo import keys
from exttests.domain.attempt import EnrollmentStatus
from exttests.domain.events import EventType
from exttests.domain.models import ScoreStatus
from exttests.errors import BadRequest, NotFound
from exttests.usecases.results import get_assessment_result, import_results, write_back
from exttests.usecases.workflow_tasks import register_callback
from tests.fakes import FakeWorld, make_deps
from tests.fakes.deps import demo_roster
from tests.fakes.scenarios import ADA, EDU_TESTOUT, MT_TESTOUT, assigned, concurrently, head, record


def mastery_track_world() -> tuple[FakeWorld, str]:
    world = make_deps()
    return world, assigned(world, MT_TESTOUT).sourced_id


def test_a_partial_write_back_is_processed_on_arrival_but_is_not_final() -> None:
    world, sourced_id = mastery_track_world()
    outcome = write_back(world.deps, sourced_id, record(score=50, status="partially graded"))
    attempt = outcome.attempt
    assert not attempt.is_final and not outcome.woke_workflow
    assert attempt.score_status is ScoreStatus.PARTIALLY_GRADED
    assert attempt.score == 50 and attempt.correct_questions == 19 and attempt.total_questions == 20
    assert attempt.score_date == "2026-11-20"
    assert not import_results(world.deps, ADA, MT_TESTOUT).attempt.is_final


def test_a_write_back_received_while_the_lesson_was_gone_is_processed_by_the_next_import() -> None:
    world, sourced_id = mastery_track_world()
    world.store.remove_roster_item(keys.lesson(MT_TESTOUT))
    kept = write_back(world.deps, sourced_id, record(score=95)).attempt
    assert not kept.is_final and kept.writeback == record(score=95)
    world.store.load_roster(demo_roster())

    attempt = import_results(world.deps, ADA, MT_TESTOUT).attempt

    assert attempt.finalized and attempt.score == 95
    assert attempt.enrollment is EnrollmentStatus.ENROLLED
    assert world.mastery_track.calls["fetch_results"] == 0


@pytest.mark.parametrize(
    ("status", "processed", "final"),
    [
        ("fully graded", True, True),
        ("fully graded", "true", True),
        ("fully graded", " TRUE ", True),
        ("fully graded", False, False),
        ("fully graded", "false", False),
        ("fully graded", None, False),
        ("fully graded", "yes", False),
        ("fully graded", 1, False),
        ("partially graded", True, False),
        ("submitted", True, False),
        ("exempt", True, False),
    ],
)
def test_a_write_back_is_final_only_when_fully_graded_and_processed_by_the_provider(
    status: str, processed: Any, final: bool
) -> None:
    world, sourced_id = mastery_track_world()
    attempt = write_back(world.deps, sourced_id, record(status=status, processed=processed)).attempt
    assert attempt.finalized is final
    assert import_results(world.deps, ADA, MT_TESTOUT).attempt.finalized is final


def test_the_written_score_is_used_when_given() -> None:
    world, sourced_id = mastery_track_world()
    attempt = write_back(world.deps, sourced_id, record(score=88, total=20, correct=19)).attempt
    assert attempt.score == 88 and attempt.accuracy == 88


def test_without_a_score_the_score_is_correct_over_total_questions() -> None:
    world, sourced_id = mastery_track_world()
    attempt = write_back(world.deps, sourced_id, record(score=None, total=20, correct=19)).attempt
    assert attempt.score == 95.0 and attempt.finalized
    assert attempt.xp == 120.0 and attempt.multiplier == 1.0


def test_per_question_results_in_the_record_are_kept() -> None:
    world, sourced_id = mastery_track_world()
    questions = [
        {"id": "m1", "score": 1, "maxScore": 1, "feedback": "ok", "difficulty": "easy"},
        {"id": "m2", "score": 0, "maxScore": 2, "correct": "false"},
    ]
    written = record(score=None, metadata={"masteryTrackProcessed": True, "questions": questions})
    attempt = write_back(world.deps, sourced_id, written).attempt
    assert [(q.id, q.score, q.correct, q.feedback) for q in attempt.questions] == [
        ("m1", 1.0, True, "ok"),
        ("m2", 0.0, False, ""),
    ]
    assert attempt.total_questions == 2 and attempt.correct_questions == 1 and attempt.score == 50.0


def test_a_write_back_to_a_final_attempt_changes_nothing_and_answers_the_stored_record() -> None:
    world, sourced_id = mastery_track_world()
    final = write_back(world.deps, sourced_id, record(score=95)).attempt
    calls, events = dict(world.store.calls), list(world.store.outbox)

    again = write_back(world.deps, sourced_id, record(score=10, status="partially graded"))

    assert again.attempt == final and again.attempt.score == 95 and not again.woke_workflow
    assert world.store.calls["save"] == calls["save"]
    assert world.store.calls["save_enrollment"] == calls["save_enrollment"]
    assert world.store.outbox == events


def test_an_unknown_sourced_id_does_not_exist() -> None:
    world, _ = mastery_track_world()
    with pytest.raises(NotFound):
        write_back(world.deps, "ear-unknown", record())
    with pytest.raises(NotFound):
        get_assessment_result(world.deps, "ear-unknown")


def test_the_result_of_a_pulling_provider_cannot_be_written_back_or_read_as_if_it_did_not_exist() -> None:
    world = make_deps()
    pulling = assigned(world, EDU_TESTOUT)
    with pytest.raises(NotFound) as refused_write:
        write_back(world.deps, pulling.sourced_id, record())
    with pytest.raises(NotFound) as refused_read:
        get_assessment_result(world.deps, pulling.sourced_id)
    with pytest.raises(NotFound) as unknown:
        get_assessment_result(world.deps, "ear-unknown")
    # The same answer as for an id that does not exist: nothing tells the two apart.
    assert refused_write.value.message == f"assessmentResult '{pulling.sourced_id}' does not exist"
    assert refused_read.value.message == refused_write.value.message
    assert unknown.value.field == refused_read.value.field
    assert head(world, EDU_TESTOUT) == pulling


def test_the_stored_record_exists_from_assign_time() -> None:
    world, sourced_id = mastery_track_world()
    stored = get_assessment_result(world.deps, sourced_id)
    assert stored.score_status is ScoreStatus.NOT_SUBMITTED and stored.student_id == ADA
    assert stored.line_item_id == head(world, MT_TESTOUT).line_item_id


@pytest.mark.parametrize(
    "mismatch",
    [
        {"sourcedId": "ear-another"},
        {"student": {"sourcedId": "student-alan"}},
        {"assessmentLineItem": {"sourcedId": "eali-another"}},
    ],
)
def test_a_body_naming_another_result_student_or_line_item_is_refused_and_stores_nothing(
    mismatch: dict[str, Any],
) -> None:
    world, sourced_id = mastery_track_world()
    before = head(world, MT_TESTOUT)
    with pytest.raises(BadRequest):
        write_back(world.deps, sourced_id, record(**mismatch))
    assert head(world, MT_TESTOUT) == before
    assert world.metrics.total("WriteBackReceived") == 0


def test_a_body_naming_the_same_result_student_and_line_item_is_accepted() -> None:
    world, sourced_id = mastery_track_world()
    attempt = head(world, MT_TESTOUT)
    same: dict[str, Any] = {
        "sourcedId": sourced_id,
        "student": {"sourcedId": ADA},
        "assessmentLineItem": {"sourcedId": attempt.line_item_id},
    }
    assert write_back(world.deps, sourced_id, record(**same)).attempt.finalized


def test_the_newest_write_replaces_the_stored_record_without_merging() -> None:
    world, sourced_id = mastery_track_world()
    first = record(
        score=40, status="partially graded", comment="first", learningObjectiveSet=[{"source": "x"}]
    )
    write_back(world.deps, sourced_id, first)
    second = record(score=60, status="partially graded")

    attempt = write_back(world.deps, sourced_id, second).attempt

    assert attempt.writeback == second
    assert attempt.score == 60


def test_a_finalizing_write_back_wakes_the_waiting_workflow_once() -> None:
    world, sourced_id = mastery_track_world()
    register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")
    write_back(world.deps, sourced_id, record(score=40, status="partially graded"))
    assert world.workflow.callbacks == []

    outcome = write_back(world.deps, sourced_id, record(score=95))
    write_back(world.deps, sourced_id, record(score=95))  # the writer retries

    assert outcome.woke_workflow
    assert world.workflow.callbacks == [("token-1", {"finalized": True})]


def test_a_workflow_that_cannot_be_woken_does_not_fail_the_write_back() -> None:
    world, sourced_id = mastery_track_world()
    register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")
    world.workflow.refuse_callbacks = True
    outcome = write_back(world.deps, sourced_id, record(score=95))
    assert outcome.attempt.finalized and not outcome.woke_workflow  # its next poll finds it final


def test_a_write_back_that_loses_a_race_re_reads_and_is_stored_after_the_winner() -> None:
    world, sourced_id = mastery_track_world()
    start = head(world, MT_TESTOUT).version
    winner, loser = record(score=30, status="partially graded"), record(score=60, status="partially graded")
    world.store.before_next("save", lambda: write_back(world.deps, sourced_id, winner))

    attempt = write_back(world.deps, sourced_id, loser).attempt

    assert attempt.version == start + 2 and attempt.writeback == loser and attempt.score == 60


def test_a_finalizing_write_back_racing_the_callback_registration_still_wakes_the_workflow() -> None:
    world, sourced_id = mastery_track_world()
    world.store.before_next(
        "save_enrollment", lambda: register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")
    )

    outcome = write_back(world.deps, sourced_id, record(score=95))

    assert outcome.attempt.finalized and outcome.attempt.task_token == "token-1"
    assert world.workflow.callbacks == [("token-1", {"finalized": True})]
    assert len(world.store.events_of(EventType.FINALIZED)) == 1


def test_racing_write_backs_and_imports_lose_nothing() -> None:
    world, sourced_id = mastery_track_world()
    start = head(world, MT_TESTOUT).version
    partials = [record(score=50, status="partially graded", comment=f"write {i}") for i in range(12)]

    def writes(written: dict[str, Any]) -> Callable[[], Any]:
        return lambda: write_back(world.deps, sourced_id, written)

    def imports() -> Any:
        return import_results(world.deps, ADA, MT_TESTOUT)

    concurrently([*map(writes, partials), *[imports] * 12])

    stored = head(world, MT_TESTOUT)
    # Every write-back was stored once (an import of a record already processed writes
    # nothing), and the record kept is one of them, whole.
    assert stored.version == start + len(partials)
    assert stored.writeback in partials

    concurrently([*[writes(record(score=95))] * 4, *[imports] * 8])

    stored = head(world, MT_TESTOUT)
    assert stored.finalized and stored.score == 95 and stored.enrollment is EnrollmentStatus.ENROLLED
    assert list(world.store.enrollments) == [(ADA, "course-math-g6")]
    assert len(world.store.events_of(EventType.FINALIZED)) == 1
    assert len(world.store.events_of(EventType.ENROLLED)) == 1
