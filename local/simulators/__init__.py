"""Local stand-ins for the Edulastic, MasteryTrack and TimeBack platform APIs (see each module's docstring).

The factories are imported lazily so `python -m local.simulators.edulastic` does not load
the module twice (once via this package, once as __main__).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.simulators.edulastic import EdulasticSimulator, create_edulastic_simulator
    from local.simulators.mastery_track import MasteryTrackSimulator, create_mastery_track_simulator
    from local.simulators.timeback import TimeBackSimulator, create_timeback_simulator

__all__ = [
    "EdulasticSimulator",
    "MasteryTrackSimulator",
    "TimeBackSimulator",
    "create_edulastic_simulator",
    "create_mastery_track_simulator",
    "create_timeback_simulator",
]


def __getattr__(name: str) -> Any:
    if name in ("EdulasticSimulator", "create_edulastic_simulator"):
        from local.simulators import edulastic

        return getattr(edulastic, name)
    if name in ("MasteryTrackSimulator", "create_mastery_track_simulator"):
        from local.simulators import mastery_track

        return getattr(mastery_track, name)
    if name in ("TimeBackSimulator", "create_timeback_simulator"):
        from local.simulators import timeback

        return getattr(timeback, name)
    raise AttributeError(name)
