"""The attempts of one logical call: urllib3's `Retry` with our rules, and the time budget.

urllib3 repeats a request inside one `session.send`, so what it needs to know about the call
(whether it is a create, how to sleep, what is left of the budget, where to report) travels in
a context variable that `HttpClient.request` sets for the duration of the send.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from requests import exceptions as rexc
from urllib3 import exceptions as u3exc
from urllib3.response import BaseHTTPResponse
from urllib3.util import Retry, Timeout

from exttests import budget
from exttests.errors import ProviderDeadlineExceeded
from exttests.providers.answers import parse_retry_after

if TYPE_CHECKING:
    from exttests.providers.http import HttpSettings, Timing

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Answers that prove the provider did not act on the request, so even a create may be repeated.
NOT_ACTED_STATUSES = frozenset({429, 503})
# An attempt with less time than this left cannot finish a TLS handshake and an answer, so it
# is not started (nor is a wait that would leave less than this for the attempt after it).
MIN_ATTEMPT_SECONDS = 0.25
# Error kinds of a request that surely never reached the provider.
NEVER_SENT = frozenset({"connect-timeout", "unreachable"})


def time_for_an_attempt(wait: float = 0.0) -> bool:
    """Whether the budget covers `wait` seconds and then an attempt (always, outside a budget)."""
    left = budget.remaining()
    return left is None or left >= wait + MIN_ATTEMPT_SECONDS


@dataclass
class LogicalCall:
    """One `HttpClient.request` in progress, seen by the retry policy on the shared session."""

    provider: str
    method: str
    template: str
    idempotent: bool
    settings: HttpSettings
    timing: Timing
    report: Callable[[LogicalCall, int | str, float], None]
    attempts: int = 1
    attempt_started: float = field(default_factory=time.perf_counter)

    def attempt_ended(self, outcome: int | str) -> None:
        now = time.perf_counter()
        self.report(self, outcome, (now - self.attempt_started) * 1000)
        self.attempt_started = now

    def attempt_timeout(self) -> Timeout:
        """Connect and read timeouts for the attempt about to start, within the budget."""
        if not time_for_an_attempt():
            raise ProviderDeadlineExceeded(self.provider)
        self.attempt_started = time.perf_counter()
        return Timeout(
            connect=budget.bounded(self.settings.connect_timeout),
            read=budget.bounded(self.settings.read_timeout),
            total=budget.remaining(),
        )

    def wait(self, seconds: float) -> None:
        """Sleep before the next attempt, unless the budget cannot cover the wait and an attempt."""
        if not time_for_an_attempt(seconds):
            raise ProviderDeadlineExceeded(self.provider)
        if seconds > 0:
            self.timing.sleep(seconds)


current_call: ContextVar[LogicalCall | None] = ContextVar("exttests_http_call", default=None)


def _active_call() -> LogicalCall:
    call = current_call.get()
    if call is None:
        # The sessions are private to HttpClient, which always sets the call first.
        raise RuntimeError("a provider session was used outside HttpClient.request")
    return call


class AttemptTimeout(Timeout):
    """urllib3 clones the request's Timeout at the start of every attempt, retries included:
    the clone is where each attempt gets its budget-bounded timeouts (or is not started)."""

    def __init__(self, call: LogicalCall) -> None:
        super().__init__(connect=call.settings.connect_timeout, read=call.settings.read_timeout)
        self._call = call

    def clone(self) -> Timeout:
        return self._call.attempt_timeout()


class RetryPolicy(Retry):
    """urllib3's Retry with our rules: a create is repeated only when the provider surely did
    not act (connection never made, 429, 503), waits go through the client's `Timing` and the
    time budget, and every retried attempt is reported."""

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> Self:
        return cls(
            total=settings.max_attempts - 1,
            # Connection errors are retried for any call: the request never left.
            connect=None,
            read=None,
            status=None,
            # TLS and other errors are configuration, not weather.
            other=0,
            # Redirects are never followed (requests is called with allow_redirects=False).
            redirect=0,
            status_forcelist=RETRYABLE_STATUSES,
            # Whether a call may be repeated is decided per call, not by its method.
            allowed_methods=None,
            backoff_factor=settings.backoff_base,
            backoff_max=settings.backoff_cap,
            # The last answer is returned so that the client words the error itself.
            raise_on_status=False,
            respect_retry_after_header=True,
        )

    def _is_method_retryable(self, method: str) -> bool:
        # urllib3 asks this before repeating a request after a read error.
        return _active_call().idempotent

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code not in RETRYABLE_STATUSES:
            return False
        return _active_call().idempotent or status_code in NOT_ACTED_STATUSES

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        retried = super().increment(*args, **kwargs)
        # Reached only when another attempt follows; the last one is reported by the client.
        call = _active_call()
        last = retried.history[-1]
        call.attempt_ended(last.status if last.status is not None else error_kind(last.error))
        call.attempts += 1
        return retried

    def get_backoff_time(self) -> float:
        # Full jitter: rand * min(cap, base * 2 ** (attempt - 1)), from the first retry on.
        ceiling = min(self.backoff_max, self.backoff_factor * (2 ** (len(self.history) - 1)))
        return _active_call().timing.rand() * ceiling

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        call = _active_call()
        retry_after = None
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), call.timing.clock())
        if retry_after is None:
            call.wait(self.get_backoff_time())
        else:
            call.wait(min(retry_after, call.settings.retry_after_cap))


_NETWORK_ERRORS = (rexc.ConnectionError, rexc.Timeout, rexc.ChunkedEncodingError, rexc.ContentDecodingError)


def error_kind(exc: BaseException | None) -> str:
    """ "connect-timeout" or "unreachable" (the request never left), "read-timeout" or
    "dropped" (it may have reached the provider), "error" (an unusable request, not the
    network). Takes requests' exceptions and the urllib3 errors of a Retry's history."""
    if isinstance(exc, rexc.RequestException) and not isinstance(exc, _NETWORK_ERRORS):
        return "error"
    if isinstance(exc, rexc.ConnectTimeout):
        return "connect-timeout"
    if isinstance(exc, rexc.ReadTimeout):
        return "read-timeout"
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        # NewConnectionError is a ConnectTimeoutError too: check it first.
        if isinstance(item, u3exc.NewConnectionError | ConnectionRefusedError):
            return "unreachable"
        if isinstance(item, u3exc.ConnectTimeoutError):
            return "connect-timeout"
        if isinstance(item, u3exc.ReadTimeoutError):
            return "read-timeout"
        if isinstance(item, u3exc.ProtocolError):
            return "dropped"
        if isinstance(item, BaseException):
            stack.extend(item.args)
            stack.extend((item.__cause__, item.__context__, getattr(item, "reason", None)))
    # Unknown: it may have been sent, which is the safe assumption for a create.
    return "dropped"
