"""What the commands print: a JSON document for scripts (stable camelCase keys, ISO-8601 times,
null when unknown) and the same facts as text for people. Ids come from the table, which holds
whatever a roster or a request put there: text output escapes anything unprintable so that no
id can move the cursor or forge a line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain.attempt import Attempt
from ..ports import AttemptKey, ExecutionInfo
from ..usecases.operations import AttemptReport, EnrollmentRetry, Redrive
from .roster_sync import RosterPlan

NONE = "-"


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True)


def printable(value: object) -> str:
    if value is None:
        return NONE
    text = str(value)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    numeric = [
        all(isinstance(row[n], int | float) or row[n] is None for row in rows) for n in range(len(headers))
    ]
    cells = [list(headers), *([printable(cell) for cell in row] for row in rows)]
    widths = [max(len(row[n]) for row in cells) for n in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = (
            c.rjust(w) if right else c.ljust(w) for c, w, right in zip(row, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in cells)


def fields(pairs: Sequence[tuple[str, object]], indent: str = "  ") -> str:
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{indent}{name.ljust(width)}  {printable(value)}" for name, value in pairs)


# --- attempt show -------------------------------------------------------------------------------


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "student": attempt.student_id,
        "lesson": attempt.lesson_id,
        "attempt": attempt.attempt,
        "resultId": attempt.sourced_id,
        "status": attempt.status.value,
        "finalized": attempt.finalized,
        "toolProvider": attempt.tool_provider.value,
        "lessonType": attempt.lesson_type.value,
        "assignmentId": attempt.assignment_id,
        "testId": attempt.test_id,
        "testUrl": attempt.test_url,
        "scoreStatus": attempt.score_status.value,
        "score": attempt.score,
        "accuracy": attempt.accuracy,
        "correctQuestions": attempt.correct_questions,
        "totalQuestions": attempt.total_questions,
        "finalizedAt": attempt.finalized_at,
        "xp": attempt.xp,
        "multiplier": attempt.multiplier,
        "enrollment": attempt.enrollment.value if attempt.enrollment else None,
        "enrolledCourseId": attempt.enrolled_course_id,
        "enrollmentId": attempt.enrollment_id,
        "enrollmentError": attempt.enrollment_error,
        "enrollmentDeadline": attempt.enrollment_deadline,
        "skipCourseEnrollment": attempt.skip_course_enrollment,
        "deadline": attempt.deadline,
        "workflowGeneration": attempt.workflow_generation,
        "workflowStarted": attempt.workflow_started,
        "waitingForWriteBack": attempt.task_token is not None,
        "dueAt": attempt.due_at,
        "lastError": attempt.last_error,
        "createdAt": attempt.created_at,
        "updatedAt": attempt.updated_at,
        "version": attempt.version,
    }


def execution_json(execution: ExecutionInfo | None) -> dict[str, Any] | None:
    if execution is None:
        return None
    return {
        "name": execution.name,
        "status": execution.status,
        "started": execution.started,
        "stopped": execution.stopped,
        "arn": execution.arn,
    }


def report_json(report: AttemptReport) -> dict[str, Any]:
    current = report.history[-1].attempt if report.history else report.attempt.attempt
    return {
        "attempt": attempt_json(report.attempt),
        "current": report.attempt.attempt == current,
        "history": [attempt_json(a) for a in report.history],
        "workflow": execution_json(report.execution),
        "enrollmentRecord": report.enrollment,
    }


def _score(attempt: Attempt) -> str:
    if attempt.score is None:
        return attempt.score_status.value
    accuracy = NONE if attempt.accuracy is None else f"{attempt.accuracy:g}%"
    return (
        f"{attempt.score_status.value}: {attempt.score:g}, accuracy {accuracy}, "
        f"{attempt.correct_questions}/{attempt.total_questions} questions correct"
    )


def _xp(attempt: Attempt) -> str:
    if attempt.xp is None:
        return NONE
    multiplier = "" if attempt.multiplier is None else f" (multiplier {attempt.multiplier:g})"
    return f"{attempt.xp:g}{multiplier}"


def _enrollment(attempt: Attempt) -> str:
    state = attempt.enrollment.value if attempt.enrollment else NONE
    if attempt.enrollment_error:
        return f"{state}: {attempt.enrollment_error}"
    if attempt.enrolled_course_id:
        return f"{state} ({attempt.enrolled_course_id})"
    return state


def report_text(report: AttemptReport) -> str:
    document = report_json(report)
    a = report.attempt
    which = "current" if document["current"] else "archived"
    parts = [
        f"{printable(a.student_id)} on {printable(a.lesson_id)}: attempt {a.attempt} ({which})",
        fields(
            [
                ("status", a.status.value),
                ("provider", f"{a.tool_provider.value} ({a.lesson_type.value})"),
                ("result id", a.sourced_id),
                ("assignment", a.assignment_id),
                ("test", a.test_id),
                ("score", _score(a)),
                ("xp", _xp(a)),
                ("finalized at", a.finalized_at),
                ("enrollment", _enrollment(a)),
                ("deadline", a.deadline),
                ("due at", a.due_at),
                ("last error", a.last_error),
                ("created", a.created_at),
                ("updated", a.updated_at),
            ]
        ),
        "",
        f"workflow (generation {a.workflow_generation})",
    ]
    execution = report.execution
    if execution is None:
        parts.append("  never started" if not a.workflow_started else "  no execution found")
    else:
        parts.append(
            fields(
                [
                    ("execution", execution.name),
                    ("status", execution.status),
                    ("started", execution.started),
                    ("stopped", execution.stopped),
                ]
            )
        )
    parts += ["", "history"]
    rows = [
        (
            h.attempt,
            h.status.value,
            h.score,
            h.accuracy,
            h.enrollment.value if h.enrollment else None,
            h.finalized_at,
        )
        for h in report.history
    ]
    parts.append(
        _indent(table(["ATTEMPT", "STATUS", "SCORE", "ACCURACY", "ENROLLMENT", "FINALIZED AT"], rows))
    )
    parts += ["", "enrollment record"]
    record = report.enrollment
    if record is None:
        parts.append("  none")
    else:
        parts.append(
            fields(
                [
                    ("sourcedId", record.get("sourcedId")),
                    ("course", (record.get("course") or {}).get("sourcedId")),
                    ("status", record.get("status")),
                    ("begin date", record.get("beginDate")),
                    ("modified", record.get("dateLastModified")),
                ]
            )
        )
    return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


# --- attempts list ------------------------------------------------------------------------------

# View flag → (what the list shows, what its time column means).
VIEW_TITLES = {
    "stuck": ("stuck attempts (workflow overdue)", "DUE AT"),
    "failed-enrollment": ("attempts whose enrollment failed", "FAILED AT"),
    "expired": ("expired attempts", "EXPIRED AT"),
}


def listing_json(view: str, keys: Sequence[AttemptKey], since: datetime | None, limit: int) -> dict[str, Any]:
    return {
        "view": view,
        "since": since.isoformat() if since else None,
        "limit": limit,
        "attempts": [
            {"student": k.student, "lesson": k.lesson, "attempt": k.attempt, "at": k.at} for k in keys
        ],
    }


def listing_text(view: str, keys: Sequence[AttemptKey], limit: int) -> str:
    title, at = VIEW_TITLES[view]
    if not keys:
        return f"no {title}"
    more = f" (the first {limit})" if len(keys) >= limit else ""
    rows = [(k.student, k.lesson, "current" if k.attempt is None else k.attempt, k.at) for k in keys]
    return f"{len(keys)} {title}, oldest first{more}\n" + table(["STUDENT", "LESSON", "ATTEMPT", at], rows)


# --- attempt redrive, enrollment retry ----------------------------------------------------------


def _key_json(attempt: Attempt) -> dict[str, Any]:
    return {"student": attempt.student_id, "lesson": attempt.lesson_id, "attempt": attempt.attempt}


def _key_text(attempt: Attempt) -> str:
    return f"{printable(attempt.student_id)} on {printable(attempt.lesson_id)}, attempt {attempt.attempt}"


def redrive_json(done: Redrive) -> dict[str, Any]:
    a = done.attempt
    return {
        **_key_json(a),
        "execution": done.execution,
        "workflowGeneration": a.workflow_generation,
        "stoppedPrevious": done.stopped_previous,
    }


def redrive_text(done: Redrive) -> str:
    a = done.attempt
    previous = (
        "the previous one was stopped" if done.stopped_previous else "no previous execution was running"
    )
    return (
        f"{_key_text(a)}: workflow restarted as {done.execution} "
        f"(generation {a.workflow_generation}; {previous})"
    )


def retry_json(done: EnrollmentRetry) -> dict[str, Any]:
    a = done.attempt
    return {
        **_key_json(a),
        "enrollment": a.enrollment.value if a.enrollment else None,
        "enrolledCourseId": a.enrolled_course_id,
        "enrollmentId": a.enrollment_id,
        "enrollmentError": a.enrollment_error,
        "redrivenExecution": done.redriven,
    }


def retry_text(done: EnrollmentRetry) -> str:
    a = done.attempt
    who = _key_text(a)
    if done.redriven:
        return (
            f"{who}: enrollment still pending (the platform did not take it); "
            f"workflow {done.redriven} keeps retrying"
        )
    return f"{who}: enrollment {_enrollment(a)}"


# --- roster load --------------------------------------------------------------------------------

SHOWN_IDS = 20


def roster_json(source: str, table_name: str, roster: RosterPlan, dry_run: bool) -> dict[str, Any]:
    return {
        "file": source,
        "table": table_name,
        "dryRun": dry_run,
        "written": 0 if dry_run else len(roster.puts),
        "deleted": 0 if dry_run else len(roster.deletes),
        "kinds": {
            kind: {
                "inFile": change.in_file,
                "added": len(change.added),
                "updated": len(change.updated),
                "unchanged": change.unchanged,
                "removed": len(change.removed),
                "removedIds": change.removed,
            }
            for kind, change in roster.changes.items()
        },
    }


def roster_text(source: str, table_name: str, roster: RosterPlan, dry_run: bool) -> str:
    rows: list[tuple[object, ...]] = []
    for kind, change in roster.changes.items():
        if change.in_file:
            rows.append((kind, len(change.added), len(change.updated), change.unchanged, len(change.removed)))
        else:
            rows.append((kind, NONE, NONE, NONE, "not in the file: left as it is"))
    if dry_run:
        outcome = f"dry run: nothing written ({roster.writes} write(s) would be made)"
    else:
        outcome = f"{len(roster.puts)} item(s) written, {len(roster.deletes)} deleted"
    parts = [
        f"roster {printable(source)} -> table {printable(table_name)}: {outcome}",
        table(["KIND", "ADDED", "UPDATED", "UNCHANGED", "REMOVED"], rows),
    ]
    for kind, change in roster.changes.items():
        if change.removed:
            shown = ", ".join(printable(i) for i in change.removed[:SHOWN_IDS])
            rest = len(change.removed) - SHOWN_IDS
            verb = "would be removed" if dry_run else "removed"
            parts.append(f"{kind} {verb}: {shown}" + (f" and {rest} more" if rest > 0 else ""))
    return "\n".join(parts)
