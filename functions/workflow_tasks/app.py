"""The finalization workflow's Lambda tasks (invoked by Step Functions with {"task": ...}).

Errors are raised, not returned: their class names (ProviderUnavailable, CircuitOpen, Busy...)
are what the state machine's Retry and Catch match on.
"""

from __future__ import annotations

from typing import Any

from exttests import wiring
from exttests.errors import BadRequest
from exttests.invocation import task_handler
from exttests.usecases import workflow_tasks as tasks


def _key(event: dict[str, Any]) -> tuple[str, str, int]:
    try:
        return str(event["student"]), str(event["lesson"]), int(event["attempt"])
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest(f"workflow task input is missing {error}") from error


def run_task(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = wiring.deps()
    task = event.get("task")
    student, lesson, attempt = _key(event)
    if task == "poll":
        waits = [int(w) for w in event.get("waits") or []]
        return tasks.poll(deps, student, lesson, attempt, int(event.get("step") or 0), waits)
    if task == "enroll":
        return tasks.enroll(deps, student, lesson, attempt, int(event.get("step") or 0))
    if task == "register_callback":
        return tasks.register_callback(deps, student, lesson, attempt, str(event["taskToken"]))
    if task == "record_failure":
        return tasks.record_failure(deps, student, lesson, attempt, event.get("error"))
    raise BadRequest(f"unknown workflow task '{task}'")


handler = task_handler(run_task)
