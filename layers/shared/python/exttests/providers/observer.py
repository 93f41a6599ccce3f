"""Hooks for metrics and tracing: one process-wide observer told about every provider exchange.

The default does nothing; the service installs its own with `set_observer` at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from exttests.observability import logger


class HttpObserver(Protocol):
    """Paths are templates ("/users/{id}"): never ids, emails or secrets."""

    def call(
        self, provider: str, method: str, path_template: str, status_or_error: int | str, elapsed_ms: float
    ) -> None:
        """One attempt ended, with an HTTP status or an error kind: "connect-timeout",
        "unreachable", "read-timeout", "dropped" or "error"."""

    def call_failed(self, provider: str) -> None:
        """A logical call (all its attempts) ended in ProviderUnavailable or a deadline."""

    def circuit_opened(self, provider: str) -> None:
        """The provider's circuit breaker opened: calls fail fast until its cool-down ends."""


class _Unobserved:
    def call(
        self, provider: str, method: str, path_template: str, status_or_error: int | str, elapsed_ms: float
    ) -> None:
        return None

    def call_failed(self, provider: str) -> None:
        return None

    def circuit_opened(self, provider: str) -> None:
        return None


_observer: HttpObserver = _Unobserved()


def set_observer(observer: HttpObserver | None) -> None:
    """Install the process-wide observer (None: back to the default that does nothing)."""
    global _observer
    _observer = observer if observer is not None else _Unobserved()


def notify(event: Callable[[HttpObserver], None]) -> None:
    # Metrics and tracing must never turn a provider answer into a failure.
    try:
        event(_observer)
    except Exception:
        logger.warning("the http observer failed", exc_info=True)
