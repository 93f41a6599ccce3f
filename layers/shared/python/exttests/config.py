"""Settings read from the environment (set by template.yaml in AWS, by the local stack locally)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_WAITS = (60, 120, 300, 600, 1800, 3600)


def _floats(raw: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not raw:
        return default
    try:
        values = tuple(max(0, int(float(part))) for part in raw.split(",") if part.strip())
    except ValueError:
        return default
    return values or default


def _number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    mastery_threshold: float = 90.0
    waits: tuple[int, ...] = DEFAULT_WAITS
    callback_timeout_seconds: int = 21600
    deadline_days: dict[str, float] | None = None
    # How long an assign intent is held before another request may take it over.
    assign_lease_seconds: float = 20.0
    # The sweeper restarts a workflow this long after it should have shown a sign of life.
    sweeper_grace_seconds: int = 900

    def deadline_for(self, provider: str) -> float:
        return (self.deadline_days or {}).get(provider, 30.0)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            mastery_threshold=_number("MASTERY_THRESHOLD", 90.0),
            waits=_floats(os.environ.get("WORKFLOW_WAIT_SECONDS"), DEFAULT_WAITS),
            callback_timeout_seconds=int(_number("CALLBACK_TIMEOUT_SECONDS", 21600)),
            deadline_days={
                "edulastic": _number("EDULASTIC_DEADLINE_DAYS", 30.0),
                "mastery-track": _number("MASTERY_TRACK_DEADLINE_DAYS", 30.0),
            },
            assign_lease_seconds=_number("ASSIGN_LEASE_SECONDS", 20.0),
            sweeper_grace_seconds=int(_number("SWEEPER_GRACE_SECONDS", 900)),
        )
