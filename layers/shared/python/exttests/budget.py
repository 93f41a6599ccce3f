"""The time an invocation may still spend: Lambda's deadline minus a safety margin.

Each handler opens a budget from `context.get_remaining_time_in_millis()`; provider, platform
and AWS calls, their retries and lease waits ask `remaining()` and stop (raising
DeadlineExceeded or its provider form) when it is spent, so a request answers a clean IMS 503
before Lambda or API Gateway cut it off. Outside a budget (scripts, tests) nothing is bounded.

A context variable, not a global: the local stack runs many invocations in one process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .errors import DeadlineExceeded

# Absolute time.monotonic() at which the budget is spent; None = unbounded.
_deadline: ContextVar[float | None] = ContextVar("exttests_deadline", default=None)

# What a handler keeps back for answering (serializing, logging, the response) after the work.
DEFAULT_MARGIN_SECONDS = 1.0


def remaining() -> float | None:
    """Seconds left in the current budget (never negative), or None when unbounded."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def spent() -> bool:
    left = remaining()
    return left is not None and left <= 0.0


def check(what: str = "the request") -> None:
    """Raise DeadlineExceeded when the budget is spent (call before starting a piece of work)."""
    if spent():
        raise DeadlineExceeded(f"{what} ran out of time, retry")


def bounded(seconds: float) -> float:
    """`seconds`, shortened to what is left of the budget."""
    left = remaining()
    return seconds if left is None else min(seconds, left)


@contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Run the block with `seconds` to spend (None: unbounded). Nested budgets only shrink."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + max(0.0, seconds)
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_from_context(context: Any, margin: float = DEFAULT_MARGIN_SECONDS) -> float | None:
    """The budget a Lambda invocation has: its remaining time minus `margin` (None without a
    context that knows its deadline)."""
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(get_remaining):
        return None
    try:
        millis = float(get_remaining())
    except (TypeError, ValueError):
        return None
    return max(0.0, millis / 1000.0 - margin)


# Kept back from a provider or platform call for recording its outcome (releasing a lease,
# keeping an intent): the writes after a call that ran out of time must still fit.
RECORDING_SECONDS = 1.0


@contextmanager
def reserving(seconds: float = RECORDING_SECONDS) -> Iterator[None]:
    """Run the block with `seconds` of the budget kept back for what must follow it."""
    left = remaining()
    with budget(None if left is None else max(0.0, left - seconds)):
        yield
