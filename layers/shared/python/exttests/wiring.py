"""Builds the real dependencies from the configuration, once per Lambda container.

`settings()` reads and validates the environment at a function's cold start (handlers call it
at import); `deps()` builds the adapters on first use. Provider adapters are built even later,
on a request's first call to that provider, so a handler that never calls one reads no secret.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from . import log_redaction
from .adapters.dynamo.store import DynamoStore
from .adapters.emf_metrics import EmfMetrics
from .adapters.http_telemetry import MetricsObserver
from .adapters.kms_cipher import KmsCipher
from .adapters.live_roster import EduBridgeEnroller, LiveRoster, PlatformClient
from .adapters.step_functions import StepFunctionsWorkflow
from .adapters.table_roster import TableRoster
from .config import Connection, RosterSource, Settings
from .domain.models import ToolProvider
from .errors import ConfigError, ProviderUnavailable
from .ports import Enroller, Roster
from .providers.base import ProviderTraits, TestProvider
from .providers.observer import set_observer
from .usecases.deps import Deps

_lock = threading.Lock()
_settings: Settings | None = None
_deps: Deps | None = None


def read_secret(secret_id: str) -> Mapping[str, Any]:
    from aws_lambda_powertools.utilities import parameters  # only where a secret is configured

    value = parameters.get_secret(secret_id, transform="json", max_age=300)
    if not isinstance(value, dict):
        raise ConfigError(f"the secret {secret_id!r} must hold a JSON object")
    return value


def _edulastic(settings: Settings, values: Mapping[str, str]) -> TestProvider:
    from .providers.edulastic import EdulasticConfig, EdulasticProvider

    institutions = values.get("institution_ids", "")
    return EdulasticProvider(
        EdulasticConfig(
            base_url=values["base_url"],
            app_url=values["app_url"],
            username=values["username"],
            password=values["password"],
            class_id=values["class_id"],
            class_code=values["class_code"],
            district_id=values["district_id"],
            institution_ids=tuple(i.strip() for i in institutions.split(",") if i.strip()),
            http=settings.http,
        )
    )


def _mastery_track(settings: Settings, values: Mapping[str, str]) -> TestProvider:
    from .providers.mastery_track import MasteryTrackConfig, MasteryTrackProvider

    return MasteryTrackProvider(
        MasteryTrackConfig(
            base_url=values["base_url"], api_key=values["api_key"], email=values["email"], http=settings.http
        )
    )


def _traits(provider: ToolProvider) -> ProviderTraits:
    # The adapters' own class attributes: importing the module is cheap next to building one.
    if provider is ToolProvider.EDULASTIC:
        from .providers.edulastic import EdulasticProvider

        return EdulasticProvider.traits
    from .providers.mastery_track import MasteryTrackProvider

    return MasteryTrackProvider.traits


_BUILDERS: dict[ToolProvider, Callable[[Settings, Mapping[str, str]], TestProvider]] = {
    ToolProvider.EDULASTIC: _edulastic,
    ToolProvider.MASTERY_TRACK: _mastery_track,
}


class ProviderRegistry:
    """The Providers port: one adapter per provider, built on first use."""

    def __init__(self, settings: Settings, read: Callable[[str], Mapping[str, Any]] = read_secret) -> None:
        self._settings = settings
        self._read = read
        self._providers: dict[ToolProvider, TestProvider] = {}
        self._lock = threading.Lock()

    def traits(self, provider: ToolProvider) -> ProviderTraits:
        return _traits(provider)

    def get(self, provider: ToolProvider) -> TestProvider:
        with self._lock:
            if provider not in self._providers:
                self._providers[provider] = self._build(provider)
            return self._providers[provider]

    def _build(self, provider: ToolProvider) -> TestProvider:
        connection: Connection | None = (
            self._settings.edulastic if provider is ToolProvider.EDULASTIC else self._settings.mastery_track
        )
        if connection is None or not connection.configured:
            raise ProviderUnavailable(provider.value, "the service is not configured for this provider")
        try:
            values = connection.resolve(self._read)
        except ConfigError as error:
            raise ProviderUnavailable(provider.value, f"the service is misconfigured ({error})") from None
        return _BUILDERS[provider](self._settings, values)


def settings() -> Settings:
    """The validated configuration (read once; ConfigError at a bad value)."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


class LazyPlatform:
    """The TimeBack client, built (and its secret read) on the first platform call."""

    def __init__(self, settings: Settings, read: Callable[[str], Mapping[str, Any]] = read_secret) -> None:
        self._settings = settings
        self._read = read
        self._client: PlatformClient | None = None
        self._lock = threading.Lock()

    def _get(self) -> PlatformClient:
        with self._lock:
            if self._client is None:
                from .timeback.client import TimebackClient, TimebackConfig

                connection = self._settings.timeback
                assert connection is not None
                try:
                    values = connection.resolve(self._read)
                except ConfigError as error:
                    raise ProviderUnavailable("timeback", f"the service is misconfigured ({error})") from None
                self._client = TimebackClient(
                    TimebackConfig(
                        api_url=values["api_url"],
                        token_url=values["token_url"],
                        client_id=values["client_id"],
                        client_secret=values["client_secret"],
                        http=self._settings.http,
                    )
                )
            return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def build_deps(config: Settings) -> Deps:
    log_redaction.install()
    metrics = EmfMetrics()
    set_observer(MetricsObserver(metrics))
    live = config.roster_source is RosterSource.TIMEBACK
    store = DynamoStore(config.table_name, roster_cache=live, due_shards=config.due_index_shards)
    roster: Roster
    enroller: Enroller | None = None
    if live:
        platform = cast(PlatformClient, LazyPlatform(config))
        roster = LiveRoster(platform, store, config.roster_cache_seconds)
        enroller = EduBridgeEnroller(platform)
    else:
        roster = TableRoster(store)
    return Deps(
        store=store,
        providers=ProviderRegistry(config),
        cipher=KmsCipher(config.kms_key_id),
        workflow=StepFunctionsWorkflow(config.state_machine_arn, config),
        metrics=metrics,
        roster=roster,
        enroller=enroller,
        settings=config,
    )


def deps() -> Deps:
    global _deps
    config = settings()
    with _lock:
        if _deps is None:
            _deps = build_deps(config)
        return _deps


def reset() -> None:
    """Forget the cached configuration and dependencies (tests and the local stack change the
    environment)."""
    global _deps, _settings
    with _lock:
        _deps = None
        _settings = None


def check_settings() -> None:
    """Called by every handler at import: inside a Lambda runtime (or the local stack's workers,
    which set the same variable) a bad setting fails the cold start with its name."""
    import os

    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        settings()
