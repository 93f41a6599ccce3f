"""X-Ray subsegments (Powertools Tracer) around provider and platform calls.

Only inside a traced Lambda invocation: locally and in tests nothing is imported or recorded.
A subsegment carries the provider, the method, the path template (never ids, bodies, headers,
tokens or passwords) and the outcome.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_tracer: Any = None


def enabled() -> bool:
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true"):
        return False
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("_X_AMZN_TRACE_ID"))


def _provider() -> Any:
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer  # imports the X-Ray SDK: only when tracing

        _tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "external-tests")
    return _tracer.provider


@contextmanager
def subsegment(name: str, **annotations: str) -> Iterator[Any]:
    """A subsegment named `name` with the given annotations; yields it (None when not tracing)."""
    if not enabled():
        yield None
        return
    with _provider().in_subsegment(name) as segment:
        for key, value in annotations.items():
            segment.put_annotation(key, value)
        yield segment
