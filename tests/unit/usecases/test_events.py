"""Domain events: every stored state change announces itself exactly once (the outbox is written
in the change's transaction), with a stable id, and its metric is counted with it."""

from __future__ import annotations

from collections import Counter

import pytest

from exttests.adapters.dynamo import keys
from exttests.domain.events import EventType, event_id, transition_events
from exttests.ports import VersionConflict
from exttests.usecases import workflow_tasks as tasks
from exttests.usecases.workflow_tasks import sweep
from tests.fakes import FakeWorld, make_deps
from tests.fakes.providers import SimulatedCrash
from tests.fakes.scenarios import (
    ADA,
    EDU_TESTOUT,
    MT_PLACEMENT,
    MT_TESTOUT,
    assigned,
    finished,
    head,
    written_back,
)

COMMON = {"eventId", "student", "lesson", "attempt", "toolProvider", "lessonType", "assignmentId"}
DETAIL_FIELDS = {
    EventType.ASSIGNED: COMMON,
    EventType.FINALIZED: COMMON
    | {
        "score",
        "accuracy",
        "xp",
        "multiplier",
        "correctQuestions",
        "totalQuestions",
        "assessmentResultSourcedId",
    },
    EventType.ENROLLED: COMMON | {"courseId", "enrollmentId"},
    EventType.ENROLLMENT_FAILED: COMMON | {"reason"},
    EventType.EXPIRED: COMMON,
}
METRIC_OF = {
    EventType.ASSIGNED: "AssignmentCreated",
    EventType.FINALIZED: "TestFinalized",
    EventType.ENROLLED: "StudentEnrolled",
    EventType.ENROLLMENT_FAILED: "EnrollmentFailed",
    EventType.EXPIRED: "AttemptExpired",
}


def every_kind_of_change() -> FakeWorld:
    """A life with each state change once or more, and many writes that change no state."""
    world = make_deps()
    sourced_id = assigned(world, MT_TESTOUT).sourced_id
    tasks.register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")
    written_back(world, MT_TESTOUT, score=50, status="partially graded")
    tasks.record_failure(world.deps, ADA, MT_TESTOUT, 1, {"Error": "States.Timeout"})
    written_back(world, MT_TESTOUT, score=95)  # final and enrolled
    written_back(world, MT_TESTOUT, score=10)  # a retry after the end: nothing
    assert head(world, MT_TESTOUT).sourced_id == sourced_id
    assigned(world, MT_TESTOUT)  # attempt 2, left to expire
    world.clock.advance(31 * 86400)
    tasks.poll(world.deps, ADA, MT_TESTOUT, 2, 0, [])
    world.store.remove_roster_item(keys.subject_track("Reading", "5", None))
    assigned(world, MT_PLACEMENT)
    finished(world, MT_PLACEMENT, 40)  # final, the enrollment fails
    sweep(world.deps)
    return world


def test_each_state_change_announces_itself_once_in_order() -> None:
    world = every_kind_of_change()
    assert [e.detail_type for e in world.store.outbox] == [
        EventType.ASSIGNED,
        EventType.FINALIZED,
        EventType.ENROLLED,
        EventType.ASSIGNED,
        EventType.EXPIRED,
        EventType.ASSIGNED,
        EventType.FINALIZED,
        EventType.ENROLLMENT_FAILED,
    ]


def test_each_detail_type_carries_its_fields() -> None:
    world = every_kind_of_change()
    for event in world.store.outbox:
        assert set(event.detail) == DETAIL_FIELDS[event.detail_type], event.detail_type
        assert event.detail["eventId"] == event.event_id
        assert event.detail["student"] == ADA and event.detail["assignmentId"]
    finalized, enrolled, failed = (
        world.store.events_of(EventType.FINALIZED)[0],
        world.store.events_of(EventType.ENROLLED)[0],
        world.store.events_of(EventType.ENROLLMENT_FAILED)[0],
    )
    assert (
        finalized.detail["score"] == 95
        and finalized.detail["xp"] == 120
        and finalized.detail["multiplier"] == 1
    )
    assert finalized.detail["correctQuestions"] == 19 and finalized.detail["totalQuestions"] == 20
    assert enrolled.detail["courseId"] == "course-math-g6" and enrolled.detail["enrollmentId"].startswith(
        "enr-"
    )
    assert failed.detail["reason"] == "no subject track for Reading grade 5"


