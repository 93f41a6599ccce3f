"""One suite of Store-port behaviours, run against the in-memory fake and the DynamoDB store.

What the use-case tests rely on from `InMemoryStore` is checked here against `DynamoStore` on
moto (the table created with the template's key schema and GSI1, the demo roster loaded by the
real loader). One table serves the module; tests keep apart by using ids of their own, except
the due-index tests, which need a table to themselves (the index spans the whole table).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import boto3
import pytest
from moto import mock_aws

from exttests.adapters.dynamo import keys
from exttests.adapters.dynamo.store import DynamoStore, attempt_of
from exttests.domain import events
from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from exttests.domain.events import DomainEvent, EventType
from exttests.domain.models import LessonType, ProviderAccount, ToolProvider
from exttests.ports import AttemptKey, AttemptView, CourseMissing, DueAttempt, Store, VersionConflict
from exttests.roster_loader import load_roster
from local import cfn_yaml
from local.aws_resources import TABLE, resources_of_type
from tests.fakes.deps import demo_roster
from tests.fakes.store import InMemoryStore
from tests.support import ROOT

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EDU = "lesson-edu-testout-math-g5"
AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


# --- the two stores ----------------------------------------------------------------------------


class Backend(Protocol):
    """A store and a look at what it holds beyond the port (for "nothing was written")."""

    @property
    def store(self) -> Store: ...

    def add_roster(self, roster: dict[str, Any]) -> None: ...

    def account(self, student: str, provider: ToolProvider) -> ProviderAccount | None: ...

    def enrollment(self, student: str, course: str) -> dict[str, Any] | None: ...

    def archived(self, student: str, lesson: str, attempt: int) -> Attempt | None: ...

    def event_stored(self, event: DomainEvent) -> bool: ...


class MemoryBackend:
    def __init__(self, roster: dict[str, Any] | None) -> None:
        self.fake = InMemoryStore(roster)
        self.store = self.fake

    def add_roster(self, roster: dict[str, Any]) -> None:
        self.fake.load_roster(roster)

    def account(self, student: str, provider: ToolProvider) -> ProviderAccount | None:
        return self.fake.accounts.get((student, provider))

    def enrollment(self, student: str, course: str) -> dict[str, Any] | None:
        return self.fake.enrollments.get((student, course))

    def archived(self, student: str, lesson: str, attempt: int) -> Attempt | None:
        return self.fake.archived(student, lesson, attempt)

    def event_stored(self, event: DomainEvent) -> bool:
        return event in self.fake.outbox


class DynamoBackend:
    def __init__(self, table: str, due_shards: int = 1) -> None:
        self.table = table
        self.store = DynamoStore(table, due_shards=due_shards)
        self.client = boto3.client("dynamodb")

    def _doc(self, key: dict[str, dict[str, str]]) -> Any:
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return json.loads(item[keys.DOC]["S"]) if item else None

    def add_roster(self, roster: dict[str, Any]) -> None:
        load_roster(roster, self.table, client=self.client)

    def account(self, student: str, provider: ToolProvider) -> ProviderAccount | None:
        doc = self._doc(keys.provider_account(student, provider.value))
        return ProviderAccount.from_dict(doc) if doc else None

    def enrollment(self, student: str, course: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._doc(keys.enrollment(student, course))
        return found

    def archived(self, student: str, lesson: str, attempt: int) -> Attempt | None:
        key = keys.attempt_archive(student, lesson, attempt)
        return attempt_of(
            self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        )

    def event_stored(self, event: DomainEvent) -> bool:
        return self._doc(keys.outbox(event.event_id)) == event.to_dict()


def create_table(name: str) -> None:
    """The template's table: its key schema, attribute definitions and GSI1."""
    [(_, table)] = resources_of_type(cfn_yaml.load(ROOT / "template.yaml"), TABLE)
    props = table["Properties"]
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )


@pytest.fixture(scope="module")
def dynamo_table() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            create_table("contract")
            load_roster(demo_roster(), "contract")
            yield "contract"


