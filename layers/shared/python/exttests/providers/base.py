"""The port the use cases see for an external test platform, and the values crossing it.

Everything that differs between providers is either behind a method here or a trait of the
adapter (`ProviderTraits`): the use cases read traits, they never compare provider names.
Adapters (edulastic.py, mastery_track.py) implement `TestProvider`; the use-case tests use the
scripted fakes in `tests/fakes/providers.py`. Every method raises only
`exttests.errors.ProviderRejected`, `ProviderUnavailable` or `CircuitOpen`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ..domain.models import ToolProvider


class ResultsDelivery(StrEnum):
    PULL = "pull"  # the service fetches the student's activity (Edulastic)
    WRITE_BACK = "write-back"  # the provider writes a OneRoster AssessmentResult back (MasteryTrack)


class WorkflowWait(StrEnum):
    """How the finalization workflow waits between looks at the result."""

    POLL = "poll"  # timed waits, then an import
    CALLBACK = "callback"  # a task token the write-back completes, with a timeout to polling


@dataclass(frozen=True)
class ProviderTraits:
    provider: ToolProvider
    results: ResultsDelivery
    # True when the service creates the student on the provider with a password it generates
    # (and so can hand it out); False when the provider creates students itself.
    service_sets_password: bool

    @property
    def workflow_wait(self) -> WorkflowWait:
        return WorkflowWait.CALLBACK if self.results is ResultsDelivery.WRITE_BACK else WorkflowWait.POLL

    @property
    def pulls_results(self) -> bool:
        return self.results is ResultsDelivery.PULL

    @property
    def accepts_write_back(self) -> bool:
        return self.results is ResultsDelivery.WRITE_BACK


@dataclass(frozen=True)
class AssignRequest:
    """Everything any provider may need to assign; each adapter takes what it uses."""

    student_email: str
    first_name: str
    last_name: str
    # Password to create the student with when the provider does not know them yet; only
    # given to providers whose traits say the service sets the password.
    new_student_password: str | None
    # The lesson's Resource metadata.vendorId (Edulastic's test id).
    vendor_test_id: str | None
    # The request's testId override (MasteryTrack: selects the test instead of subject + grade).
    requested_test_id: str | None
    # Subject + grade selection when no test id is given.
    subject: str | None = None
    grade_rank: int | None = None
    # Providers that write back do it to these OneRoster ids.
    line_item_sourced_id: str | None = None
    result_sourced_id: str | None = None
    # Assignments of earlier attempts: never reuse them for this attempt.
    exclude_assignment_ids: frozenset[str] = field(default_factory=frozenset)
    # The provider's id of a student the service already assigned there: no lookup needed.
    known_user_id: str | None = None


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    class_id: str  # "" when the provider has no classes
    test_id: str
    test_url: str
    provider_user_id: str | None
    # True when this call created the student with `new_student_password`; False when the
    # student already existed on the provider (the service then has no password to give).
    created_student: bool
    reused: bool = False  # the provider said "already assigned" and we took that one
    expires_at: str | None = None


@dataclass(frozen=True)
class AssignmentRef:
    """What identifies an assignment when its results are fetched."""

    assignment_id: str
    class_id: str
    test_id: str
    provider_user_id: str


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
    """The student's activity on one assignment, as a pulling provider reports it."""

    __test__ = False  # not a pytest test class

    started: bool
    submitted: bool
    graded: str | None  # "GRADED" | "IN GRADING" | None
    questions: tuple[QuestionActivity, ...]


class TestProvider(Protocol):
    traits: ProviderTraits

    def ensure_available(self) -> None:
        """Raise CircuitOpen while the provider's circuit is open (before anything is written)."""
        ...

    def assign(self, request: AssignRequest) -> Assignment: ...

    def fetch_results(self, assignment: AssignmentRef) -> TestResults:
        """The student's activity. Only called when `traits.pulls_results`; a provider that
        writes back raises ProviderRejected."""
        ...


# Not a pytest test class. Set outside the body: inside, mypy would make it a protocol member
# that every adapter must declare.
TestProvider.__test__ = False  # type: ignore[attr-defined]
