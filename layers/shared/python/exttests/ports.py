"""What the use cases need from the outside world.

Adapters implement these (`adapters/`, `providers/`); the use-case tests run on the in-memory
fakes in `tests/fakes/`, which pass the same contract tests as the adapters
(`tests/contract/`). The test-provider port itself lives in `providers/base.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
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


@dataclass(frozen=True)
class DueAttempt:
    """An attempt on the sweeper's index: its workflow should have shown a sign of life by `due_at`."""

    student: str
    lesson: str
    due_at: datetime


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
    ) -> Attempt:
        """Save the attempt and the student's enrollment in one transaction, checking the course
        exists. Enrolling in a course twice keeps the first record.

        Raises VersionConflict, or CourseMissing (nothing written)."""
        ...

    def find_track_course(self, subject: str, grade: str, org_id: str | None) -> str | None:
        """The Subject Track course for (subject, grade): the org's own track wins over the global one."""
        ...

    def find_by_sourced_id(self, sourced_id: str) -> tuple[Context, Attempt] | None: ...

    def due_attempts(self, now: datetime, limit: int) -> list[DueAttempt]:
        """Attempts whose workflow should have shown a sign of life by `now`, oldest first."""
        ...

    def touch_due(self, attempt: Attempt, due: datetime) -> None:
        """Move the attempt's sweeper due time (only if the attempt is still at that version)."""
        ...


class Cipher(Protocol):
    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...


class Workflow(Protocol):
    def start(self, attempt: Attempt, wait: WorkflowWait) -> str:
        """Start (idempotently) the finalization workflow of this attempt's generation."""
        ...

    def is_running(self, attempt: Attempt) -> bool: ...

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


class Clock(Protocol):
    def now(self) -> datetime: ...


class Metrics(Protocol):
    """Business and health counts (EMF in AWS). Dimensions never carry student or lesson ids."""

    def count(
        self, name: str, value: float = 1, *, provider: str | None = None, lesson_type: str | None = None
    ) -> None: ...

    def gauge(self, name: str, value: float, unit: str = "Seconds") -> None: ...
