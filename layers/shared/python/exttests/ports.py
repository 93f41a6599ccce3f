"""What the use cases need from the outside world. Adapters implement these; tests use fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .domain.attempt import Attempt
from .domain.models import Lesson, ProviderAccount, Student
from .providers.base import TestProvider


@dataclass
class Context:
    """Everything one request needs, read in a single round trip."""

    student: Student | None
    lesson: Lesson | None
    head: Attempt | None
    accounts: dict[str, ProviderAccount] = field(default_factory=dict)


class VersionConflict(Exception):
    """Another writer changed the attempt since it was read (optimistic locking)."""


class CourseMissing(Exception):
    """The course to enroll in does not exist in the roster (checked inside the transaction)."""


class Store(Protocol):
    def load_context(self, student_id: str, lesson_id: str) -> Context: ...

    def get_head(self, student_id: str, lesson_id: str) -> Attempt | None: ...

    def get_attempt(self, student_id: str, lesson_id: str, attempt: int) -> Attempt | None: ...

    def get_lesson(self, lesson_id: str) -> Lesson | None: ...

    def get_student(self, student_id: str) -> Student | None: ...

    def begin_attempt(
        self, intent: Attempt, previous: Attempt | None, new_account: ProviderAccount | None
    ) -> bool:
        """Record the intent to assign (HEAD, alias, archive of the previous attempt, new password).

        False when another request won the race (nothing written)."""
        ...

    def abandon_attempt(self, intent: Attempt, previous: Attempt | None) -> None:
        """Undo begin_attempt after the provider refused: the previous HEAD comes back."""
        ...

    def save(self, attempt: Attempt, *, account: ProviderAccount | None = None) -> Attempt:
        """Write the attempt if its version is still the stored one; returns it with version + 1.

        Raises VersionConflict otherwise."""
        ...

    def save_account(self, student_id: str, account: ProviderAccount) -> None: ...

    def save_enrollment(self, attempt: Attempt, course_id: str, record: dict[str, Any]) -> Attempt:
        """Enroll and save the attempt in one transaction, checking the course exists.

        Raises VersionConflict, or CourseMissing (nothing written)."""
        ...

    def find_track_course(self, subject: str, grade: str, org_id: str | None) -> str | None: ...

    def find_by_sourced_id(self, sourced_id: str) -> tuple[Context, Attempt] | None: ...

    def due_attempts(self, now: datetime, limit: int) -> list[tuple[str, str]]: ...

    def touch_due(self, attempt: Attempt, due: datetime) -> None: ...


class Cipher(Protocol):
    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...


class Workflow(Protocol):
    def start(self, attempt: Attempt) -> str:
        """Start (idempotently) the finalization workflow of this attempt's generation."""
        ...

    def is_running(self, attempt: Attempt) -> bool: ...

    def complete_callback(self, task_token: str, output: dict[str, Any]) -> bool: ...


class Providers(Protocol):
    def get(self, name: str) -> TestProvider: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
