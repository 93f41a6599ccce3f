"""HTTP core shared by the provider adapters: timeouts, retries, circuit breaker, error mapping.

Everything that must survive between invocations of a warm Lambda container (sessions,
breakers, tokens) lives in module-level registries; `reset_state()` clears them for tests.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import requests
from requests import exceptions as rexc
from urllib3 import exceptions as u3exc

from exttests.errors import CircuitOpen, ProviderRejected, ProviderUnavailable

logger = logging.getLogger("exttests.providers")

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Rand = Callable[[], float]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# A gateway answers 502/504 when it gave up waiting, which may be after the upstream
# already performed the request: for a create that is "outcome unknown", not "retry".
_AMBIGUOUS_STATUSES = frozenset({502, 504})
_REASON_MAX = 200


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 4.0
    retry_after_cap: float = 10.0
    breaker_failure_threshold: int = 5
    breaker_cooldown: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.breaker_failure_threshold < 1:
            raise ValueError("breaker_failure_threshold must be at least 1")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ValueError("timeouts must be positive")


class OutcomeUnknown(ProviderUnavailable):
    """A non-idempotent call may or may not have taken effect (read timeout, gateway 502/504).

    Adapters catch it to look up whether the create happened instead of repeating it;
    uncaught, it is an ordinary ProviderUnavailable.
    """


# --- circuit breaker -------------------------------------------------------------------


class CircuitBreaker:
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"

    def __init__(self, provider: str, failure_threshold: int = 5, cooldown: float = 30.0) -> None:
        self.provider = provider
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.state = self.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._lock = threading.Lock()

    def before_call(self, now: float) -> None:
        """Raise CircuitOpen while open; after the cool-down let calls through as trials."""
        with self._lock:
            self._raise_if_open(now)
            if self.state == self.OPEN:
                self.state = self.HALF_OPEN

    def check(self, now: float) -> None:
        """Raise CircuitOpen while open, without using up a half-open trial."""
        with self._lock:
            self._raise_if_open(now)

    def _raise_if_open(self, now: float) -> None:
        if self.state != self.OPEN:
            return
        remaining = self.opened_at + self.cooldown - now
        if remaining > 0:
            raise CircuitOpen(self.provider, retry_after=max(1, math.ceil(remaining)))

    def record_success(self) -> None:
        with self._lock:
            self.state = self.CLOSED
            self.failures = 0

    def record_failure(self, now: float) -> None:
        with self._lock:
            self.failures += 1
            if self.state == self.HALF_OPEN or self.failures >= self.failure_threshold:
                if self.state != self.OPEN:
                    logger.warning("%s circuit opened after %d failures", self.provider, self.failures)
                self.state = self.OPEN
                self.opened_at = now


_registry_lock = threading.Lock()
_breakers: dict[str, CircuitBreaker] = {}
_sessions: dict[str, requests.Session] = {}


def breaker_for(provider: str, settings: HttpSettings) -> CircuitBreaker:
    with _registry_lock:
        breaker = _breakers.get(provider)
        if breaker is None:
            breaker = _breakers[provider] = CircuitBreaker(provider)
        # Configuration is per deployment, so the latest settings simply win.
        breaker.failure_threshold = settings.breaker_failure_threshold
        breaker.cooldown = settings.breaker_cooldown
        return breaker


def session_for(provider: str) -> requests.Session:
    with _registry_lock:
        session = _sessions.get(provider)
        if session is None:
            session = _sessions[provider] = requests.Session()
        return session


class TokenCache:
    """Process-wide token store so a warm container skips the login round trip."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> tuple[str, float] | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: str, token: str, obtained_at: float) -> None:
        with self._lock:
            self._tokens[key] = (token, obtained_at)

    def discard(self, key: str, token: str) -> None:
        # Only drop the token that failed: another caller may already have stored a fresh one.
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current[0] == token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


token_cache = TokenCache()


def reset_breakers() -> None:
    with _registry_lock:
        _breakers.clear()


def reset_state() -> None:
    """Forget breakers, sessions and cached tokens (tests)."""
    with _registry_lock:
        _breakers.clear()
        for session in _sessions.values():
            session.close()
        _sessions.clear()
    token_cache.clear()


# --- payload helpers -------------------------------------------------------------------


def malformed(provider: str, what: str) -> ProviderUnavailable:
    return ProviderUnavailable(provider, f"malformed response: {what}")