@pytest.fixture(params=["memory", "dynamo"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """A store holding the demo roster (the DynamoDB one shared by the module's tests)."""
    if request.param == "memory":
        return MemoryBackend(demo_roster())
    return DynamoBackend(request.getfixturevalue("dynamo_table"))


@pytest.fixture(params=["memory", "dynamo"])
def own_table(request: pytest.FixtureRequest) -> Backend:
    """An empty store of its own."""
    if request.param == "memory":
        return MemoryBackend(None)
    request.getfixturevalue("dynamo_table")  # moto running
    name = f"due-{uuid.uuid4().hex[:12]}"
    create_table(name)
    # Sharded: the due view is read from every shard and still comes back oldest first.
    return DynamoBackend(name, due_shards=4)


# --- records -----------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def attempt_of_student(
    student: str, lesson: str = EDU, number: int = 1, *, version: int = 1, **fields: Any
) -> Attempt:
    values: dict[str, Any] = {
        "student_id": student,
        "lesson_id": lesson,
        "attempt": number,
        "sourced_id": unique("ear"),
        "line_item_id": unique("eali"),
        "status": AttemptStatus.ASSIGNED,
        "tool_provider": ToolProvider.EDULASTIC,
        "lesson_type": LessonType.TEST_OUT,
        "assignment_id": unique("asg"),
        "due_at": (NOW + timedelta(hours=1)).isoformat(),
        "version": version,
        **fields,
    }
    return Attempt(**values)


def final(attempt: Attempt, enrollment: EnrollmentStatus = EnrollmentStatus.NOT_DUE) -> Attempt:
    return attempt.evolve({"status": AttemptStatus.FINALIZED, "enrollment": enrollment, "score": 100.0})


def account(email: str = "someone@example.com", user_id: str | None = None) -> ProviderAccount:
    return ProviderAccount(
        provider=ToolProvider.EDULASTIC, email=email, password_ciphertext="c", provider_user_id=user_id
    )


def event_of(attempt: Attempt, detail_type: EventType = EventType.EXPIRED) -> DomainEvent:
    """A well-formed event of `attempt` (the fake store checks every event against its schema)."""
    built = events.event(attempt, detail_type, NOW.isoformat())
    detail = {**built.detail, "eventId": str(uuid.uuid4())}
    if detail_type is EventType.ENROLLED:
        detail |= {"courseId": "course-math-g6", "enrollmentId": "enr-1"}
    return replace(built, event_id=detail["eventId"], detail=detail)


def begun(backend: Backend, **fields: Any) -> Attempt:
    """A fresh student's attempt 1, recorded."""
    attempt = attempt_of_student(unique("student"), **fields)
    assert backend.store.begin_attempt(attempt, None, None)
    return attempt


def next_attempt(backend: Backend, previous: Attempt) -> Attempt:
    """Attempt N+1 begun over a final attempt N."""
    stored = backend.store.save(final(previous))
    successor = attempt_of_student(
        previous.student_id, previous.lesson_id, previous.attempt + 1, version=stored.version + 1
    )
    assert backend.store.begin_attempt(successor, stored, None)
    return successor


# --- reads -------------------------------------------------------------------------------------


def test_the_context_of_unknown_ids_is_empty(backend: Backend) -> None:
    ctx = backend.store.load_context(unique("nobody"), unique("nothing"))
    assert (ctx.student, ctx.lesson, ctx.head, ctx.accounts) == (None, None, None, {})


def test_the_context_holds_student_lesson_current_attempt_and_accounts(backend: Backend) -> None:
    student = unique("student")
    backend.add_roster(
        {
            "users": [
                {
                    "sourcedId": student,
                    "email": f"{student}@example.com",
                    "givenName": "Emmy",
                    "roles": [
                        {"roleType": "primary", "role": "student", "org": {"sourcedId": "org-school-2"}}
                    ],
                }
            ]
        }
    )
    intent = attempt_of_student(student)
    assert backend.store.begin_attempt(intent, None, account(f"{student}@example.com"))

    ctx = backend.store.load_context(student, EDU)

    assert ctx.student is not None and ctx.student.is_student and ctx.student.given_name == "Emmy"
    assert ctx.student.primary_org == "org-school-2" and ctx.student.email == f"{student}@example.com"
    assert ctx.lesson is not None
    assert (ctx.lesson.lesson_type, ctx.lesson.tool_provider, ctx.lesson.vendor_id) == (
        "test-out",
        "edulastic",
        "edu-test-algebra-1",
    )
    assert (ctx.lesson.subject, ctx.lesson.grade, ctx.lesson.xp) == ("Math", "5", 100.0)
    assert ctx.head == intent
    assert ctx.accounts == {ToolProvider.EDULASTIC: account(f"{student}@example.com")}
    assert backend.store.get_head(student, EDU) == intent
    assert backend.store.get_attempt(student, EDU, 1) == intent
    assert backend.store.get_attempt(student, EDU, 2) is None


# --- begin and abandon -------------------------------------------------------------------------


def test_of_two_requests_beginning_the_same_attempt_only_the_first_writes(backend: Backend) -> None:
    first = begun(backend)
    second = attempt_of_student(first.student_id)

    assert backend.store.begin_attempt(second, None, account()) is False

    assert backend.store.get_head(first.student_id, EDU) == first
    assert backend.store.find_by_sourced_id(second.sourced_id) is None
    assert backend.account(first.student_id, ToolProvider.EDULASTIC) is None


def test_beginning_over_a_stale_previous_attempt_loses_and_writes_nothing(backend: Backend) -> None:
    first = begun(backend)
    current = backend.store.save(first)  # someone moved it on since
    successor = attempt_of_student(first.student_id, number=2, version=first.version + 1)

    assert backend.store.begin_attempt(successor, first, None) is False

    assert backend.store.get_head(first.student_id, EDU) == current
    assert backend.archived(first.student_id, EDU, 1) is None
    assert backend.store.find_by_sourced_id(successor.sourced_id) is None


def test_beginning_with_a_new_account_loses_when_the_student_already_has_one(backend: Backend) -> None:
    student = unique("student")
    backend.store.save_account(student, account(user_id="kept"))

    assert backend.store.begin_attempt(attempt_of_student(student), None, account(user_id="new")) is False

    assert backend.store.get_head(student, EDU) is None
    assert backend.account(student, ToolProvider.EDULASTIC) == account(user_id="kept")


def test_beginning_the_next_attempt_archives_the_previous_one(backend: Backend) -> None:
    first = begun(backend)
    second = next_attempt(backend, first)
    student = first.student_id

    assert backend.store.get_head(student, EDU) == second
    archived = backend.store.get_attempt(student, EDU, 1)
    assert archived is not None and archived.finalized and archived.sourced_id == first.sourced_id
    assert backend.archived(student, EDU, 1) == archived


def test_abandoning_the_first_attempt_leaves_no_trace_of_it(backend: Backend) -> None:
    intent = begun(backend)

    backend.store.abandon_attempt(intent, None)

    assert backend.store.get_head(intent.student_id, EDU) is None
    assert backend.store.find_by_sourced_id(intent.sourced_id) is None


def test_abandoning_a_later_attempt_brings_the_previous_one_back(backend: Backend) -> None:
    first = begun(backend)
    second = next_attempt(backend, first)
    student = first.student_id

    backend.store.abandon_attempt(second, backend.store.get_attempt(student, EDU, 1))

    restored = backend.store.get_head(student, EDU)
    assert restored is not None and restored.attempt == 1 and restored.finalized
    assert restored.version == second.version + 1  # a writer holding the intent cannot overwrite it
    assert backend.archived(student, EDU, 1) is None
    assert backend.store.find_by_sourced_id(second.sourced_id) is None
    found = backend.store.find_by_sourced_id(first.sourced_id)
    assert found is not None and found[1] == restored


def test_abandoning_is_a_no_op_once_another_request_took_the_intent_over(backend: Backend) -> None:
    intent = begun(backend)
    taken_over = backend.store.save(intent.evolve({"lease_until": 1.0}))

    backend.store.abandon_attempt(intent, None)

    assert backend.store.get_head(intent.student_id, EDU) == taken_over
    found = backend.store.find_by_sourced_id(intent.sourced_id)
    assert found is not None and found[1] == taken_over


# --- save --------------------------------------------------------------------------------------


def test_a_save_of_the_version_read_stores_the_next_version(backend: Backend) -> None:
    attempt = begun(backend)
    saved = backend.store.save(attempt.evolve({"score": 50.0}))
    assert saved.version == attempt.version + 1 and saved.score == 50.0
    assert backend.store.get_head(attempt.student_id, EDU) == saved


def test_a_save_stores_the_account_and_the_events_of_the_change_with_it(backend: Backend) -> None:
    attempt = begun(backend)
    event = event_of(attempt)
    saved = backend.store.save(final(attempt), account=account(user_id="u-1"), events=[event])
    assert backend.store.get_head(attempt.student_id, EDU) == saved
    assert backend.account(attempt.student_id, ToolProvider.EDULASTIC) == account(user_id="u-1")
    assert backend.event_stored(event)


@pytest.mark.parametrize("with_extras", [False, True])
def test_a_save_of_a_stale_version_conflicts_and_writes_nothing(backend: Backend, with_extras: bool) -> None:
    attempt = begun(backend)
    current = backend.store.save(attempt)
    event = event_of(attempt)
    extras: dict[str, Any] = {"account": account(), "events": [event]} if with_extras else {}

    with pytest.raises(VersionConflict):
        backend.store.save(final(attempt), **extras)

    assert backend.store.get_head(attempt.student_id, EDU) == current
    assert backend.account(attempt.student_id, ToolProvider.EDULASTIC) is None
    assert not backend.event_stored(event)


def test_save_account_stores_and_replaces_the_students_account(backend: Backend) -> None:
    student = unique("student")
    backend.store.save_account(student, account(user_id="first"))
    backend.store.save_account(student, account(user_id="second"))
    assert backend.account(student, ToolProvider.EDULASTIC) == account(user_id="second")
    assert backend.store.load_context(student, EDU).accounts == {
        ToolProvider.EDULASTIC: account(user_id="second")
    }


# --- save_enrollment ---------------------------------------------------------------------------


def enrollment_record(student: str, course: str, attempt: int) -> dict[str, Any]:
    return {
        "sourcedId": f"enr-{student}-{course}",
        "course": {"sourcedId": course},
        "metadata": {"attempt": attempt},
    }


def test_an_enrollment_is_stored_with_the_attempt_and_its_events(backend: Backend) -> None:
    attempt = begun(backend)
    event = event_of(attempt, EventType.ENROLLED)
    record = enrollment_record(attempt.student_id, "course-math-g6", 1)

    saved = backend.store.save_enrollment(
        final(attempt, EnrollmentStatus.ENROLLED), "course-math-g6", record, events=[event]
    )

    assert saved.version == attempt.version + 1
    assert backend.store.get_head(attempt.student_id, EDU) == saved
    assert backend.enrollment(attempt.student_id, "course-math-g6") == record
    assert backend.event_stored(event)


def test_an_enrollment_in_a_course_that_does_not_exist_writes_nothing(backend: Backend) -> None:
    attempt = begun(backend)
    event = event_of(attempt, EventType.ENROLLED)

    with pytest.raises(CourseMissing):
        backend.store.save_enrollment(
            final(attempt),
            "course-gone",
            enrollment_record(attempt.student_id, "course-gone", 1),
            events=[event],
        )

    assert backend.store.get_head(attempt.student_id, EDU) == attempt
    assert backend.enrollment(attempt.student_id, "course-gone") is None
    assert not backend.event_stored(event)


@pytest.mark.parametrize("course", ["course-math-g6", "course-gone"])
def test_an_enrollment_on_a_stale_version_conflicts_and_writes_nothing(backend: Backend, course: str) -> None:
    attempt = begun(backend)
    current = backend.store.save(attempt)

    with pytest.raises(VersionConflict):
        backend.store.save_enrollment(
            final(attempt), course, enrollment_record(attempt.student_id, course, 1)
        )

    assert backend.store.get_head(attempt.student_id, EDU) == current
    assert backend.enrollment(attempt.student_id, course) is None


def test_enrolling_in_the_same_course_twice_keeps_the_first_record(backend: Backend) -> None:
    first = begun(backend)
    student = first.student_id
    backend.store.save_enrollment(
        final(first), "course-math-g6", enrollment_record(student, "course-math-g6", 1)
    )
    second = next_attempt(backend, backend.store.get_attempt(student, EDU, 1) or first)

    backend.store.save_enrollment(
        final(second), "course-math-g6", enrollment_record(student, "course-math-g6", 2)
    )

    assert backend.enrollment(student, "course-math-g6") == enrollment_record(student, "course-math-g6", 1)


# --- subject tracks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org", "course"),
    [
        ("org-school-2", "course-math-g6-school2"),  # the org's own track wins
        ("org-school-1", "course-math-g6"),  # no track of its own: the global one
        (None, "course-math-g6"),
    ],
)
def test_the_orgs_own_track_wins_over_the_global_one(backend: Backend, org: str | None, course: str) -> None:
    assert backend.store.find_track_course("Math", "6", org) == course


