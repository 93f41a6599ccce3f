"""Scripted test providers behind the provider port, with crash points.

A `FakeProvider` keeps what a real provider keeps — its students (and the passwords they were
created with) and its assignments, answering "already assigned" by reusing one — so the
exactly-once rules are tested against the same behaviour the adapters see. Failures are
scripted per call: `fail_next(error)` answers the next call with an error before acting;
`fail_after_acting(error)` acts, then raises (the provider did it, the caller never heard):
with `SimulatedCrash` that is a process killed between the provider call and the write.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from exttests.domain.models import ToolProvider
from exttests.errors import CircuitOpen, ProviderRejected
from exttests.providers.base import (
    Assignment,
    AssignmentRef,
    AssignRequest,
    ProviderTraits,
    QuestionActivity,
    ResultsDelivery,
    TestProvider,
    TestResults,
)
from tests.fakes.budget import provider_out_of_time

EDULASTIC_TRAITS = ProviderTraits(ToolProvider.EDULASTIC, ResultsDelivery.PULL, service_sets_password=True)
MASTERY_TRACK_TRAITS = ProviderTraits(
    ToolProvider.MASTERY_TRACK, ResultsDelivery.WRITE_BACK, service_sets_password=False
)


class SimulatedCrash(BaseException):
    """The Lambda died here: no handler in the service catches it (BaseException, like a kill)."""


@dataclass
class ProviderStudent:
    user_id: str
    password: str | None  # the password it was created with; None when it existed before us


@dataclass
class ProviderAssignment:
    id: str
    email: str
    test: str
    url: str
    invalidated: bool = False


@dataclass
class _Script:
    before: deque[BaseException] = field(default_factory=deque)
    after: deque[BaseException] = field(default_factory=deque)


class FakeProvider:
    def __init__(self, traits: ProviderTraits) -> None:
        self.traits = traits
        self.students: dict[str, ProviderStudent] = {}
        self.assignments: list[ProviderAssignment] = []
        self.results: dict[str, TestResults] = {}
        self.requests: list[AssignRequest] = []
        self.calls: Counter[str] = Counter()
        self.circuit_open_for = 0  # > 0: ensure_available raises CircuitOpen with this Retry-After
        self._scripts: dict[str, _Script] = {"assign": _Script(), "fetch_results": _Script()}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, error: BaseException, call: str = "assign", times: int = 1) -> None:
        self._scripts[call].before.extend([error] * times)

    def fail_after_acting(self, error: BaseException, call: str = "assign") -> None:
        self._scripts[call].after.append(error)

    def existing_student(self, email: str) -> ProviderStudent:
        """A student the provider knew before the service did (no password we could give)."""
        student = ProviderStudent(f"pre-{next(self._ids)}", None)
        self.students[email.lower()] = student
        return student

    # --- the port ----------------------------------------------------------------------------

    def ensure_available(self) -> None:
        self.calls["ensure_available"] += 1
        if self.circuit_open_for:
            raise CircuitOpen(self.traits.provider.value, retry_after=self.circuit_open_for)

    def assign(self, request: AssignRequest) -> Assignment:
        provider_out_of_time(self.traits.provider.value)
        with self._lock:
            self.calls["assign"] += 1
            self.requests.append(request)
            self._raise(self._scripts["assign"].before)
            test = self._test_of(request)
            user_id, created = self._student_for(request)
            existing = next(
                (
                    a
                    for a in self.assignments
                    if a.email == request.student_email.lower() and a.test == test and not a.invalidated
                ),
                None,
            )
            if existing is not None and existing.id in request.exclude_assignment_ids:
                existing.invalidated = True  # an earlier attempt's: retired, a new one is made
                existing = None
            reused = existing is not None
            if existing is None:
                number = next(self._ids)
                existing = ProviderAssignment(
                    f"{self.traits.provider.value}-asg-{number}",
                    request.student_email.lower(),
                    test,
                    f"https://{self.traits.provider.value}.example.com/tests/{number}",
                )
                self.assignments.append(existing)
            self._raise(self._scripts["assign"].after)
            return Assignment(
                assignment_id=existing.id,
                class_id="class-1" if self.traits.pulls_results else "",
                test_id=request.vendor_test_id
                if self.traits.pulls_results
                else (request.requested_test_id or existing.id),
                test_url=existing.url,
                provider_user_id=user_id,
                created_student=created,
                reused=reused,
            )

    def fetch_results(self, assignment: AssignmentRef) -> TestResults:
        provider_out_of_time(self.traits.provider.value)
        with self._lock:
            self.calls["fetch_results"] += 1
            if not self.traits.pulls_results:
                raise ProviderRejected(self.traits.provider.value, "results arrive by write-back")
            self._raise(self._scripts["fetch_results"].before)
            answer = self.results.get(assignment.assignment_id, TestResults(False, False, None, ()))
            self._raise(self._scripts["fetch_results"].after)
            return answer

    # --- acting as the student ---------------------------------------------------------------

    def answer(
        self,
        assignment_id: str,
        scores: list[float],
        *,
        submitted: bool = True,
        graded: bool = True,
        max_score: float = 1.0,
        pending: frozenset[int] = frozenset(),
        unanswered: frozenset[int] = frozenset(),
    ) -> None:
        """The student's activity: one question per score (points out of `max_score`)."""
        questions = tuple(
            QuestionActivity(
                id=f"q{i + 1}",
                index=i,
                title=f"Question {i + 1}",
                max_score=max_score,
                answered=i not in unanswered,
                score=None if i in unanswered else score,
                graded=graded and i not in unanswered,
                pending_evaluation=i in pending,
                correct=None if i in unanswered else score >= max_score,
                feedback=f"feedback {i + 1}",
            )
            for i, score in enumerate(scores)
        )
        self.results[assignment_id] = TestResults(
            started=True,
            submitted=submitted,
            graded="GRADED" if graded else "IN GRADING",
            questions=questions,
        )

    def live_assignments(self, email: str) -> list[ProviderAssignment]:
        return [a for a in self.assignments if a.email == email.lower() and not a.invalidated]

    # --- internals ---------------------------------------------------------------------------

    @staticmethod
    def _raise(script: deque[BaseException]) -> None:
        if script:
            raise script.popleft()

    def _test_of(self, request: AssignRequest) -> str:
        name = self.traits.provider.value
        if self.traits.pulls_results:
            if not request.vendor_test_id:
                raise ProviderRejected(name, "the resource has no test id (vendorId)")
            return request.vendor_test_id
        if request.requested_test_id:
            return request.requested_test_id
        if request.subject and request.grade_rank is not None:
            return f"{request.subject}:{request.grade_rank}"
        raise ProviderRejected(name, "either a test id or a subject and grade are needed")

    def _student_for(self, request: AssignRequest) -> tuple[str | None, bool]:
        if not self.traits.service_sets_password:
            return None, False  # the provider creates its students itself
        if request.known_user_id:
            return request.known_user_id, False
        email = request.student_email.lower()
        known = self.students.get(email)
        if known is not None:
            return known.user_id, False
        if not request.new_student_password:
            raise ProviderRejected(self.traits.provider.value, "a password is needed to create the student")
        created = ProviderStudent(f"user-{next(self._ids)}", request.new_student_password)
        self.students[email] = created
        return created.user_id, True


class FakeProviders:
    """The Providers port over fakes; `built` counts adapters asked for (a secret read each)."""

    def __init__(self, *providers: FakeProvider) -> None:
        self.by_name: dict[ToolProvider, FakeProvider] = {p.traits.provider: p for p in providers}
        self.built: Counter[ToolProvider] = Counter()

    def get(self, provider: ToolProvider) -> TestProvider:
        self.built[provider] += 1
        return self.by_name[provider]

    def traits(self, provider: ToolProvider) -> ProviderTraits:
        return self.by_name[provider].traits
