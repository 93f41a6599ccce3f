"""The port the use cases see for an external test platform, and the values crossing it.

Adapters (edulastic.py, mastery_track.py) implement `TestProvider`; unit tests use fakes.
Every method raises only `exttests.errors.ProviderRejected`, `ProviderUnavailable` or
`CircuitOpen`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AssignRequest:
    student_email: str
    first_name: str
    last_name: str
    # Password to create the student with when the provider does not know them yet
    # (Edulastic only; MasteryTrack creates students itself and has no password).
    new_student_password: str | None
    # Edulastic: Resource metadata.vendorId. MasteryTrack: the request's testId override.
    test_id: str | None
    # MasteryTrack subject + grade selection when no test_id is given.
    subject: str | None = None
    grade_rank: int | None = None
    # MasteryTrack writes results back to these OneRoster ids.
    line_item_sourced_id: str | None = None
    result_sourced_id: str | None = None
    # Assignments of earlier attempts: never reuse them for this attempt.
    exclude_assignment_ids: frozenset[str] = field(default_factory=frozenset)
    # The provider's id of a student the service already assigned there (Edulastic): no lookup.
    known_user_id: str | None = None


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    class_id: str  # "" for MasteryTrack
    test_id: str
    test_url: str
    provider_user_id: str | None
    # True when this call created the student with `new_student_password`; False when the
    # student already existed on the provider (the service then has no password to give).
    created_student: bool
    reused: bool = False  # the provider said "already assigned" and we took that one
    expires_at: str | None = None


@dataclass(frozen=True)
class QuestionActivity:
    """One question of a test, merged from the test's question list and the student's activity."""

    id: str
    index: int
    title: str
    max_score: float
    answered: bool
    score: float | None = None
    graded: bool = False
    pending_evaluation: bool = False
    skipped: bool = False
    correct: bool | None = None
    feedback: str = ""
    url: str | None = None
    difficulty: str | None = None


@dataclass(frozen=True)
class TestResults:
    """The student's activity on one assignment (Edulastic)."""

    started: bool
    submitted: bool
    graded: str | None  # "GRADED" | "IN GRADING" | None
    questions: tuple[QuestionActivity, ...]


class TestProvider(Protocol):
    name: str

    def ensure_available(self) -> None: ...

    def assign(self, request: AssignRequest) -> Assignment: ...


class ResultsProvider(TestProvider, Protocol):
    def fetch_results(
        self, *, assignment_id: str, class_id: str, test_id: str, provider_user_id: str
    ) -> TestResults: ...