def test_an_event_id_names_one_stored_change() -> None:
    world = every_kind_of_change()
    ids = [e.event_id for e in world.store.outbox]
    assert len(set(ids)) == len(ids)  # different changes, different ids
    # The id is derived from the stored attempt version, so a publisher retrying, or anyone
    # deriving it again from the stored attempt, gets the same one.
    first = world.store.get_attempt(ADA, MT_TESTOUT, 1)
    assert first is not None
    finalized = world.store.events_of(EventType.FINALIZED)[0]
    assert finalized.event_id == event_id(first, EventType.FINALIZED)


def test_the_events_of_a_change_are_derived_the_same_way_every_time() -> None:
    world = make_deps()
    before = assigned(world, MT_TESTOUT)
    after = written_back(world, MT_TESTOUT, score=95)
    assert transition_events(before, after, "t") == transition_events(before, after, "t")
    assert [e.event_id for e in transition_events(before, after, "t")] == [
        e.event_id for e in world.store.outbox[1:]
    ]


def test_metrics_follow_the_events_one_for_one() -> None:
    world = every_kind_of_change()
    events = Counter(e.detail_type for e in world.store.outbox)
    for detail_type, metric in METRIC_OF.items():
        assert world.metrics.total(metric) == events[detail_type], metric
    assert world.metrics.counts[("AssignmentCreated", "mastery-track", "test-out")] == 2
    assert world.metrics.counts[("TestFinalized", "mastery-track", "placement")] == 1


def test_a_write_that_lost_a_version_race_announces_nothing_and_its_retry_announces_once() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    world.store.fail_next("save_enrollment", VersionConflict("another writer got there first"))

    written_back(world, MT_TESTOUT, score=95)

    assert [e.detail_type for e in world.store.outbox[1:]] == [EventType.FINALIZED, EventType.ENROLLED]
    assert world.metrics.total("TestFinalized") == world.metrics.total("StudentEnrolled") == 1


def test_a_write_that_failed_announces_nothing() -> None:
    world = make_deps()
    world.store.fail_next("save", ConnectionError("DynamoDB unreachable"))
    with pytest.raises(ConnectionError):
        assigned(world, EDU_TESTOUT)
    assert world.store.outbox == [] and world.metrics.total("AssignmentCreated") == 0

    assigned(world, EDU_TESTOUT)  # the client retries

    assert [e.detail_type for e in world.store.outbox] == [EventType.ASSIGNED]
    assert world.metrics.total("AssignmentCreated") == 1


def test_a_change_stored_just_before_a_crash_is_announced_once_and_not_again_by_the_retry() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    world.store.crash_after("save_enrollment")
    with pytest.raises(SimulatedCrash):
        written_back(world, MT_TESTOUT, score=95)

    written_back(world, MT_TESTOUT, score=95)  # the writer retries

    assert [e.detail_type for e in world.store.outbox[1:]] == [EventType.FINALIZED, EventType.ENROLLED]


def test_writes_that_change_no_state_announce_nothing() -> None:
    world = make_deps()
    assigned(world, MT_TESTOUT)
    before = list(world.store.outbox)
    tasks.register_callback(world.deps, ADA, MT_TESTOUT, 1, "token-1")
    written_back(world, MT_TESTOUT, score=40, status="partially graded")
    tasks.record_failure(world.deps, ADA, MT_TESTOUT, 1, {"Error": "X"})
    world.workflow.stop_all()
    world.clock.advance(10**5)
    assert sweep(world.deps).restarted
    assert world.store.outbox == before
