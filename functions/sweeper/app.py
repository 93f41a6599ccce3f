"""Scheduled sweeper: restarts workflows nobody is looking after and expires overdue attempts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from exttests import wiring
from exttests.invocation import task_handler
from exttests.observability import logger
from exttests.usecases.workflow_tasks import sweep


def sweep_now(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = sweep(wiring.deps())
    logger.info("sweep done", extra={"examined": report.examined, "restarted": len(report.restarted)})
    return asdict(report)


handler = task_handler(sweep_now)
