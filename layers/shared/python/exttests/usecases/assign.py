"""makeExternalTestAssignment: exactly one provider assignment per (student, lesson, attempt).

The intent is recorded first (a conditional write only one request can win), then the provider
is called, then the assignment is stored. A request that loses the race waits for the winner;
one that finds an intent whose lease ran out (its owner crashed) takes it over and calls the
provider again, whose "already assigned" answer is reused — so a crash between the provider
call and the write never gives the student two assignments.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import budget
from ..domain.attempt import Attempt, AttemptStatus, EnrollmentStatus
from ..domain.grades import grade_rank
from ..domain.models import Credentials, Lesson, LessonType, ProviderAccount, Student, ToolProvider
from ..domain.rules import check_lesson, check_student, student_email
from ..errors import Busy, CircuitOpen, DeadlineExceeded, ProviderError, ProviderRejected, ProviderUnavailable
from ..observability import append_log_keys, logger
from ..ports import Context, VersionConflict
from ..providers.base import AssignRequest, ProviderTraits, WorkflowWait
from .attempts import persist, retry_on_conflict
from .context import load_context
from .credentials import cipher_context, credentials_for, generate_password
from .deps import Deps, iso
from .finalize import complete_enrollment

_MAX_ROUNDS = 200
_WAIT_STEP_SECONDS = 0.1


@dataclass(frozen=True)
class AssignCommand:
    student_id: str
    lesson_id: str
    test_id: str | None = None
    skip_course_enrollment: bool = False


@dataclass(frozen=True)
class AssignOutcome:
    attempt: Attempt
    credentials: Credentials | None


def assign(deps: Deps, command: AssignCommand) -> AssignOutcome:
    append_log_keys(student=command.student_id, lesson=command.lesson_id)
    started = deps.clock.now()
    for _ in range(_MAX_ROUNDS):
        ctx = load_context(deps, command.student_id, command.lesson_id)
        student = check_student(command.student_id, ctx.student)
        lesson_type, provider = check_lesson(command.lesson_id, ctx.lesson)
        email = student_email(student)
        assert ctx.lesson is not None
        traits = deps.providers.traits(provider)
        head = ctx.head
        if head is not None and not head.is_final:
            append_log_keys(attempt=head.attempt)
            if head.is_assigned:
                deps.metrics.count(
                    "AssignmentReused", provider=provider.value, lesson_type=head.lesson_type.value
                )
                return _outcome(deps, _ensure_workflow(deps, head, traits), ctx)
            if head.lease_until is not None and head.lease_until > deps.clock.now().timestamp():
                _wait_for_lease(deps, started)
                continue
            deps.providers.get(provider).ensure_available()
            intent = _take_over(deps, head)
            if intent is None:
                continue
            previous = None
        else:
            if head is not None and head.enrollment is EnrollmentStatus.PENDING:
                # Finish the previous attempt's enrollment before it is archived.
                complete_enrollment(deps, head, ctx.lesson, student)
                continue
            deps.providers.get(provider).ensure_available()
            intent, account = _new_intent(deps, command, ctx, student, (lesson_type, provider), traits, email)
            if not deps.store.begin_attempt(intent, head, account):
                continue  # another request recorded its intent first: wait for it
            if account is not None:
                ctx.accounts[provider] = account
            previous = head
            append_log_keys(attempt=intent.attempt)
        result = _assign_on_provider(deps, intent, previous, ctx, student, ctx.lesson, email, traits)
        if result is not None:
            return result
    raise Busy("the assignment could not be completed, retry", retry_after=2)


def _wait_for_lease(deps: Deps, started: datetime) -> None:
    """Another request holds the intent: wait a step for its answer, within our limits."""
    waited = (deps.clock.now() - started).total_seconds()
    if waited > deps.settings.assign_lease_seconds:
        raise Busy("the assignment is being made by another request", retry_after=2)
    left = budget.remaining()
    if left is not None and left < _WAIT_STEP_SECONDS:
        raise Busy("the assignment is being made by another request", retry_after=1)
    deps.sleep(_WAIT_STEP_SECONDS)


def _take_over(deps: Deps, head: Attempt) -> Attempt | None:
    try:
        return persist(deps, head, head.evolve({"lease_until": _lease(deps)}))
    except VersionConflict:
        return None


def _lease(deps: Deps) -> float:
    return deps.clock.now().timestamp() + deps.settings.assign_lease_seconds


def _new_intent(
    deps: Deps,
    command: AssignCommand,
    ctx: Context,
    student: Student,
    kind: tuple[LessonType, ToolProvider],
    traits: ProviderTraits,
    email: str,
) -> tuple[Attempt, ProviderAccount | None]:
    assert ctx.lesson is not None
    lesson_type, provider = kind
    head = ctx.head
    now = deps.clock.now()
    previous_ids = list(head.previous_assignment_ids) if head else []
    if head is not None and head.assignment_id:
        previous_ids.append(head.assignment_id)
    intent = Attempt(
        student_id=student.id,
        lesson_id=ctx.lesson.id,
        attempt=head.attempt + 1 if head else 1,
        sourced_id=f"ear-{uuid.uuid4()}",
        line_item_id=f"eali-{uuid.uuid4()}",
        status=AttemptStatus.ASSIGNING,
        tool_provider=provider,
        lesson_type=lesson_type,
        skip_course_enrollment=command.skip_course_enrollment,
        requested_test_id=command.test_id,
        lease_until=_lease(deps),
        credentials_email=email,
        previous_assignment_ids=previous_ids,
        deadline=iso(now + timedelta(days=deps.settings.deadline_for(provider))),
        due_at=iso(
            now + timedelta(seconds=deps.settings.assign_lease_seconds + deps.settings.sweeper_grace_seconds)
        ),
        created_at=iso(now),
        updated_at=iso(now),
        version=(head.version + 1) if head else 1,
    )
    account = None
    if traits.service_sets_password and provider not in ctx.accounts:
        # Stored before the provider call, so a crash after the provider created the student
        # with this password cannot lose it.
        account = ProviderAccount(
            provider=provider,
            email=email,
            password_ciphertext=deps.cipher.encrypt(
                generate_password(), cipher_context(student.id, provider)
            ),
        )
    return intent, account


def _assign_on_provider(
    deps: Deps,
    intent: Attempt,
    previous: Attempt | None,
    ctx: Context,
    student: Student,
    lesson: Lesson,
    email: str,
    traits: ProviderTraits,
) -> AssignOutcome | None:
    provider = intent.tool_provider
    account = ctx.accounts.get(provider) if traits.service_sets_password else None
    password = None
    if account is not None and account.password_ciphertext:
        password = deps.cipher.decrypt(account.password_ciphertext, cipher_context(student.id, provider))
    request = AssignRequest(
        student_email=email,
        first_name=student.given_name or "Student",
        last_name=student.family_name or student.id,
        new_student_password=password,
        vendor_test_id=lesson.vendor_id,
        requested_test_id=intent.requested_test_id,
        subject=lesson.subject,
        grade_rank=grade_rank(lesson.grade) if lesson.grade is not None else None,
        line_item_sourced_id=intent.line_item_id,
        result_sourced_id=intent.sourced_id,
        exclude_assignment_ids=frozenset(intent.previous_assignment_ids),
        known_user_id=account.provider_user_id if account is not None else None,
    )
    try:
        with budget.reserving():
            assignment = deps.providers.get(provider).assign(request)
        _check_test_url(deps, provider, assignment.test_url)
    except (ProviderError, DeadlineExceeded) as error:
        _after_provider_error(deps, error, intent, previous, account)
        raise
    now = deps.clock.now()
    waiting = (
        deps.settings.callback_timeout_seconds
        if traits.workflow_wait is WorkflowWait.CALLBACK
        else deps.settings.first_wait
    )
    assignment_fields: dict[str, Any] = {
        "status": AttemptStatus.ASSIGNED,
        "lease_until": None,
        "assignment_id": assignment.assignment_id,
        "class_id": assignment.class_id,
        "test_id": assignment.test_id,
        "test_url": assignment.test_url,
        "provider_user_id": assignment.provider_user_id,
        "due_at": iso(now + timedelta(seconds=waiting + deps.settings.sweeper_grace_seconds)),
    }
    if account is not None:
        created = account.created_by_service
        account = account.evolve(
            {
                "provider_user_id": assignment.provider_user_id,
                "created_by_service": created if created is not None else assignment.created_student,
            }
        )
    # Started before the write so no crash can leave an assigned attempt without a workflow;
    # the workflow's first step waits, and the execution name makes a second start harmless.
    assignment_fields["workflow_started"] = _start_workflow(deps, intent.evolve(assignment_fields), traits)
    saved = _store_assignment(deps, intent, assignment_fields, account)
    if saved is None:
        return None  # our lease ran out and another request took over: read its result
    if account is not None:
        ctx.accounts[provider] = account
    return _outcome(deps, saved, ctx)


class _TakenOver(Exception):
    """Another request took our intent over (with a lease of its own): the intent is its now."""


def _store_assignment(
    deps: Deps, intent: Attempt, assignment_fields: dict[str, Any], account: ProviderAccount | None
) -> Attempt | None:
    """Store the assignment on our intent, or None if another request took the intent over.

    The workflow started just before may write to the intent first: a callback workflow's first
    step stores its task token there. That write is kept, and the assignment stored on top of
    it; only a request with a lease of its own can take the intent from us."""

    def store(current: Attempt) -> Attempt:
        if current.status is not AttemptStatus.ASSIGNING or current.lease_until != intent.lease_until:
            raise _TakenOver()
        return persist(deps, current, current.evolve(assignment_fields), account=account)

    try:
        saved = retry_on_conflict(deps, intent, store)
    except _TakenOver:
        return None
    return saved if saved.status is AttemptStatus.ASSIGNED else None  # (None: the intent is gone)


def _check_test_url(deps: Deps, provider: ToolProvider, test_url: str) -> None:
    """A test link clients may not get is a malformed provider answer (502): the assignment may
    exist on the provider, so the intent is kept as after any answer that cannot be used."""
    reason = deps.settings.links.refusal(test_url)
    if reason is not None:
        logger.warning("the provider's test link was refused", extra={"reason": reason})
        raise ProviderUnavailable(provider.value, f"malformed answer: test_url refused ({reason})")


def _after_provider_error(
    deps: Deps,
    error: ProviderError | DeadlineExceeded,
    intent: Attempt,
    previous: Attempt | None,
    account: ProviderAccount | None,
) -> None:
    if isinstance(error, ProviderError) and (error.created_user_id or error.creation_attempted) and account:
        # The student may now exist on the provider with our password: remember it, or a retry
        # would take them for a student who existed before and withhold the credentials.
        user_id = error.created_user_id or account.provider_user_id
        known = account.evolve({"provider_user_id": user_id, "created_by_service": True})
        deps.store.save_account(intent.student_id, known)
    if isinstance(error, ProviderRejected | CircuitOpen):
        # Certainly not assigned: the attempt is undone, as if the request never came.
        if intent.version == (previous.version + 1 if previous else 1):
            deps.store.abandon_attempt(intent, previous)
        return
    # Unreachable, timed out or out of time: the provider may have made the assignment — one
    # that writes back then writes to this intent's sourcedId. Keep the intent (same ids, same
    # password) and release its lease so the client's retry takes it over at once.
    with contextlib.suppress(VersionConflict):  # someone took it over already
        persist(deps, intent, intent.evolve({"lease_until": deps.clock.now().timestamp()}))


def _start_workflow(deps: Deps, attempt: Attempt, traits: ProviderTraits) -> bool:
    try:
        deps.workflow.start(attempt, traits.workflow_wait)
    except Exception:  # noqa: BLE001 - the sweeper starts it later; the assignment must not fail
        logger.exception("could not start the finalization workflow; the sweeper will")
        return False
    return True


def _ensure_workflow(deps: Deps, head: Attempt, traits: ProviderTraits) -> Attempt:
    if head.workflow_started or not _start_workflow(deps, head, traits):
        return head
    try:
        return persist(deps, head, head.evolve({"workflow_started": True}))
    except VersionConflict:
        return head


def _outcome(deps: Deps, attempt: Attempt, ctx: Context) -> AssignOutcome:
    account = ctx.accounts.get(attempt.tool_provider)
    return AssignOutcome(
        attempt=attempt, credentials=credentials_for(deps.cipher, attempt.student_id, account)
    )
