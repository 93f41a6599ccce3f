"""The commands: each a thin shell over a use case (`usecases.operations`) or the roster loader,
returning what to print and the exit code."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, TextIO

from ..domain.attempt import EnrollmentStatus
from ..ports import AttemptView
from ..roster_loader import build_items, read_roster_file
from ..usecases import operations
from . import render, roster_sync
from .progress import Progress
from .targets import Target

DONE, FAILED, USAGE, NOT_FOUND, REFUSED = 0, 1, 2, 3, 4

# `attempts list` flag → (the index view, only the overdue part of it)
VIEWS = {
    "stuck": (AttemptView.DUE, True),
    "failed-enrollment": (AttemptView.ENROLLMENT_FAILED, False),
    "expired": (AttemptView.EXPIRED, False),
}


class Refused(Exception):
    """Nothing to do, or not on this target (exit code 4)."""


@dataclass(frozen=True)
class Outcome:
    document: dict[str, Any]  # --json
    text: str
    code: int = DONE
    error: str | None = None  # the one line for stderr when the command did not succeed


def attempt_show(args: argparse.Namespace, target: Target, err: TextIO) -> Outcome:
    deps = target.deps()
    if args.result is not None:
        report = operations.show_result(deps, args.result)
    else:
        report = operations.show_attempt(deps, args.student, args.lesson, args.attempt)
    return Outcome(render.report_json(report), render.report_text(report))


def attempts_list(args: argparse.Namespace, target: Target, err: TextIO) -> Outcome:
    view, stuck_only = VIEWS[args.view]
    listing = operations.list_attempts(
        target.deps(), view, since=args.since, limit=args.limit, stuck_only=stuck_only
    )
    return Outcome(
        render.listing_json(args.view, listing.keys, args.since, args.limit),
        render.listing_text(args.view, listing.keys, args.limit),
    )


def attempt_redrive(args: argparse.Namespace, target: Target, err: TextIO) -> Outcome:
    done = operations.redrive(target.deps(), args.student, args.lesson)
    return Outcome(render.redrive_json(done), render.redrive_text(done))


def enrollment_retry(args: argparse.Namespace, target: Target, err: TextIO) -> Outcome:
    done = operations.retry_enrollment(target.deps(), args.student, args.lesson, args.attempt)
    outcome = Outcome(render.retry_json(done), render.retry_text(done))
    if done.attempt.enrollment is EnrollmentStatus.ENROLLED or done.redriven:
        return outcome
    state = done.attempt.enrollment.value if done.attempt.enrollment else "none"
    reason = done.attempt.enrollment_error or f"it is {state}"
    return Outcome(outcome.document, outcome.text, FAILED, f"the enrollment was not made: {reason}")


def roster_load(args: argparse.Namespace, target: Target, err: TextIO) -> Outcome:
    # The whole file is checked before the table is even read: a bad file changes nothing.
    doc = read_roster_file(args.file)
    items, _ = build_items(doc)
    if not target.table_holds_roster:
        raise Refused(
            f"{target.label} reads its roster from TimeBack (RosterSource=timeback): "
            "a roster file is not used there"
        )
    import boto3

    client = boto3.client("dynamodb")
    table = target.settings.table_name
    plan = roster_sync.plan(items, set(doc), roster_sync.read_roster_items(client, table))
    if not args.dry_run and plan.writes:
        roster_sync.apply(client, table, plan, Progress(plan.writes, err, "writing the roster"))
    return Outcome(
        render.roster_json(args.file, table, plan, args.dry_run),
        render.roster_text(args.file, table, plan, args.dry_run),
    )