def test_a_subject_and_grade_without_a_track_have_no_course(backend: Backend) -> None:
    assert backend.store.find_track_course("Math", "12", "org-school-2") is None
    assert backend.store.find_track_course("Astronomy", "6", None) is None


def test_tracks_are_found_whatever_the_subjects_case_and_the_grades_spelling_in_the_roster(
    backend: Backend,
) -> None:
    subject = unique("Science")
    backend.add_roster(
        {
            "subjectTracks": [
                {"subject": f" {subject.upper()} ", "grade": "05", "courseId": "course-sci-5"},
                {"subject": subject, "grade": 0, "courseId": "course-sci-k", "orgSourcedId": "org-school-1"},
            ]
        }
    )
    assert backend.store.find_track_course(subject.lower(), "5", None) == "course-sci-5"
    assert backend.store.find_track_course(subject, "5", "org-school-1") == "course-sci-5"
    assert backend.store.find_track_course(subject.title(), "0", "org-school-1") == "course-sci-k"
    assert backend.store.find_track_course(subject, "0", "org-school-2") is None


# --- find_by_sourced_id ------------------------------------------------------------------------


def test_a_result_id_finds_its_current_attempt_with_the_context(backend: Backend) -> None:
    attempt = begun(backend)
    found = backend.store.find_by_sourced_id(attempt.sourced_id)
    assert found is not None
    ctx, by_id = found
    assert by_id == attempt and ctx.head == attempt
    assert ctx.lesson is not None and ctx.lesson.id == EDU


