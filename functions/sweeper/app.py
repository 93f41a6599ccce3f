"""Scheduled sweeper: restarts workflows nobody is looking after and expires overdue attempts."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from exttests import wiring
from exttests.observability import logger
from exttests.usecases.workflow_tasks import sweep


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = sweep(wiring.deps(), limit=int(os.environ.get("SWEEPER_BATCH_SIZE", "100")))
    logger.info("sweep done", extra={"examined": report.examined, "restarted": len(report.restarted)})
    return asdict(report)
