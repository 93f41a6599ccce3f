"""HTTP core shared by the provider adapters and the TimeBack platform client.

One session per provider carries urllib3's `Retry` (attempts.py) for 429/502/503/504 and
connection errors, with capped exponential backoff, jitter and a capped Retry-After. On top
of it sit our own rules: a create is repeated only when the provider surely did not act on it,
every attempt fits in the invocation's time budget, redirects are never followed and no
request leaves the configured base URL, a circuit breaker fails fast while a provider is down,
and error messages say what happened without naming a path (the log has the path template).

Everything that must survive between invocations of a warm Lambda container (sessions,
breakers, tokens) lives in module-level registries; `reset_state()` clears them for tests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from requests import exceptions as rexc
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as u3exc
from urllib3.util import parse_url

from exttests import tracing
from exttests.config import HttpSettings
from exttests.errors import ConfigError, ProviderDeadlineExceeded, ProviderRejected, ProviderUnavailable
from exttests.observability import logger
from exttests.providers.answers import rejection_reason
from exttests.providers.attempts import (
    NEVER_SENT,
    NOT_ACTED_STATUSES,
    RETRYABLE_STATUSES,
    AttemptTimeout,
    LogicalCall,
    RetryPolicy,
    current_call,
    error_kind,
    time_for_an_attempt,
)
from exttests.providers.breaker import CircuitBreaker
from exttests.providers.observer import notify
from exttests.providers.tokens import token_cache

# urllib3 logs each retry with the full path and query (student ids, assignment ids) at WARNING;
# this client logs every attempt itself with the path template instead.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Rand = Callable[[], float]
T = TypeVar("T")

# The placeholder for an id in a path template; `request` percent-encodes the ids into it.
ID = "{id}"


@dataclass(frozen=True)
class Timing:
    """How the HTTP core sleeps, reads the time and draws jitter; tests replace them so that
    nothing really waits."""

    sleep: Sleep = time.sleep
    clock: Clock = time.time
    rand: Rand = random.random


class OutcomeUnknown(ProviderUnavailable):
    """A non-idempotent call may or may not have taken effect (read timeout, gateway 502/504).

    Adapters catch it (see `create_outcome_unknown`) to look up whether the create happened
    instead of repeating it; uncaught, it is an ordinary ProviderUnavailable.
    """


def create_outcome_unknown(error: BaseException) -> bool:
    """True when a create failed in a way that leaves its outcome unknown and there is still
    time to look it up: OutcomeUnknown, or the time budget cutting the call short while some
    time remains. A deadline with no time left is not: it propagates."""
    if isinstance(error, OutcomeUnknown):
        return True
    return isinstance(error, ProviderDeadlineExceeded) and time_for_an_attempt()


def create_or_find(create: Callable[[], T], find: Callable[[], T | None]) -> T:
    """Make a create; when its outcome is unknown, look it up instead of repeating it blindly.

    Found: that is the answer. Not found: the create is made once more (and its own unknown
    outcome looked up once more). Any other failure propagates."""
    for last_try in (False, True):
        try:
            return create()
        except ProviderUnavailable as error:
            if not create_outcome_unknown(error):
                raise
            found = find()
            if found is not None:
                return found
            if last_try:
                raise
    raise AssertionError("unreachable")


# --- registries ------------------------------------------------------------------------

_registry_lock = threading.Lock()
_breakers: dict[str, CircuitBreaker] = {}
_sessions: dict[tuple[str, HttpSettings], requests.Session] = {}


def breaker_for(provider: str, settings: HttpSettings) -> CircuitBreaker:
    with _registry_lock:
        breaker = _breakers.get(provider)
        if breaker is None:
            breaker = _breakers[provider] = CircuitBreaker(provider)
        # Configuration is per deployment, so the latest settings simply win.
        breaker.failure_threshold = settings.breaker_failure_threshold
        breaker.cooldown = settings.breaker_cooldown
        return breaker


def session_for(provider: str, settings: HttpSettings) -> requests.Session:
    """The provider's session, with the retry policy of `settings` (one per deployment)."""
    with _registry_lock:
        session = _sessions.get((provider, settings))
        if session is None:
            session = _sessions[(provider, settings)] = requests.Session()
            adapter = HTTPAdapter(max_retries=RetryPolicy.from_settings(settings))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session


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


# --- URLs ------------------------------------------------------------------------------