def test_a_result_id_finds_an_archived_attempt(backend: Backend) -> None:
    first = begun(backend)
    second = next_attempt(backend, first)
    found = backend.store.find_by_sourced_id(first.sourced_id)
    assert found is not None
    ctx, by_id = found
    assert by_id.attempt == 1 and by_id.sourced_id == first.sourced_id and by_id.finalized
    assert ctx.head == second


def test_an_unknown_result_id_finds_nothing(backend: Backend) -> None:
    assert backend.store.find_by_sourced_id(unique("ear")) is None


# --- the sweeper's index -----------------------------------------------------------------------


def on_index(backend: Backend, student: str, due_in_minutes: float, **fields: Any) -> Attempt:
    attempt = attempt_of_student(
        student, due_at=(NOW + timedelta(minutes=due_in_minutes)).isoformat(), **fields
    )
    assert backend.store.begin_attempt(attempt, None, None)
    return attempt


def due(backend: Backend, limit: int = 100, at: datetime = NOW) -> list[tuple[str, str, datetime]]:
    return [(d.student, d.lesson, d.due_at) for d in backend.store.due_attempts(at, limit)]


def test_only_attempts_due_by_now_are_listed_oldest_first_up_to_the_limit(own_table: Backend) -> None:
    store = own_table.store
    late = on_index(own_table, "s-late", -30)
    later = on_index(own_table, "s#odd:id", -60)  # ids are free text
    on_index(own_table, "s-not-yet", 10)
    intent = on_index(own_table, "s-intent", -10, status=AttemptStatus.ASSIGNING, assignment_id=None)
    done = on_index(own_table, "s-final", -120)
    store.save(final(done))
    owed = on_index(own_table, "s-owed", -90)
    store.save(final(owed, EnrollmentStatus.PENDING))  # final, its enrollment still owed

    def entry(a: Attempt) -> tuple[str, str, datetime]:
        return a.student_id, a.lesson_id, datetime.fromisoformat(a.due_at or "")

    assert due(own_table) == [entry(owed), entry(later), entry(late), entry(intent)]
    assert due(own_table, limit=2) == [entry(owed), entry(later)]
    assert isinstance(store.due_attempts(NOW, 1)[0], DueAttempt)


