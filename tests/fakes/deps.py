"""One call builds the use cases' dependencies from fakes: `world = make_deps()`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from exttests.adapters.live_roster import EduBridgeEnroller, LiveRoster
from exttests.adapters.table_roster import TableRoster
from exttests.config import Settings
from exttests.usecases.deps import Deps
from tests.support import DEMO_ROSTER

from .cipher import FakeCipher
from .clock import FakeClock
from .metrics import RecordingMetrics
from .platform import FakePlatform
from .providers import EDULASTIC_TRAITS, MASTERY_TRACK_TRAITS, FakeProvider, FakeProviders
from .store import InMemoryStore
from .workflow import FakeWorkflow

TEST_SETTINGS = Settings(
    table_name="fake", waits=(60, 120, 300), callback_timeout_seconds=3600, assign_lease_seconds=10
)


def demo_roster() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEMO_ROSTER.read_text(encoding="utf-8"))
    return loaded


@dataclass
class FakeWorld:
    store: InMemoryStore
    edulastic: FakeProvider
    mastery_track: FakeProvider
    providers: FakeProviders
    workflow: FakeWorkflow
    cipher: FakeCipher
    clock: FakeClock
    metrics: RecordingMetrics
    platform: FakePlatform | None = None  # set: the live TimeBack roster and EduBridge enrollments
    deps: Deps = field(init=False)

    def __post_init__(self) -> None:
        live = self.platform is not None
        clock = lambda: self.clock.now().timestamp()  # noqa: E731 - the adapters take a callable
        self.deps = Deps(
            store=self.store,
            providers=self.providers,
            cipher=self.cipher,
            workflow=self.workflow,
            metrics=self.metrics,
            roster=LiveRoster(self.platform, self.store, 300, clock)
            if self.platform
            else TableRoster(self.store),
            enroller=EduBridgeEnroller(self.platform) if live and self.platform else None,
            settings=TEST_SETTINGS,
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def with_settings(self, **changes: Any) -> FakeWorld:
        from dataclasses import replace

        self.deps.settings = replace(self.deps.settings, **changes)
        return self


def make_deps(roster: dict[str, Any] | None = None, *, live: bool = False) -> FakeWorld:
    """Fakes around the demo roster (or `roster`): in the table, or with `live` on a fake platform
    behind the live roster's cache."""
    roster = roster if roster is not None else demo_roster()
    edulastic, mastery_track = FakeProvider(EDULASTIC_TRAITS), FakeProvider(MASTERY_TRACK_TRAITS)
    clock = FakeClock()
    store = (
        InMemoryStore(roster_cache=True, clock=lambda: clock.now().timestamp())
        if live
        else InMemoryStore(roster)
    )
    return FakeWorld(
        store=store,
        platform=FakePlatform(roster) if live else None,
        edulastic=edulastic,
        mastery_track=mastery_track,
        providers=FakeProviders(edulastic, mastery_track),
        workflow=FakeWorkflow(),
        cipher=FakeCipher(),
        clock=clock,
        metrics=RecordingMetrics(),
    )
