"""Records every metric the use cases emit."""

from __future__ import annotations

import threading
from collections import Counter


class RecordingMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str | None, str | None]] = Counter()
        self.gauges: dict[str, float] = {}

    def count(
        self, name: str, value: float = 1, *, provider: str | None = None, lesson_type: str | None = None
    ) -> None:
        with self._lock:
            self.counts[(name, provider, lesson_type)] += value

    def gauge(self, name: str, value: float, unit: str = "Seconds") -> None:
        with self._lock:
            self.gauges[name] = value

    def total(self, name: str) -> float:
        with self._lock:
            return sum(v for (n, _, _), v in self.counts.items() if n == name)
