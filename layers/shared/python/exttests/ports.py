"""What the use cases need from the outside world.

Adapters implement these (`adapters/`, `providers/`); the use-case tests run on the in-memory
fakes in `tests/fakes/`, which pass the same contract tests as the adapters
(`tests/contract/`). The test-provider port itself lives in `providers/base.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from .domain.attempt import Attempt
from .domain.events import DomainEvent
from .domain.models import Lesson, ProviderAccount, Student, ToolProvider
from .providers.base import ProviderTraits, TestProvider, WorkflowWait


@dataclass
class Context:
    """Everything one request needs, read in a single round trip."""

    student: Student | None
    lesson: Lesson | None
    head: Attempt | None
    accounts: dict[ToolProvider, ProviderAccount] = field(default_factory=dict)
    # What the table could not answer for: a live roster's cache had no fresh entry ("student",
    # "lesson"). Empty when the table holds the roster itself.
    stale: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CachedDocument:
    """A roster object as the live roster's cache keeps it: None = known not to exist."""

    kind: str  # "student" | "lesson" | "tracks"
    id: str
    doc: dict[str, Any] | list[Any] | None
    fresh_until: float  # epoch seconds


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"  # ours now: make the enrollment on the platform, then commit it
    ENROLLED = "enrolled"  # already made (by us or another attempt): nothing to call
    BUSY = "busy"  # another request holds a live claim


@dataclass(frozen=True)
class EnrollmentClaim:
    status: ClaimStatus
    record: dict[str, Any] | None = None  # the stored enrollment when ENROLLED
    # A claim existed before ours and ended without an enrollment: its platform call may have
    # succeeded, so look on the platform before enrolling again.
    taken_over: bool = False


@dataclass(frozen=True)
class DueAttempt:
    """An attempt on the sweeper's index: its workflow should have shown a sign of life by `due_at`."""

    student: str
    lesson: str
    due_at: datetime


class AttemptView(StrEnum):
    """What an operator lists (the sparse index keeps each view)."""

    DUE = "due"  # the workflow still owes work; overdue ones are stuck
    ENROLLMENT_FAILED = "enrollment-failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class AttemptKey:
    student: str
    lesson: str
    attempt: int | None  # None: the current attempt (HEAD)
    at: str  # due time (DUE) or the time of the change (the others)


class VersionConflict(Exception):
    """Another writer changed the attempt since it was read (optimistic locking)."""


class CourseMissing(Exception):
    """The course to enroll in does not exist in the roster (checked inside the transaction)."""


class Store(Protocol):
    """The service's table: roster, attempts, provider accounts, enrollments."""

    def load_context(self, student_id: str, lesson_id: str) -> Context: ...

    def get_head(self, student_id: str, lesson_id: str) -> Attempt | None: ...

    def get_attempt(self, student_id: str, lesson_id: str, attempt: int) -> Attempt | None: ...

    def begin_attempt(
        self, intent: Attempt, previous: Attempt | None, new_account: ProviderAccount | None
    ) -> bool:
        """Record the intent to assign (HEAD, sourcedId alias, archive of the previous attempt,
        the new account) only if HEAD is still `previous`. False when another request won the
        race (nothing written)."""
        ...

    def abandon_attempt(self, intent: Attempt, previous: Attempt | None) -> None:
        """Undo begin_attempt after the provider refused: the previous HEAD comes back (no-op when
        someone else has taken the intent over since)."""
        ...

    def save(
        self,
        attempt: Attempt,
        *,
        account: ProviderAccount | None = None,
        events: Sequence[DomainEvent] = (),
    ) -> Attempt:
        """Write the attempt if its version is still the stored one, with `account` and the
        change's events (the outbox) in the same transaction; returns it with version + 1.

        Raises VersionConflict otherwise (nothing written)."""
        ...

    def save_account(self, student_id: str, account: ProviderAccount) -> None: ...

    def save_enrollment(
        self,
        attempt: Attempt,
        course_id: str,
        record: dict[str, Any],
        *,
        events: Sequence[DomainEvent] = (),
        claim_holder: str | None = None,
    ) -> Attempt:
        """Save the attempt and the student's enrollment in one transaction.

        Without `claim_holder` (the table is the roster) the course's existence is checked in the
        transaction and enrolling twice keeps the first record: raises VersionConflict or
        CourseMissing (nothing written). With it (the enrollment was made on the platform) the
        claim must still be that holder's, and the record replaces the claim: raises
        VersionConflict when the attempt or the claim changed."""
        ...

    def claim_enrollment(self, student_id: str, course_id: str, holder: str, until: float) -> EnrollmentClaim:
        """Claim the right to make (student, course)'s platform enrollment until `until`, unless it
        is made already or another holder's claim is still live."""
        ...

    def release_enrollment(self, student_id: str, course_id: str, holder: str) -> None:
        """End our claim without an enrollment (the platform call failed or its outcome is
        unknown); the next claimant looks on the platform first."""
        ...

    def read_cache(self, kind: str, id: str) -> CachedDocument | None:
        """A live roster's cached document, fresh or not (None when never cached)."""
        ...

    def write_cache(self, documents: Sequence[CachedDocument]) -> None: ...

    def find_track_course(self, subject: str, grade: str, org_id: str | None) -> str | None:
        """The Subject Track course for (subject, grade): the org's own track wins over the global one."""
        ...

    def find_by_sourced_id(self, sourced_id: str) -> tuple[Context, Attempt] | None: ...

    def due_attempts(self, now: datetime, limit: int) -> list[DueAttempt]:
        """Attempts whose workflow should have shown a sign of life by `now`, oldest first."""
        ...

    def attempts_of(self, student_id: str, lesson_id: str) -> list[Attempt]:
        """Every attempt of (student, lesson): the archived ones, then the current one."""
        ...

    def get_enrollment(self, student_id: str, course_id: str) -> dict[str, Any] | None: ...

    def list_attempts(
        self,
        view: AttemptView,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AttemptKey]:
        """Attempts in one operator view, oldest first (an index query, never a scan)."""
        ...

    def touch_due(self, attempt: Attempt, due: datetime) -> None:
        """Move the attempt's sweeper due time (only if the attempt is still at that version)."""
        ...


