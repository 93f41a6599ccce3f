"""The one logger and the metrics every module uses (Powertools; JSON and EMF to stdout).

Modules log through `logger` (never a stdlib logger of their own), so every line carries the
invocation's keys: the correlation id (the API Gateway request id) set by the handler, and the
student, lesson and attempt once a use case knows them (`append_log_keys`).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "external-tests")


def append_log_keys(**keys: Any) -> None:
    """Add keys to every later line of this invocation (thread-safe: the local stack and the
    tests run invocations on threads; the handler clears them at the start of each one)."""
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v is not None})


def clear_log_keys() -> None:
    logger.thread_safe_clear_keys()
