"""The template's `Schedule` events, run locally the way EventBridge runs them in AWS.

Every `AWS::Serverless::Function` event of `Type: Schedule` (the sweeper's `rate(5 minutes)`)
becomes a timer that invokes the function with a scheduled-event payload (as in
`events/sweeper.json`) through the stack's invoker — the same worker pools as the HTTP API and
the workflow. The first run comes one interval after the start, as with a new EventBridge rule;
each run is asynchronous (a run that takes longer than the interval does not delay the next;
the sweeper is safe to run twice at once). Failures are logged, not retried. Only `rate(...)`
expressions are understood; a `cron(...)` schedule is reported and not run.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.aws_resources import DEFAULT_ACCOUNT_ID, resources_of_type
from local.lambda_dispatch import FunctionSpec, Invoker, Throttled

log = logging.getLogger("local.schedules")

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    function: str  # moto function name
    rule_arn: str
    interval_seconds: float


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of an EventBridge `rate(...)` expression; None for anything else."""
    found = _RATE.fullmatch(expression.strip())
    if found is None:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


def schedules_from_template(
    template: Mapping[str, Any],
    function_names: Mapping[str, str],
    *,
    region: str,
    stack_name: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
    interval_override: float | None = None,
) -> list[Schedule]:
    """The enabled schedules; `interval_override` (seconds) replaces every rate."""
    found: list[Schedule] = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function"):
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "Schedule":
                continue
            props = event.get("Properties") or {}
            if props.get("Enabled") is False or logical_id not in function_names:
                continue
            interval = rate_seconds(str(props.get("Schedule", "")))
            if interval is None:
                log.warning("schedule %s of %s is not a rate(...): not run locally", event_name, logical_id)
                continue
            rule = f"{stack_name}-{logical_id}{event_name}"
            found.append(
                Schedule(
                    function_names[logical_id],
                    f"arn:aws:events:{region}:{account_id}:rule/{rule}",
                    interval if interval_override is None else interval_override,
                )
            )
    return found


def scheduled_event(schedule: Schedule, region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, Any]:
    """The payload EventBridge delivers for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


class Scheduler:
    """One timer thread per schedule; `stop` ends them (a run in flight ends with the pools)."""

    def __init__(
        self,
        schedules: list[Schedule],
        functions: Mapping[str, FunctionSpec],
        invoker: Invoker,
        region: str,
    ) -> None:
        self.schedules = [s for s in schedules if s.interval_seconds > 0]
        self.functions = functions
        self.invoker = invoker
        self.region = region
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for schedule in self.schedules:
            thread = threading.Thread(
                target=self._run, args=(schedule,), name=f"schedule-{schedule.function}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, schedule: Schedule) -> None:
        while not self._stop.wait(schedule.interval_seconds):
            threading.Thread(target=self._fire, args=(schedule,), daemon=True).start()

    def _fire(self, schedule: Schedule) -> None:
        try:
            outcome = self.invoker.invoke(
                self.functions[schedule.function], scheduled_event(schedule, self.region)
            )
        except Throttled as exc:
            log.warning("scheduled invocation of %s was throttled: %s", schedule.function, exc)
            return
        except Exception:
            log.exception("scheduled invocation of %s could not run", schedule.function)
            return
        if outcome.failed:
            log.warning("scheduled invocation of %s failed: %s", schedule.function, outcome.error_type)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
