"""The Store port in memory, with the DynamoDB store's guarantees: every attempt write is
conditional on the version read, multi-item writes are all-or-nothing, and intents, aliases
and enrollments are conditional puts. Roster data is loaded through the real roster loader
(`exttests.roster_loader.build_items`) and decoded by the real item decoders, so both stores
read a roster file the same way.

Failure injection: `fail_next(method, error)` raises before the write (nothing stored);
`crash_after(method)` stores, then raises SimulatedCrash (stored, caller never heard).
Races: `before_next(method, action)` runs `action` — another request's work — when `method` is
next called, before it checks anything, so that request's writes land between the caller's read
and its write. `calls` counts round trips per method.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from exttests.adapters.dynamo import keys
from exttests.adapters.dynamo.store import lesson_of, student_of
from exttests.domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from exttests.domain.events import DomainEvent
from exttests.domain.models import ProviderAccount, ToolProvider
from exttests.errors import Busy
from exttests.ports import (
    AttemptKey,
    AttemptView,
    CachedDocument,
    ClaimStatus,
    Context,
    CourseMissing,
    DueAttempt,
    EnrollmentClaim,
    VersionConflict,
)
from exttests.roster_loader import build_items
from tests.event_schemas import assert_valid_detail
from tests.fakes.budget import out_of_time

from .providers import SimulatedCrash

Key = tuple[str, str]


class InMemoryStore:
    def __init__(
        self,
        roster: dict[str, Any] | None = None,
        *,
        roster_cache: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.roster_cache = roster_cache
        self._clock = clock
        self.cache: dict[tuple[str, str], CachedDocument] = {}
        self.claims: dict[tuple[str, str], tuple[str, float]] = {}  # (student, course) → (holder, until)
        self.claimed_before: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._roster: dict[Key, dict[str, Any]] = {}
        self._heads: dict[Key, Attempt] = {}  # (student, lesson) → HEAD
        self._archive: dict[tuple[str, str, int], Attempt] = {}
        # The sparse index: (student, lesson, archived attempt or None for HEAD) → (view, sort key).
        self._view_index: dict[tuple[str, str, int | None], tuple[AttemptView, str]] = {}
        self._aliases: dict[str, tuple[str, str, int]] = {}
        self.accounts: dict[tuple[str, ToolProvider], ProviderAccount] = {}
        self.enrollments: dict[tuple[str, str], dict[str, Any]] = {}
        self.outbox: list[DomainEvent] = []
        self.calls: Counter[str] = Counter()
        self._failures: dict[str, deque[BaseException]] = defaultdict(deque)
        self._crashes: Counter[str] = Counter()
        self._races: dict[str, deque[Callable[[], object]]] = defaultdict(deque)
        if roster is not None:
            self.load_roster(roster)

    # --- test controls ---------------------------------------------------------------------------

    def load_roster(self, roster: dict[str, Any]) -> None:
        items, _ = build_items(roster)
        with self._lock:
            for item in items:
                self._roster[(item[keys.PK]["S"], item[keys.SK]["S"])] = item

    def remove_roster_item(self, key: dict[str, dict[str, str]]) -> None:
        with self._lock:
            self._roster.pop((key[keys.PK]["S"], key[keys.SK]["S"]), None)

    def fail_next(self, method: str, error: BaseException, times: int = 1) -> None:
        self._failures[method].extend([error] * times)

    def crash_after(self, method: str, times: int = 1) -> None:
        self._crashes[method] += times

    def before_next(self, method: str, action: Callable[[], object]) -> None:
        self._races[method].append(action)

    def _enter(self, method: str) -> None:
        out_of_time()  # like the DynamoDB store's clients: no call starts once the budget is spent
        self.calls[method] += 1
        if self._races[method]:
            self._races[method].popleft()()
        if self._failures[method]:
            raise self._failures[method].popleft()

    def _append_events(self, events: Sequence[DomainEvent]) -> None:
        for event in events:  # every event any use-case test produces is checked against its schema
            assert_valid_detail(event.detail_type.value, event.detail)
        self.outbox.extend(events)

    def _leave(self, method: str) -> None:
        if self._crashes[method]:
            self._crashes[method] -= 1
            raise SimulatedCrash(f"crashed after {method}")

    # --- reads -----------------------------------------------------------------------------------

    def _roster_item(self, key: dict[str, dict[str, str]]) -> dict[str, Any] | None:
        return self._roster.get((key[keys.PK]["S"], key[keys.SK]["S"]))

    def _cached_item(self, kind: str, object_id: str) -> tuple[dict[str, Any] | None, bool]:
        """The cache entry as a table item (for the shared decoders), and whether it is fresh."""
        entry = self.cache.get((kind, object_id))
        if entry is None or entry.fresh_until <= self._clock():
            return None, False
        return {keys.DOC: {"S": json.dumps(entry.doc)}}, True

    def load_context(self, student_id: str, lesson_id: str) -> Context:
        with self._lock:
            self._enter("load_context")
            stale: set[str] = set()
            if self.roster_cache:
                user_item, user_fresh = self._cached_item("student", student_id)
                lesson_item, lesson_fresh = self._cached_item("lesson", lesson_id)
                stale = {
                    kind for kind, fresh in (("student", user_fresh), ("lesson", lesson_fresh)) if not fresh
                }
            else:
                user_item = self._roster_item(keys.user(student_id))
                lesson_item = self._roster_item(keys.lesson(lesson_id))
            return Context(
                stale=frozenset(stale),
                student=student_of(user_item),
                lesson=lesson_of(lesson_item),
                head=copy.deepcopy(self._heads.get((student_id, lesson_id))),
                accounts={
                    provider: copy.deepcopy(account)
                    for (student, provider), account in self.accounts.items()
                    if student == student_id
                },
            )

    def get_head(self, student_id: str, lesson_id: str) -> Attempt | None:
        with self._lock:
            self._enter("get_head")
            return copy.deepcopy(self._heads.get((student_id, lesson_id)))

    def get_attempt(self, student_id: str, lesson_id: str, attempt: int) -> Attempt | None:
        with self._lock:
            self._enter("get_attempt")
            head = self._heads.get((student_id, lesson_id))
            if head is not None and head.attempt == attempt:
                return copy.deepcopy(head)
            return copy.deepcopy(self._archive.get((student_id, lesson_id, attempt)))

    def attempts_of(self, student_id: str, lesson_id: str) -> list[Attempt]:
        with self._lock:
            self._enter("attempts_of")
            found = [
                a
                for (student, lesson, _), a in self._archive.items()
                if (student, lesson) == (student_id, lesson_id)
            ]
            head = self._heads.get((student_id, lesson_id))
            return copy.deepcopy(sorted(found, key=lambda a: a.attempt) + ([head] if head else []))

    def get_enrollment(self, student_id: str, course_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._enter("get_enrollment")
            return copy.deepcopy(self.enrollments.get((student_id, course_id)))

    def find_track_course(self, subject: str, grade: str, org_id: str | None) -> str | None:
        with self._lock:
            self._enter("find_track_course")
            wanted = [keys.subject_track(subject, grade, org_id)] if org_id else []
            wanted.append(keys.subject_track(subject, grade, None))
            for key in wanted:
                item = self._roster_item(key)
                if item and item.get("courseId", {}).get("S"):
                    return str(item["courseId"]["S"])
            return None

    def find_by_sourced_id(self, sourced_id: str) -> tuple[Context, Attempt] | None:
        with self._lock:
            self._enter("find_by_sourced_id")
            alias = self._aliases.get(sourced_id)
            if alias is None:
                return None
            student, lesson, number = alias
            ctx = self.load_context(student, lesson)
            attempt = ctx.head if ctx.head is not None and ctx.head.attempt == number else None
            attempt = attempt or self.get_attempt(student, lesson, number)
            return (ctx, attempt) if attempt is not None else None

    def due_attempts(self, now: datetime, limit: int) -> list[DueAttempt]:
        with self._lock:
            self._enter("due_attempts")
            due = self._in_view(AttemptView.DUE, None, now, limit)
            return [DueAttempt(key.student, key.lesson, datetime.fromisoformat(key.at)) for key in due]

    def list_attempts(
        self,
        view: AttemptView,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AttemptKey]:
        with self._lock:
            self._enter("list_attempts")
            return self._in_view(view, since, until, limit)

    def _in_view(
        self, view: AttemptView, since: datetime | None, until: datetime | None, limit: int
    ) -> list[AttemptKey]:
        found = sorted(
            (at, student, lesson, number)
            for (student, lesson, number), (in_view, at) in self._view_index.items()
            if in_view is view
            and (since is None or at >= since.isoformat())
            and (until is None or at <= until.isoformat())
        )
        return [AttemptKey(student, lesson, number, at) for at, student, lesson, number in found[:limit]]

    def _index(self, attempt: Attempt, archived: bool) -> None:
        slot = (attempt.student_id, attempt.lesson_id, attempt.attempt if archived else None)
        if attempt.needs_workflow and attempt.due_at:
            self._view_index[slot] = (AttemptView.DUE, attempt.due_at)
        elif attempt.enrollment is EnrollmentStatus.FAILED:
            self._view_index[slot] = (AttemptView.ENROLLMENT_FAILED, attempt.updated_at or "")
        elif attempt.status is AttemptStatus.EXPIRED:
            self._view_index[slot] = (AttemptView.EXPIRED, attempt.updated_at or "")
        else:
            self._view_index.pop(slot, None)

    def _put_head(self, attempt: Attempt) -> None:
        self._heads[(attempt.student_id, attempt.lesson_id)] = copy.deepcopy(attempt)
        self._index(attempt, archived=False)

    def _check_version(self, attempt: Attempt, expected: int | None) -> None:
        head = self._heads.get((attempt.student_id, attempt.lesson_id))
        if (head.version if head is not None else None) != expected:
            raise VersionConflict("attempt changed")

    def begin_attempt(
        self, intent: Attempt, previous: Attempt | None, new_account: ProviderAccount | None
    ) -> bool:
        with self._lock:
            self._enter("begin_attempt")
            try:
                self._check_version(intent, previous.version if previous else None)
            except VersionConflict:
                return False
            if intent.sourced_id in self._aliases:
                return False
            if new_account is not None and (intent.student_id, new_account.provider) in self.accounts:
                return False
            self._put_head(intent)
            self._aliases[intent.sourced_id] = (intent.student_id, intent.lesson_id, intent.attempt)
            if previous is not None:
                self._archive[(previous.student_id, previous.lesson_id, previous.attempt)] = copy.deepcopy(
                    previous
                )
                self._index(previous, archived=True)
            if new_account is not None:
                self.accounts[(intent.student_id, new_account.provider)] = copy.deepcopy(new_account)
            self._leave("begin_attempt")
            return True

    def abandon_attempt(self, intent: Attempt, previous: Attempt | None) -> None:
        with self._lock:
            self._enter("abandon_attempt")
            try:
                self._check_version(intent, intent.version)
            except VersionConflict:
                return  # someone took the intent over: theirs is the truth now
            self._aliases.pop(intent.sourced_id, None)
            key = (intent.student_id, intent.lesson_id)
            if previous is None:
                del self._heads[key]
                self._view_index.pop((*key, None), None)
            else:
                self._put_head(previous.evolve({"version": intent.version + 1}))
                self._archive.pop((*key, previous.attempt), None)
                self._view_index.pop((*key, previous.attempt), None)
            self._leave("abandon_attempt")

    def save(
        self,
        attempt: Attempt,
        *,
        account: ProviderAccount | None = None,
        events: Sequence[DomainEvent] = (),
    ) -> Attempt:
        with self._lock:
            self._enter("save")
            self._check_version(attempt, attempt.version)
            saved = attempt.evolve({"version": attempt.version + 1})
            self._put_head(saved)
            if account is not None:
                self.accounts[(attempt.student_id, account.provider)] = copy.deepcopy(account)
            self._append_events(events)
            self._leave("save")
            return copy.deepcopy(saved)

    def save_account(self, student_id: str, account: ProviderAccount) -> None:
        with self._lock:
            self._enter("save_account")
            self.accounts[(student_id, account.provider)] = copy.deepcopy(account)
            self._leave("save_account")

    def save_enrollment(
        self,
        attempt: Attempt,
        course_id: str,
        record: dict[str, Any],
        *,
        events: Sequence[DomainEvent] = (),
        claim_holder: str | None = None,
    ) -> Attempt:
        with self._lock:
            self._enter("save_enrollment")
            self._check_version(attempt, attempt.version)
            key = (attempt.student_id, course_id)
            if claim_holder is None:
                if self._roster_item(keys.course(course_id)) is None:
                    raise CourseMissing(course_id)
                self.enrollments.setdefault(key, copy.deepcopy(record))
            else:
                if self.claims.get(key, ("", 0.0))[0] != claim_holder:
                    raise Busy("the enrollment was taken over by another request", retry_after=5)
                self.claims.pop(key)
                self.enrollments[key] = copy.deepcopy(record)
            saved = attempt.evolve({"version": attempt.version + 1})
            self._put_head(saved)
            self._append_events(events)
            self._leave("save_enrollment")
            return copy.deepcopy(saved)

    def claim_enrollment(self, student_id: str, course_id: str, holder: str, until: float) -> EnrollmentClaim:
        with self._lock:
            self._enter("claim_enrollment")
            key = (student_id, course_id)
            if key in self.enrollments:
                return EnrollmentClaim(ClaimStatus.ENROLLED, record=copy.deepcopy(self.enrollments[key]))
            current = self.claims.get(key)
            if current is not None and current[0] != holder and current[1] >= self._clock():
                return EnrollmentClaim(ClaimStatus.BUSY)
            self.claims[key] = (holder, until)
            taken_over = key in self.claimed_before
            self.claimed_before.add(key)
            self._leave("claim_enrollment")
            return EnrollmentClaim(ClaimStatus.CLAIMED, taken_over=taken_over)

    def release_enrollment(self, student_id: str, course_id: str, holder: str) -> None:
        with self._lock:
            self._enter("release_enrollment")
            key = (student_id, course_id)
            if self.claims.get(key, ("", 0.0))[0] == holder:
                self.claims[key] = (holder, 0.0)

    def read_cache(self, kind: str, id: str) -> CachedDocument | None:
        with self._lock:
            self._enter("read_cache")
            return self.cache.get((kind, id))

    def write_cache(self, documents: Sequence[CachedDocument]) -> None:
        with self._lock:
            self._enter("write_cache")
            for document in documents:
                self.cache[(document.kind, document.id)] = copy.deepcopy(document)

    def touch_due(self, attempt: Attempt, due: datetime) -> None:
        with self._lock:
            self._enter("touch_due")
            head = self._heads.get((attempt.student_id, attempt.lesson_id))
            slot = (attempt.student_id, attempt.lesson_id, None)
            entry = self._view_index.get(slot)
            if head is not None and head.version == attempt.version and entry and entry[0] is AttemptView.DUE:
                self._view_index[slot] = (AttemptView.DUE, due.isoformat())
            self._leave("touch_due")

    # --- what tests look at ------------------------------------------------------------------------

    def head(self, student_id: str, lesson_id: str) -> Attempt | None:
        with self._lock:
            return copy.deepcopy(self._heads.get((student_id, lesson_id)))

    def archived(self, student_id: str, lesson_id: str, attempt: int) -> Attempt | None:
        with self._lock:
            return copy.deepcopy(self._archive.get((student_id, lesson_id, attempt)))

    def events_of(self, detail_type: str) -> list[DomainEvent]:
        with self._lock:
            return [e for e in self.outbox if e.detail_type == detail_type]
