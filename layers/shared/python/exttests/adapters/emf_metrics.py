"""The Metrics port on Powertools Metrics: one EMF line per count, with its own dimensions.

`single_metric` rather than the shared Metrics object: counts carry different dimension sets
(per provider and lesson type, or the service alone) and an invocation may end in an exception,
where a buffered flush would be lost.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..observability import logger

_UNITS = {"Seconds": MetricUnit.Seconds, "Count": MetricUnit.Count, "Milliseconds": MetricUnit.Milliseconds}


class EmfMetrics:
    def __init__(self, namespace: str | None = None, service: str | None = None) -> None:
        self.namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "ExternalTests"
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "external-tests"
        # Powertools' own switch (single_metric does not read it): the local stack's console.
        self.disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true")

    def count(
        self, name: str, value: float = 1, *, provider: str | None = None, lesson_type: str | None = None
    ) -> None:
        dimensions = {"provider": provider, "lessonType": lesson_type}
        self._emit(name, MetricUnit.Count, value, {k: v for k, v in dimensions.items() if v})

    def gauge(self, name: str, value: float, unit: str = "Seconds") -> None:
        self._emit(name, _UNITS.get(unit, MetricUnit.Count), value, {})

    def _emit(self, name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> None:
        if self.disabled:
            return
        try:
            with single_metric(
                name=name,
                unit=unit,
                value=value,
                namespace=self.namespace,
                default_dimensions={"service": self.service},
            ) as metric:
                for key, dimension in dimensions.items():
                    metric.add_dimension(name=key, value=dimension)
        except Exception:  # noqa: BLE001 - a metric must never fail the work it measures
            logger.warning("metric not emitted", extra={"metric": name})