def parse_json(provider: str, response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise malformed(provider, f"{response.request.method} {_path_of(response)} is not JSON") from None


def unwrap(payload: Any) -> Any:
    """Accept both `{"result": X}` and bare `X`."""
    if isinstance(payload, dict) and "result" in payload:
        return payload["result"]
    return payload


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def rejection_reason(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """The provider's own error text when it gave one, else a short generic one."""
    reason: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    reason = _reason_from(body, depth=0)
    if not reason:
        reason = f"HTTP {response.status_code}"
    reason = " ".join(redact(reason, secrets).split())
    return reason[:_REASON_MAX]


def _reason_from(body: Any, depth: int) -> str | None:
    if depth > 3:
        return None
    if isinstance(body, str):
        return body or None
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    code_text = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    message: str | None = None
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            message = value
            break
        if isinstance(value, dict):
            message = _reason_from(value, depth + 1)
            if message:
                break
    if message is None and "result" in body:
        return _reason_from(body["result"], depth + 1)
    if code_text and message and code_text not in message:
        return f"{code_text}: {message}"
    return message or code_text


def _path_of(response: requests.Response) -> str:
    url = response.request.path_url if response.request is not None else ""
    return url.split("?", 1)[0]


# --- the client ------------------------------------------------------------------------


def _may_have_been_sent(exc: BaseException) -> bool:
    """False only when the request surely never reached the provider."""
    if isinstance(exc, rexc.ConnectTimeout):
        return False
    if isinstance(exc, rexc.ReadTimeout):
        return True
    if isinstance(exc, rexc.ConnectionError):
        seen: set[int] = set()
        stack: list[Any] = [exc]
        while stack:
            item = stack.pop()
            if item is None or id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, u3exc.NewConnectionError | u3exc.ConnectTimeoutError):
                return False
            if isinstance(item, u3exc.ProtocolError):
                return True
            if isinstance(item, ConnectionRefusedError):
                return False
            if isinstance(item, BaseException):
                stack.extend(item.args)
                stack.append(item.__cause__)
                stack.append(item.__context__)
                stack.append(getattr(item, "reason", None))
        text = str(exc).lower()
        if "refused" in text or "failed to establish a new connection" in text:
            return False
    return True


_NETWORK_ERRORS: tuple[type[Exception], ...] = (
    rexc.ConnectionError,
    rexc.Timeout,
    rexc.ChunkedEncodingError,
    rexc.ContentDecodingError,
)


class HttpClient:
    """One provider's HTTP access: a shared session, timeouts, retries and its breaker.

    `request` returns the response for 2xx and for the statuses in `passthrough`
    (adapters handle 401, callers 409); any other 4xx raises ProviderRejected, and
    5xx/429/network errors that outlast the retries raise ProviderUnavailable.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        settings: HttpSettings | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        rand: Rand = random.random,
        secrets: Iterable[str] = (),
        on_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self.session = session if session is not None else session_for(provider)
        self.breaker = breaker_for(provider, self.settings)
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._secrets: set[str] = {s for s in secrets if s}
        self._on_response = on_response

    def add_secret(self, value: str | None) -> None:
        if value:
            self._secrets.add(value)

    def reason(self, response: requests.Response) -> str:
        """The provider's error text for `response`, with our secrets blanked out."""
        return rejection_reason(response, self._secrets)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        passthrough: Collection[int] = (),
        sensitive: Iterable[str] = (),
    ) -> requests.Response:
        """Send one logical call.

        `idempotent=False` marks a create: it is retried only when the provider surely did
        not act on it (connection never made, 429, 503); a read timeout or gateway 502/504
        raises OutcomeUnknown so the caller can look the result up instead.
        """
        self.breaker.before_call(self._clock())
        secrets = self._secrets | {s for s in sensitive if s}
        settings = self.settings
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=dict(headers or {}),
                    timeout=(settings.connect_timeout, settings.read_timeout),
                )
            except _NETWORK_ERRORS as exc:
                kind = type(exc).__name__
                self._log(logging.WARNING, method, path, kind, started)
                if not idempotent and _may_have_been_sent(exc):
                    self.breaker.record_failure(self._clock())
                    raise OutcomeUnknown(self.provider, f"{kind} on {method} {path}") from None
                if attempt < settings.max_attempts:
                    self._sleep(self._backoff(attempt))
                    continue
                self.breaker.record_failure(self._clock())
                raise ProviderUnavailable(
                    self.provider, f"{kind} on {method} {path} after {attempt} attempts"
                ) from None
            except rexc.RequestException as exc:
                # Invalid URL and the like: configuration, not weather, so no retry.
                self._log(logging.ERROR, method, path, type(exc).__name__, started)
                raise ProviderUnavailable(self.provider, f"{type(exc).__name__} on {method} {path}") from None

            status = response.status_code
            self._log(logging.DEBUG if status < 400 else logging.INFO, method, path, status, started)
            if self._on_response is not None:
                self._on_response(response)

            if 200 <= status < 300 or status in passthrough:
                self.breaker.record_success()
                return response
            if status in RETRYABLE_STATUSES:
                if not idempotent and status in _AMBIGUOUS_STATUSES:
                    self.breaker.record_failure(self._clock())
                    raise OutcomeUnknown(self.provider, f"HTTP {status} on {method} {path}")
                if attempt < settings.max_attempts:
                    delay = self._retry_delay(attempt, response)
                    response.close()
                    self._sleep(delay)
                    continue
                self.breaker.record_failure(self._clock())
                what = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
                raise ProviderUnavailable(
                    self.provider, f"{what} on {method} {path} after {attempt} attempts"
                )
            if 400 <= status < 500:
                # The provider is up and answered: not a breaker failure.
                self.breaker.record_success()
                raise ProviderRejected(self.provider, rejection_reason(response, secrets), status)
            self.breaker.record_failure(self._clock())
            raise ProviderUnavailable(self.provider, f"HTTP {status} on {method} {path}")

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * (2 ** (attempt - 1)))
        return self._rand() * ceiling

    def _retry_delay(self, attempt: int, response: requests.Response) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        if retry_after is None:
            return self._backoff(attempt)
        return min(retry_after, self.settings.retry_after_cap)

    def _log(self, level: int, method: str, path: str, status: int | str, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.log(level, "%s %s %s -> %s in %.0f ms", self.provider, method, path, status, elapsed_ms)


_DIGITS = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    if _DIGITS.match(value):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        # "-0000" dates come back naive; HTTP dates are always UTC.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
