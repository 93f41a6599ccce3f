"""Starts and wakes the finalization workflow (Step Functions)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import ClientError

from ..config import Settings
from ..domain.attempt import Attempt
from ..observability import logger
from ..ports import ExecutionInfo
from ..providers.base import WorkflowWait
from . import aws


def execution_name(attempt: Attempt) -> str:
    """Deterministic per (student, lesson, attempt, generation): a repeated start is harmless.

    Hashed because ids are free text and execution names allow 80 [A-Za-z0-9-_] characters."""
    digest = hashlib.sha256(
        json.dumps([attempt.student_id, attempt.lesson_id, attempt.attempt]).encode()
    ).hexdigest()[:40]
    return f"att-{digest}-{attempt.attempt}-g{attempt.workflow_generation}"


class StepFunctionsWorkflow:
    client = aws.LazyClient("stepfunctions")

    def __init__(self, state_machine_arn: str, settings: Settings, client: Any | None = None) -> None:
        self.arn = state_machine_arn
        self.settings = settings
        self._client = client

    def execution_input(self, attempt: Attempt, wait: WorkflowWait) -> dict[str, Any]:
        waits = list(self.settings.waits)
        return {
            "student": attempt.student_id,
            "lesson": attempt.lesson_id,
            "attempt": attempt.attempt,
            "wait": wait.value,
            "waits": waits,
            "callbackTimeoutSeconds": max(1, self.settings.callback_timeout_seconds),
            "poll": {"step": 1, "waitSeconds": waits[0] if waits else 0},
        }

    def start(self, attempt: Attempt, wait: WorkflowWait) -> str:
        name = execution_name(attempt)
        try:
            self.client.start_execution(
                stateMachineArn=self.arn, name=name, input=json.dumps(self.execution_input(attempt, wait))
            )
        except ClientError as error:
            # Same name, same input: already started. That is the point of the name.
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
        return name

    def _execution_arn(self, attempt: Attempt) -> str:
        prefix = self.arn.replace(":stateMachine:", ":execution:")
        return f"{prefix}:{execution_name(attempt)}"

    def describe(self, attempt: Attempt) -> ExecutionInfo | None:
        try:
            answer = self.client.describe_execution(executionArn=self._execution_arn(attempt))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise
        return ExecutionInfo(
            name=str(answer.get("name") or execution_name(attempt)),
            status=str(answer.get("status")),
            started=_iso(answer.get("startDate")),
            stopped=_iso(answer.get("stopDate")),
            arn=answer.get("executionArn"),
        )

    def is_running(self, attempt: Attempt) -> bool:
        found = self.describe(attempt)
        return found is not None and found.status == "RUNNING"

    def stop(self, attempt: Attempt, cause: str) -> bool:
        if not self.is_running(attempt):
            return False
        try:
            self.client.stop_execution(executionArn=self._execution_arn(attempt), cause=cause[:200])
        except ClientError as error:
            # Stopping is tidiness, not correctness (a late execution's writes are versioned).
            logger.warning(
                "could not stop the execution", extra={"code": error.response.get("Error", {}).get("Code")}
            )
            return False
        return True

    def complete_callback(self, task_token: str, output: dict[str, Any]) -> bool:
        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            # The task already timed out or finished, or Step Functions is unreachable: the
            # poll loop (or the sweeper) takes it from there. Waking is an optimisation; the
            # result is already stored, so the caller must not fail because of it.
            logger.warning(
                "could not wake the workflow", extra={"code": error.response.get("Error", {}).get("Code")}
            )
            return False
        return True


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)
