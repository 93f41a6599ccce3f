"""Provider and platform calls reported as metrics (ProviderCalls, ProviderCallFailed,
CircuitOpened per provider) — the HTTP core's observer, installed once by the wiring."""

from __future__ import annotations

from ..ports import Metrics


class MetricsObserver:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def call(
        self, provider: str, method: str, path_template: str, status_or_error: int | str, elapsed_ms: float
    ) -> None:
        self.metrics.count("ProviderCalls", provider=provider)

    def call_failed(self, provider: str) -> None:
        self.metrics.count("ProviderCallFailed", provider=provider)

    def circuit_opened(self, provider: str) -> None:
        self.metrics.count("CircuitOpened", provider=provider)
