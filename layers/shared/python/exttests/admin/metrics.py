"""The Metrics port for commands run by hand.

The functions' metrics are EMF lines in their Lambda logs, which CloudWatch turns into metrics;
printed by the CLI they would reach no metric and garble its output. So a hand-made change's
counts (an enrollment retried, a workflow redriven) are log lines of the service's logger
instead: on stderr with --verbose. Its events still reach the outbox like any other change's.
"""

from __future__ import annotations

from ..observability import logger


class LoggedMetrics:
    def count(
        self, name: str, value: float = 1, *, provider: str | None = None, lesson_type: str | None = None
    ) -> None:
        dimensions = {"provider": provider, "lessonType": lesson_type}
        logger.info(
            "metric counted by hand (not published)",
            extra={"metric": name, "value": value, **{k: v for k, v in dimensions.items() if v}},
        )

    def gauge(self, name: str, value: float, unit: str = "Seconds") -> None:
        logger.info(
            "metric measured by hand (not published)", extra={"metric": name, "value": value, "unit": unit}
        )
