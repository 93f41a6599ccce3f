"""A workflow that records starts (a repeated start of one execution is harmless, as in Step
Functions), knows which executions are running and records the callbacks it is woken by."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from exttests.adapters.step_functions import execution_name
from exttests.domain.attempt import Attempt
from exttests.ports import ExecutionInfo
from exttests.providers.base import WorkflowWait


class FakeWorkflow:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: dict[str, WorkflowWait] = {}  # execution name → how it waits
        self.start_calls = 0
        self.running: set[str] = set()
        self.callbacks: list[tuple[str, dict[str, Any]]] = []
        self.fail_starts = False  # Step Functions refuses (the sweeper must restart later)
        self.refuse_callbacks = False  # the task token timed out or the service is unreachable
        self.stopped: list[tuple[str, str]] = []
        # The execution's first step, run as soon as it starts (before the starter goes on).
        self.first_step: Callable[[Attempt], None] | None = None

    def start(self, attempt: Attempt, wait: WorkflowWait) -> str:
        name = execution_name(attempt)
        with self._lock:
            self.start_calls += 1
            if self.fail_starts:
                raise ConnectionError("Step Functions is unavailable")
            self.started.setdefault(name, wait)
            self.running.add(name)
        if self.first_step is not None:
            self.first_step(attempt)
        return name

    def is_running(self, attempt: Attempt) -> bool:
        with self._lock:
            return execution_name(attempt) in self.running

    def describe(self, attempt: Attempt) -> ExecutionInfo | None:
        name = execution_name(attempt)
        with self._lock:
            if name not in self.started:
                return None
            return ExecutionInfo(name=name, status="RUNNING" if name in self.running else "SUCCEEDED")

    def stop(self, attempt: Attempt, cause: str) -> bool:
        name = execution_name(attempt)
        with self._lock:
            if name not in self.running:
                return False
            self.running.discard(name)
            self.stopped.append((name, cause))
            return True

    def stop_all(self) -> None:
        with self._lock:
            self.running.clear()

    def complete_callback(self, task_token: str, output: dict[str, Any]) -> bool:
        with self._lock:
            if self.refuse_callbacks:
                return False
            self.callbacks.append((task_token, output))
            return True
