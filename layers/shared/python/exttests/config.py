"""The one configuration model: every setting the service reads, validated when a function starts.

`Settings.from_env()` reads the environment once (template.yaml sets it in AWS, the local stack
locally) and raises ConfigError naming the variable at the first bad or missing value, so a
misconfigured function fails its cold start instead of answering odd errors later. Provider and
platform credentials may also come from a Secrets Manager secret (a `*_SECRET_ID` variable);
those are read when the adapter is first built, with the environment overriding single fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from .domain.links import LinkPolicy
from .domain.models import ToolProvider
from .errors import ConfigError

DEFAULT_WAITS = (60, 120, 300, 600, 1800, 3600)

_T = TypeVar("_T")


class RosterSource(StrEnum):
    TABLE = "table"  # the roster file loaded into the service's table
    TIMEBACK = "timeback"  # the live TimeBack platform, cached in the table


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """Timeouts, retries and the circuit breaker of every provider and platform client."""

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
            raise ConfigError("max_attempts must be at least 1")
        if self.breaker_failure_threshold < 1:
            raise ConfigError("breaker_failure_threshold must be at least 1")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ConfigError("timeouts must be positive")


@dataclass(frozen=True)
class Connection:
    """Where an external system's settings come from: an optional secret, overridden by the
    environment field by field (`fields` maps the secret's keys to environment variables)."""

    name: str
    secret_id: str | None
    overrides: Mapping[str, str]  # secret key → value given in the environment
    required: tuple[str, ...]  # secret keys that must end up set
    variables: Mapping[str, str]  # secret key → the environment variable's name (for messages)
    defaults: Mapping[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return self.secret_id is not None or bool(self.overrides)

    def resolve(self, read_secret: Callable[[str], Mapping[str, Any]]) -> dict[str, str]:
        """The merged settings; ConfigError names the first required one that is missing."""
        secret = read_secret(self.secret_id) if self.secret_id else {}
        values = dict(self.defaults)
        values.update({key: str(value) for key, value in secret.items() if value not in (None, "")})
        values.update(self.overrides)
        for key in self.required:
            if not values.get(key):
                where = (
                    f"the secret {self.secret_id!r} or {self.variables[key]}"
                    if self.secret_id
                    else (self.variables[key])
                )
                raise ConfigError(f"{self.name}: {key} is not configured (set {where})")
        return values


# Secret key → environment variable, per external system; the first entries are required.
_EDULASTIC_FIELDS = {
    "base_url": "EDULASTIC_BASE_URL",
    "username": "EDULASTIC_USERNAME",
    "password": "EDULASTIC_PASSWORD",
    "class_id": "EDULASTIC_CLASS_ID",
    "class_code": "EDULASTIC_CLASS_CODE",
    "district_id": "EDULASTIC_DISTRICT_ID",
    "app_url": "EDULASTIC_APP_URL",
    "institution_ids": "EDULASTIC_INSTITUTION_IDS",
}
_EDULASTIC_REQUIRED = ("username", "password", "class_id", "class_code", "district_id")
_EDULASTIC_DEFAULTS = {"base_url": "https://app.edulastic.com/api", "app_url": "https://app.edulastic.com"}
_MASTERY_TRACK_FIELDS = {
    "base_url": "MASTERY_TRACK_BASE_URL",
    "api_key": "MASTERY_TRACK_API_KEY",
    "email": "MASTERY_TRACK_EMAIL",
}
_TIMEBACK_FIELDS = {
    "api_url": "TIMEBACK_API_URL",
    "token_url": "TIMEBACK_TOKEN_URL",
    "client_id": "TIMEBACK_CLIENT_ID",
    "client_secret": "TIMEBACK_CLIENT_SECRET",
}
# Variables whose values must never appear in a message.
_SECRET_VARIABLES = frozenset(
    {"EDULASTIC_PASSWORD", "MASTERY_TRACK_API_KEY", "TIMEBACK_CLIENT_SECRET", "LOCAL_CLIENT_SECRET"}
)


class _Env:
    """Typed reads of environment variables; every failure names the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str = "") -> str:
        return (self.env.get(name) or "").strip() or default

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise ConfigError(f"{name} is required")
        return value

    def _parse(self, name: str, default: _T, parse: Callable[[str], _T], wanted: str) -> _T:
        raw = self.text(name)
        if not raw:
            return default
        try:
            return parse(raw)
        except (ValueError, OverflowError):
            shown = "" if name in _SECRET_VARIABLES else f", got {raw[:40]!r}"
            raise ConfigError(f"{name} must be {wanted}{shown}") from None

    def number(
        self, name: str, default: float, *, low: float | None = None, high: float | None = None
    ) -> float:
        wanted = "a number" + _range(low, high)

        def parse(raw: str) -> float:
            value = float(raw)
            if (
                not math.isfinite(value)
                or (low is not None and value < low)
                or (high is not None and value > high)
            ):
                raise ValueError(raw)
            return value

        return self._parse(name, default, parse, wanted)

    def integer(self, name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
        wanted = "a whole number" + _range(low, high)

        def parse(raw: str) -> int:
            value = int(raw)
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(raw)
            return value

        return self._parse(name, default, parse, wanted)

    def integers(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        def parse(raw: str) -> tuple[int, ...]:
            values = tuple(int(part) for part in raw.split(","))
            if not values or any(v < 0 for v in values):
                raise ValueError(raw)
            return values

        return self._parse(name, default, parse, "comma-separated whole numbers of seconds (e.g. 60,120,300)")

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        def parse(raw: str) -> str:
            if raw.lower() not in options:
                raise ValueError(raw)
            return raw.lower()

        return self._parse(name, default, parse, "one of " + ", ".join(options))

    def connection(
        self,
        name: str,
        secret_var: str,
        fields: Mapping[str, str],
        required: tuple[str, ...],
        defaults: Mapping[str, str] | None = None,
    ) -> Connection:
        secret_id = self.text(secret_var) or None
        overrides = {key: self.text(var) for key, var in fields.items() if self.text(var)}
        if secret_id is None and overrides:
            # Pointed at another server by the environment alone: everything needed must be there now.
            for key in required:
                if key not in overrides:
                    raise ConfigError(
                        f"{fields[key]} is required when {name} is configured by environment variables"
                        f" ({', '.join(sorted(fields[k] for k in overrides))} given, no {secret_var})"
                    )
        return Connection(name, secret_id, overrides, required, fields, dict(defaults or {}))


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    return f" of at most {high:g}" if high is not None else ""


@dataclass(frozen=True, kw_only=True)
class Settings:
    # --- product rules -----------------------------------------------------------------------
    mastery_threshold: float = 90.0
    # --- the workflow ------------------------------------------------------------------------
    waits: tuple[int, ...] = DEFAULT_WAITS  # seconds between polls; the last one repeats
    callback_timeout_seconds: int = 21600
    deadline_days: Mapping[ToolProvider, float] = field(
        default_factory=lambda: {ToolProvider.EDULASTIC: 30.0, ToolProvider.MASTERY_TRACK: 30.0}
    )
    # How long an assign intent is held before another request may take it over.
    assign_lease_seconds: float = 20.0
    # The sweeper restarts a workflow this long after it should have shown a sign of life.
    sweeper_grace_seconds: int = 900
    sweeper_batch_size: int = 100
    # Partitions of the sweeper's index (raise for > ~1,000 attempt writes a second; never lower).
    due_index_shards: int = 8
    # How long after finalization a transient platform failure may still be retried.
    enrollment_deadline_seconds: int = 86400
    # --- AWS resources -----------------------------------------------------------------------
    table_name: str = ""
    state_machine_arn: str = ""
    kms_key_id: str = "alias/external-tests-credentials"
    # --- external systems --------------------------------------------------------------------
    http: HttpSettings = field(default_factory=HttpSettings)
    edulastic: Connection | None = None
    mastery_track: Connection | None = None
    # Which provider and write-back links may be stored and handed out (https; http only to the
    # providers configured by environment with an http URL: the local simulators).
    links: LinkPolicy = field(default_factory=LinkPolicy)
    # --- the learning platform ---------------------------------------------------------------
    roster_source: RosterSource = RosterSource.TABLE
    roster_cache_seconds: int = 300
    timeback: Connection | None = None
    # --- domain events -----------------------------------------------------------------------
    event_source: str = "exttests"
    event_bus_name: str = "default"

    def deadline_for(self, provider: ToolProvider) -> float:
        return self.deadline_days.get(provider, 30.0)

    @property
    def first_wait(self) -> int:
        return self.waits[0] if self.waits else 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        import os

        env = _Env(os.environ if environ is None else environ)
        source = RosterSource(env.choice("ROSTER_SOURCE", RosterSource.TABLE.value, tuple(RosterSource)))
        edulastic = env.connection(
            "edulastic", "EDULASTIC_SECRET_ID", _EDULASTIC_FIELDS, _EDULASTIC_REQUIRED, _EDULASTIC_DEFAULTS
        )
        mastery_track = env.connection(
            "mastery-track", "MASTERY_TRACK_SECRET_ID", _MASTERY_TRACK_FIELDS, tuple(_MASTERY_TRACK_FIELDS)
        )
        return cls(
            mastery_threshold=env.number("MASTERY_THRESHOLD", 90.0, low=0, high=100),
            waits=env.integers("WORKFLOW_WAIT_SECONDS", DEFAULT_WAITS),
            callback_timeout_seconds=env.integer("CALLBACK_TIMEOUT_SECONDS", 21600, low=1),
            deadline_days={
                ToolProvider.EDULASTIC: env.number("EDULASTIC_DEADLINE_DAYS", 30.0, low=1e-6),
                ToolProvider.MASTERY_TRACK: env.number("MASTERY_TRACK_DEADLINE_DAYS", 30.0, low=1e-6),
            },
            assign_lease_seconds=env.number("ASSIGN_LEASE_SECONDS", 20.0, low=0.1),
            sweeper_grace_seconds=env.integer("SWEEPER_GRACE_SECONDS", 900, low=0),
            sweeper_batch_size=env.integer("SWEEPER_BATCH_SIZE", 100, low=1, high=1000),
            due_index_shards=env.integer("DUE_INDEX_SHARDS", 8, low=1, high=64),
            table_name=env.required("TABLE_NAME"),
            state_machine_arn=env.text("STATE_MACHINE_ARN"),
            kms_key_id=env.text("CREDENTIALS_KMS_KEY_ID", "alias/external-tests-credentials"),
            http=_http_settings(env),
            edulastic=edulastic,
            mastery_track=mastery_track,
            links=LinkPolicy.allowing_http_to(
                c.overrides.get(key) for c in (edulastic, mastery_track) for key in ("base_url", "app_url")
            ),
            enrollment_deadline_seconds=env.integer("ENROLLMENT_DEADLINE_SECONDS", 86400, low=1),
            roster_source=source,
            roster_cache_seconds=env.integer("ROSTER_CACHE_SECONDS", 300, low=0),
            timeback=_timeback(env, source),
            event_source=env.text("EVENT_SOURCE", "exttests"),
            event_bus_name=env.text("EVENT_BUS_NAME", "default"),
        )


def _timeback(env: _Env, source: RosterSource) -> Connection:
    connection = env.connection("timeback", "TIMEBACK_SECRET_ID", _TIMEBACK_FIELDS, tuple(_TIMEBACK_FIELDS))
    if source is RosterSource.TIMEBACK and not connection.configured:
        raise ConfigError(
            "ROSTER_SOURCE=timeback needs the platform: set TIMEBACK_SECRET_ID, or TIMEBACK_API_URL, "
            "TIMEBACK_TOKEN_URL, TIMEBACK_CLIENT_ID and TIMEBACK_CLIENT_SECRET"
        )
    return connection


def _http_settings(env: _Env) -> HttpSettings:
    return HttpSettings(
        connect_timeout=env.number("PROVIDER_CONNECT_TIMEOUT", 3.05, low=0.001),
        read_timeout=env.number("PROVIDER_READ_TIMEOUT", 10.0, low=0.001),
        max_attempts=env.integer("PROVIDER_MAX_ATTEMPTS", 4, low=1, high=10),
        backoff_base=env.number("PROVIDER_BACKOFF_BASE", 0.5, low=0),
        backoff_cap=env.number("PROVIDER_BACKOFF_CAP", 4.0, low=0),
        retry_after_cap=env.number("PROVIDER_RETRY_AFTER_CAP", 10.0, low=0),
        breaker_failure_threshold=env.integer("PROVIDER_BREAKER_THRESHOLD", 5, low=1),
        breaker_cooldown=env.number("PROVIDER_BREAKER_COOLDOWN", 30.0, low=0),
    )
