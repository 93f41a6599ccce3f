"""Errors the use cases raise. The HTTP layer maps each class to one status (and the IMS minor
code that goes with the status); the state machine's Retry and Catch match on the class names.

Kept free of HTTP so the workflow tasks and the sweeper can raise and catch the same errors.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service answers on purpose (never a 500)."""

    status = 500
    # Seconds a client should wait before retrying; sent as Retry-After when set.
    retry_after: int | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigError(Exception):
    """A setting is missing or malformed: the function (or `make run`) must not start."""


# Deliberately alike: one two-line class per status (and local/auth.py declares the local
# authorizer's the same way); a class per error is what `except` and the state machine's
# Catch match on.
class BadRequest(ServiceError):
    status = 400


class NotFound(ServiceError):
    status = 404


class PayloadTooLarge(ServiceError):
    status = 413


class UnsupportedMediaType(ServiceError):
    status = 415


class Unprocessable(ServiceError):
    status = 422


class Busy(ServiceError):
    """The request collides with work in progress on the same attempt; the client should retry."""

    status = 429

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConflictRetryExhausted(Busy):
    """Optimistic locking lost too many times in a row."""


class DeadlineExceeded(ServiceError):
    """The invocation's time budget ran out before the work could finish (503 + Retry-After).

    Raised before Lambda's or API Gateway's own limit hits, with whatever was recorded left in
    a state that the next request, the workflow's retry or the sweeper resumes."""

    status = 503

    def __init__(self, message: str = "the request ran out of time, retry", retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- providers and the platform -------------------------------------------------------------


class ProviderError(ServiceError):
    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider
        # Set when the failing call had already created the student on the provider (with the
        # password the service generated), so the service still knows it can hand it out.
        self.created_user_id: str | None = None
        # Set when the failing call tried to create the student (nobody had that email before).
        self.creation_attempted = False


class ProviderRejected(ProviderError):
    """The provider answered 4xx: the request itself is wrong for it (422 naming the provider)."""

    status = 422

    def __init__(self, provider: str, reason: str, provider_status: int | None = None) -> None:
        super().__init__(provider, f"{provider} rejected the request: {reason}")
        self.reason = reason
        self.provider_status = provider_status


class ProviderUnavailable(ProviderError):
    """5xx, timeouts or connection errors after retries (502). Retryable; the outcome of a
    create that was sent is unknown."""

    status = 502

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(provider, f"{provider} is unavailable: {reason}")
        self.reason = reason


class ProviderDeadlineExceeded(ProviderUnavailable):
    """A provider call was cut short, or not made, because the invocation's time budget ran out
    (503 + Retry-After). Like ProviderUnavailable, a create that was sent has an unknown outcome."""

    status = 503

    def __init__(self, provider: str, retry_after: int = 1) -> None:
        super().__init__(provider, "the request ran out of time")
        self.retry_after = retry_after


class CircuitOpen(ProviderUnavailable):
    """The provider's circuit breaker is open: fail fast (503 + Retry-After). Retryable."""

    status = 503

    def __init__(self, provider: str, retry_after: int) -> None:
        super().__init__(provider, f"circuit open, retry after {retry_after}s")
        self.retry_after = retry_after


# What may pass if the caller waits: an outage, a busy attempt, a spent time budget.
TRANSIENT_ERRORS: tuple[type[ServiceError], ...] = (ProviderUnavailable, Busy, DeadlineExceeded)
