"""The Lambda entry wrapper of the functions that are not HTTP routes (workflow tasks, sweeper).

Kept apart from `api.http` so these functions start without the HTTP resolver and pydantic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import budget, wiring
from .observability import clear_log_keys, logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def task_handler(work: Handler) -> Handler:
    """Settings validated at cold start, fresh log keys and the invocation's time budget."""
    wiring.check_settings()

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        clear_log_keys()
        with budget.budget(budget.seconds_from_context(context)):
            return work(event, context)

    return handler
