"""Tokens the services gave us, kept per process so a warm container skips the login."""

from __future__ import annotations

import threading
from typing import NamedTuple


class Token(NamedTuple):
    value: str
    # Clock time from which the token must not be used any more; None: until it is refused.
    expires_at: float | None


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}

    def get(self, key: str) -> Token | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, key: str, value: str) -> None:
        # Only drop the token that failed: another caller may already have stored a fresh one.
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


token_cache = TokenCache()