def test_touching_the_due_time_moves_it_only_for_the_version_read(own_table: Backend) -> None:
    store = own_table.store
    attempt = on_index(own_table, "s-touched", -5)
    store.touch_due(attempt, NOW + timedelta(minutes=20))
    assert due(own_table) == []
    assert [d[0] for d in due(own_table, at=NOW + timedelta(minutes=20))] == ["s-touched"]

    stale = on_index(own_table, "s-stale", -5)
    store.save(stale)
    store.touch_due(stale, NOW + timedelta(minutes=20))
    assert [d[0] for d in due(own_table)] == ["s-stale"]


def test_touching_a_final_attempt_does_not_put_it_back_on_the_index(own_table: Backend) -> None:
    store = own_table.store
    saved = store.save(final(on_index(own_table, "s-final", -5)))
    store.touch_due(saved, NOW - timedelta(minutes=1))
    assert due(own_table) == []


def test_failed_enrollments_and_expiries_have_views_of_their_own_by_time(own_table: Backend) -> None:
    store = own_table.store
    at = {n: (NOW + timedelta(minutes=n)).isoformat() for n in (1, 2, 3)}
    failed = store.save(
        final(on_index(own_table, "s-failed", 5), EnrollmentStatus.FAILED).evolve({"updated_at": at[2]})
    )
    expired = store.save(
        on_index(own_table, "s-expired", 5).evolve({"status": AttemptStatus.EXPIRED, "updated_at": at[1]})
    )
    store.save(final(on_index(own_table, "s-enrolled", 5), EnrollmentStatus.ENROLLED))
    on_index(own_table, "s-running", 5)

    assert store.list_attempts(AttemptView.ENROLLMENT_FAILED) == [
        AttemptKey(failed.student_id, failed.lesson_id, None, at[2])
    ]
    assert store.list_attempts(AttemptView.EXPIRED) == [
        AttemptKey(expired.student_id, expired.lesson_id, None, at[1])
    ]
    assert store.list_attempts(AttemptView.EXPIRED, since=NOW + timedelta(minutes=2)) == []
    assert [k.student for k in store.list_attempts(AttemptView.DUE, until=NOW + timedelta(minutes=10))] == [
        "s-running"
    ]
    # A failed enrollment is not "due": the sweeper leaves it to an operator.
    assert due(own_table, at=NOW + timedelta(days=1)) == [("s-running", EDU, NOW + timedelta(minutes=5))]


def test_every_attempt_of_a_student_and_lesson_is_listed_oldest_first(backend: Backend) -> None:
    student = unique("s-history")
    first = attempt_of_student(student)
    assert backend.store.begin_attempt(first, None, None)
    done = backend.store.save(final(first))
    second = attempt_of_student(student, number=2, version=done.version + 1)
    assert backend.store.begin_attempt(second, done, None)
    history = backend.store.attempts_of(student, EDU)
    assert [(a.attempt, a.finalized) for a in history] == [(1, True), (2, False)]
    assert backend.store.attempts_of(unique("s-nobody"), EDU) == []


def test_a_stored_enrollment_can_be_read_back(backend: Backend) -> None:
    student = unique("s-enrolled")
    attempt = attempt_of_student(student)
    assert backend.store.begin_attempt(attempt, None, None)
    record = {"sourcedId": "enr-x", "course": {"sourcedId": "course-math-g6"}}
    backend.store.save_enrollment(final(attempt, EnrollmentStatus.ENROLLED), "course-math-g6", record)
    assert backend.store.get_enrollment(student, "course-math-g6") == record
    assert backend.store.get_enrollment(student, "course-math-g7") is None
