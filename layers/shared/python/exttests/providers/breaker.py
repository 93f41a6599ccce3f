"""A circuit breaker per provider: after repeated failed calls, fail fast until a cool-down."""

from __future__ import annotations

import math
import threading

from exttests.errors import CircuitOpen


class CircuitBreaker:
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"

    def __init__(self, provider: str, failure_threshold: int = 5, cooldown: float = 30.0) -> None:
        self.provider = provider
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.state = self.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._lock = threading.Lock()

    def before_call(self, now: float) -> None:
        """Raise CircuitOpen while open; after the cool-down let calls through as trials."""
        with self._lock:
            self._raise_if_open(now)
            if self.state == self.OPEN:
                self.state = self.HALF_OPEN

    def check(self, now: float) -> None:
        """Raise CircuitOpen while open, without using up a half-open trial."""
        with self._lock:
            self._raise_if_open(now)

    def _raise_if_open(self, now: float) -> None:
        if self.state != self.OPEN:
            return
        remaining = self.opened_at + self.cooldown - now
        if remaining > 0:
            raise CircuitOpen(self.provider, retry_after=max(1, math.ceil(remaining)))

    def record_success(self) -> None:
        with self._lock:
            self.state = self.CLOSED
            self.failures = 0

    def record_failure(self, now: float) -> bool:
        """Count a failed call; True when this failure opened the circuit."""
        with self._lock:
            self.failures += 1
            if self.state == self.HALF_OPEN or self.failures >= self.failure_threshold:
                opened = self.state != self.OPEN
                self.state = self.OPEN
                self.opened_at = now
                return opened
            return False
