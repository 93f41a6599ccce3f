"""Builds the real dependencies from the environment, once per Lambda container.

Provider settings come from Secrets Manager (EDULASTIC_SECRET_ID / MASTERY_TRACK_SECRET_ID,
JSON objects) when set, else from plain environment variables (the local stack). Environment
values win over the secret's, so an operator can point one setting elsewhere.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from . import log_redaction
from .adapters.dynamo.store import DynamoStore
from .adapters.kms_cipher import KmsCipher
from .adapters.step_functions import StepFunctionsWorkflow
from .config import Settings
from .errors import Unprocessable
from .providers.base import TestProvider
from .usecases.deps import Deps

_lock = threading.Lock()
_deps: Deps | None = None


def _secret(env_name: str) -> dict[str, Any]:
    secret_id = os.environ.get(env_name)
    if not secret_id:
        return {}
    from aws_lambda_powertools.utilities import parameters  # only where a secret is configured

    value = parameters.get_secret(secret_id, transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


def http_settings() -> Any:
    """Timeouts, retries and the circuit breaker, tunable per deployment (and by tests)."""
    from .providers.http import HttpSettings

    names = {
        "connect_timeout": "PROVIDER_CONNECT_TIMEOUT",
        "read_timeout": "PROVIDER_READ_TIMEOUT",
        "max_attempts": "PROVIDER_MAX_ATTEMPTS",
        "backoff_base": "PROVIDER_BACKOFF_BASE",
        "backoff_cap": "PROVIDER_BACKOFF_CAP",
        "retry_after_cap": "PROVIDER_RETRY_AFTER_CAP",
        "breaker_failure_threshold": "PROVIDER_BREAKER_THRESHOLD",
        "breaker_cooldown": "PROVIDER_BREAKER_COOLDOWN",
    }
    overrides: dict[str, Any] = {}
    for field_name, env in names.items():
        raw = os.environ.get(env)
        if raw:
            number = float(raw)
            overrides[field_name] = (
                int(number) if field_name in ("max_attempts", "breaker_failure_threshold") else number
            )
    return HttpSettings(**overrides)


def _setting(secret: dict[str, Any], env: str, key: str, default: str = "") -> str:
    return os.environ.get(env) or str(secret.get(key) or default)


class ProviderRegistry:
    """Adapters are built on first use: a handler that never calls a provider never reads a secret."""

    def __init__(self) -> None:
        self._providers: dict[str, TestProvider] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> TestProvider:
        with self._lock:
            if name not in self._providers:
                self._providers[name] = self._build(name)
            return self._providers[name]

    def _build(self, name: str) -> TestProvider:
        if name == "edulastic":
            from .providers.edulastic import EdulasticConfig, EdulasticProvider

            secret = _secret("EDULASTIC_SECRET_ID")
            institutions = _setting(secret, "EDULASTIC_INSTITUTION_IDS", "institution_ids")
            return EdulasticProvider(
                EdulasticConfig(
                    base_url=_setting(
                        secret, "EDULASTIC_BASE_URL", "base_url", "https://app.edulastic.com/api"
                    ),
                    app_url=_setting(secret, "EDULASTIC_APP_URL", "app_url", "https://app.edulastic.com"),
                    username=_setting(secret, "EDULASTIC_USERNAME", "username"),
                    password=_setting(secret, "EDULASTIC_PASSWORD", "password"),
                    class_id=_setting(secret, "EDULASTIC_CLASS_ID", "class_id"),
                    class_code=_setting(secret, "EDULASTIC_CLASS_CODE", "class_code"),
                    district_id=_setting(secret, "EDULASTIC_DISTRICT_ID", "district_id"),
                    institution_ids=tuple(i.strip() for i in institutions.split(",") if i.strip()),
                    http=http_settings(),
                )
            )
        if name == "mastery-track":
            from .providers.mastery_track import MasteryTrackConfig, MasteryTrackProvider

            secret = _secret("MASTERY_TRACK_SECRET_ID")
            return MasteryTrackProvider(
                MasteryTrackConfig(
                    base_url=_setting(secret, "MASTERY_TRACK_BASE_URL", "base_url"),
                    api_key=_setting(secret, "MASTERY_TRACK_API_KEY", "api_key"),
                    email=_setting(secret, "MASTERY_TRACK_EMAIL", "email"),
                    http=http_settings(),
                )
            )
        raise Unprocessable(f"tool provider '{name}' is not supported")


def build_deps() -> Deps:
    log_redaction.install()
    settings = Settings.from_env()
    return Deps(
        store=DynamoStore(os.environ["TABLE_NAME"]),
        providers=ProviderRegistry(),
        cipher=KmsCipher(os.environ.get("CREDENTIALS_KMS_KEY_ID", "alias/external-tests-credentials")),
        workflow=StepFunctionsWorkflow(os.environ.get("STATE_MACHINE_ARN", ""), settings),
        settings=settings,
    )


def deps() -> Deps:
    global _deps
    with _lock:
        if _deps is None:
            _deps = build_deps()
        return _deps


def reset() -> None:
    """Forget the cached dependencies (tests and the local stack change the environment)."""
    global _deps
    with _lock:
        _deps = None