class UnusableId(ValueError):
    """An id that cannot be a path segment: empty, or dots that would climb the path."""


def fill_path(template: str, ids: Sequence[str]) -> str:
    """`template` with each "{id}" replaced by the next id, percent-encoded as one segment."""
    pieces = template.split(ID)
    if len(pieces) != len(ids) + 1:
        raise ValueError(f"{template!r} takes {len(pieces) - 1} ids, {len(ids)} given")
    path = pieces[0]
    for value, piece in zip(ids, pieces[1:], strict=True):
        path += _segment(value) + piece
    return path


def _segment(value: str) -> str:
    # "." and ".." would be resolved as dot segments on the way and reach another resource.
    if not value or set(value) == {"."}:
        raise UnusableId("an id must be a non-empty string other than dots")
    return quote(value, safe="")


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = parse_url(url)
    scheme = (parsed.scheme or "").lower()
    port = parsed.port or {"https": 443, "http": 80}.get(scheme)
    return scheme, (parsed.host or "").lower(), port


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


_WHAT_HAPPENED = {
    "connect-timeout": "timed out connecting",
    "unreachable": "could not connect",
    "read-timeout": "timed out",
    "dropped": "connection lost",
}


# --- the client ------------------------------------------------------------------------


class HttpClient:
    """One provider's HTTP access: a shared session, timeouts, retries and its breaker.

    `request` returns the response for 2xx and for the statuses in `passthrough`
    (adapters handle 401, callers 409); any other 4xx raises ProviderRejected; 3xx, 5xx,
    429 and network errors that outlast the retries raise ProviderUnavailable (OutcomeUnknown
    for a create that may have happened), and a spent time budget ProviderDeadlineExceeded.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        settings: HttpSettings | None = None,
        timing: Timing | None = None,
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        try:
            self._origin = _origin(self.base_url)
        except u3exc.LocationParseError:
            self._origin = ("", "", None)
        if self._origin[0] not in ("http", "https") or not self._origin[1]:
            raise ConfigError(f"{provider}: the base URL must be an absolute http(s) URL")
        self.settings = settings or HttpSettings()
        self.timing = timing or Timing()
        self.session = session_for(provider, self.settings)
        self.breaker = breaker_for(provider, self.settings)
        self._secrets: set[str] = {s for s in secrets if s}

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
        ids: Sequence[str] = (),
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        idempotent: bool = True,
        passthrough: Collection[int] = (),
        sensitive: Iterable[str] = (),
    ) -> requests.Response:
        """Send one logical call to the base URL + `path`.

        `path` is a template: each "{id}" takes the next of `ids`, percent-encoded, and the
        template (never the ids) is what the log and the observer see. `idempotent=False` marks
        a create: it is retried only when the provider surely did not act on it (connection
        never made, 429, 503); a read timeout or a gateway 502/504 raises OutcomeUnknown so the
        caller can look the result up instead.
        """
        # Traced as one subsegment per logical call (retries included): the template, never ids.
        with tracing.subsegment(
            f"{self.provider} {method} {path}", provider=self.provider, method=method
        ) as span:
            response = self._request(
                method,
                path,
                ids=ids,
                json=json,
                data=data,
                params=params,
                headers=headers,
                auth=auth,
                idempotent=idempotent,
                passthrough=passthrough,
                sensitive=sensitive,
            )
            if span is not None:
                span.put_annotation("status", response.status_code)
            return response

    def _request(
        self,
        method: str,
        path: str,
        *,
        ids: Sequence[str],
        json: Any,
        data: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        idempotent: bool,
        passthrough: Collection[int],
        sensitive: Iterable[str],
    ) -> requests.Response:
        if not time_for_an_attempt():
            raise self._failed(ProviderDeadlineExceeded(self.provider), count=False)
        try:
            url = self.base_url + fill_path(path, ids)
        except UnusableId:
            raise ProviderRejected(self.provider, "an id is empty or only dots") from None
        self.breaker.before_call(self.timing.clock())
        prepared = self.session.prepare_request(
            requests.Request(
                method,
                url,
                json=json,
                data=data,
                params=params,
                headers=dict(headers or {}),
                auth=auth,
            )
        )
        sent_to = prepared.url or ""
        if _origin(sent_to) != self._origin:
            logger.error("%s %s %s refused: outside the configured base URL", self.provider, method, path)
            outside = "refused to send a request outside the configured base"
            raise self._failed(ProviderUnavailable(self.provider, outside), count=False)
        call = LogicalCall(self.provider, method, path, idempotent, self.settings, self.timing, self._report)
        environment = self.session.merge_environment_settings(sent_to, {}, None, None, None)
        token = current_call.set(call)
        try:
            response = self.session.send(
                prepared, allow_redirects=False, timeout=AttemptTimeout(call), **environment
            )
        except ProviderDeadlineExceeded:
            # An attempt or a wait would not have fitted in the budget: not the provider's fault.
            raise self._failed(ProviderDeadlineExceeded(self.provider), count=False) from None
        except rexc.RequestException as exc:
            raise self._network_failure(call, exc) from None
        finally:
            current_call.reset(token)
        call.attempt_ended(response.status_code)
        return self._judge(call, response, passthrough, self._secrets | {s for s in sensitive if s})

    def _judge(
        self, call: LogicalCall, response: requests.Response, passthrough: Collection[int], secrets: set[str]
    ) -> requests.Response:
        status = response.status_code
        if 200 <= status < 300 or status in passthrough:
            self.breaker.record_success()
            return response
        if 400 <= status < 500 and status != 429:
            # The provider is up and answered: not a breaker failure.
            self.breaker.record_success()
            raise ProviderRejected(self.provider, rejection_reason(response, secrets), status)
        if 300 <= status < 400:
            # Following it could hand our credentials to whichever host it names.
            raise self._failed(ProviderUnavailable(self.provider, f"unexpected redirect (HTTP {status})"))
        if status in RETRYABLE_STATUSES:
            if not call.idempotent and status not in NOT_ACTED_STATUSES:
                raise self._failed(OutcomeUnknown(self.provider, f"HTTP {status}; the outcome is unknown"))
            what = "rate limited (HTTP 429)" if status == 429 else f"HTTP {status}"
            raise self._failed(ProviderUnavailable(self.provider, f"{what} after {_attempts(call.attempts)}"))
        raise self._failed(ProviderUnavailable(self.provider, f"HTTP {status}"))

    def _network_failure(self, call: LogicalCall, exc: rexc.RequestException) -> ProviderUnavailable:
        kind = error_kind(exc)
        call.attempt_ended(kind)
        if kind == "error":
            # An unusable request (bad header, bad URL): configuration or a bug, not weather.
            logger.error(
                "%s %s %s not sent: %s", self.provider, call.method, call.template, type(exc).__name__
            )
            return self._failed(ProviderUnavailable(self.provider, "the request was not sent"), count=False)
        if not time_for_an_attempt():
            return self._failed(ProviderDeadlineExceeded(self.provider), count=False)
        what = _WHAT_HAPPENED[kind]
        if not call.idempotent and kind not in NEVER_SENT:
            return self._failed(OutcomeUnknown(self.provider, f"{what}; the outcome is unknown"))
        return self._failed(ProviderUnavailable(self.provider, f"{what} after {_attempts(call.attempts)}"))

    def _failed(self, error: ProviderUnavailable, *, count: bool = True) -> ProviderUnavailable:
        """Bookkeeping for a logical call that ends in `error`. `count=False` for failures that
        say nothing about the provider's health (our time budget, our own request)."""
        if count and self.breaker.record_failure(self.timing.clock()):
            logger.warning("%s circuit opened after %d failures", self.provider, self.breaker.failures)
            notify(lambda observer: observer.circuit_opened(self.provider))
        notify(lambda observer: observer.call_failed(self.provider))
        return error

    def _report(self, call: LogicalCall, outcome: int | str, elapsed_ms: float) -> None:
        """Log and observe one attempt: method, path template, status or error kind, time."""
        if isinstance(outcome, str) or outcome >= 500 or outcome == 429 or 300 <= outcome < 400:
            log = logger.warning
        else:
            log = logger.info if outcome >= 400 else logger.debug
        log(
            "%s %s %s -> %s in %.0f ms (attempt %d)",
            self.provider,
            call.method,
            call.template,
            outcome,
            elapsed_ms,
            call.attempts,
            extra={
                "provider": self.provider,
                "http_method": call.method,
                "path_template": call.template,
                "outcome": outcome,
                "elapsed_ms": round(elapsed_ms),
                "attempt": call.attempts,
            },
        )
        notify(lambda observer: observer.call(self.provider, call.method, call.template, outcome, elapsed_ms))