@dataclass(frozen=True)
class ExecutionInfo:
    name: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    started: str | None = None
    stopped: str | None = None
    arn: str | None = None


class Cipher(Protocol):
    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...


class Workflow(Protocol):
    def start(self, attempt: Attempt, wait: WorkflowWait) -> str:
        """Start (idempotently) the finalization workflow of this attempt's generation."""
        ...

    def is_running(self, attempt: Attempt) -> bool: ...

    def describe(self, attempt: Attempt) -> ExecutionInfo | None:
        """The execution of this attempt's current generation (None: never started)."""
        ...

    def stop(self, attempt: Attempt, cause: str) -> bool:
        """Stop the execution of this attempt's current generation if it runs (False: it did not)."""
        ...

    def complete_callback(self, task_token: str, output: dict[str, Any]) -> bool:
        """Wake a workflow parked on a callback; False when it could not be woken (it polls later)."""
        ...


class Providers(Protocol):
    def get(self, provider: ToolProvider) -> TestProvider:
        """The adapter (built on first use: a request that never calls a provider reads no secret)."""
        ...

    def traits(self, provider: ToolProvider) -> ProviderTraits:
        """What the use cases need to know about a provider, without building its adapter."""
        ...


class Roster(Protocol):
    """Where students, lessons and Subject Tracks come from: the table (loaded from a roster
    file) or the live platform (cached in the table)."""

    def refresh(self, ctx: Context, student_id: str, lesson_id: str) -> Context:
        """Fill in what `ctx.stale` names from the source (and cache it)."""
        ...

    def track_course(self, subject: str, grade: str, org_id: str | None) -> str | None:
        """The Subject Track course for (subject, grade): the org's own track wins over the global one."""
        ...


class Enroller(Protocol):
    """Makes an enrollment on the learning platform (EduBridge)."""

    def enroll(
        self, student: Student, course_id: str, sourced_id: str, *, look_first: bool, metadata: dict[str, Any]
    ) -> str:
        """Enroll (once: `look_first` lists the student's enrollments before creating one, and an
        "already enrolled" answer counts as done); returns the platform's enrollment id.
        Raises ProviderRejected (permanent: unknown course, refused) or ProviderUnavailable."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Metrics(Protocol):
    """Business and health counts (EMF in AWS). Dimensions never carry student or lesson ids."""

    def count(
        self, name: str, value: float = 1, *, provider: str | None = None, lesson_type: str | None = None
    ) -> None: ...

    def gauge(self, name: str, value: float, unit: str = "Seconds") -> None: ...
