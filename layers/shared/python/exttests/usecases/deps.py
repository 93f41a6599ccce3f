"""The dependencies every use case receives (built by `exttests.wiring`, or by tests from fakes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import Settings
from ..ports import Cipher, Clock, Enroller, Metrics, Providers, Roster, Store, Workflow


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Deps:
    store: Store
    providers: Providers
    cipher: Cipher
    workflow: Workflow
    metrics: Metrics
    roster: Roster
    # The learning platform's enrollments (EduBridge); None when the table is the roster and an
    # enrollment is a record in it.
    enroller: Enroller | None = None
    settings: Settings = field(default_factory=Settings)
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], None] = time.sleep


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
