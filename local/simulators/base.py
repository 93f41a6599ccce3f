"""What every simulator shares: lifecycle, issued tokens, state snapshots and the common control routes.

A simulator subclasses `Simulator`, sets its configuration, then calls `Simulator.__init__`,
which resets the provider state (`_reset_data`) and binds the server to the simulator's
provider routes (`_routes`) plus these control routes (no auth, no faults, not counted):

    POST /_control/expire-tokens  {}  every issued token stops working -> {"expired": n}
    POST /_control/advance-clock  {"seconds"}  moves the simulator clock (token expiry) -> {"now"}
    POST /_control/faults         see common.py;  GET /_control/faults
    GET  /_control/state          the simulator's own state plus {"calls", "faults", "now"}
    POST /_control/reset          the simulator's `_reset_data`, and clears faults, call counts and
                                  the clock offset; issued tokens survive (a reset between tests
                                  must not log the service out)

The simulator modules still look alike in places on purpose: the `__init__(self, host, port,
*, ...)` head, the `_routes` head and the `main()` tail. That is the shape every simulator has,
not behaviour to share.
"""

from __future__ import annotations

import copy
import logging
import secrets
import threading
from datetime import datetime, timedelta
from typing import Any, Self

from werkzeug.wrappers import Request, Response

from local.simulators.common import (
    AdjustableClock,
    Clock,
    FaultConfig,
    Faults,
    Handler,
    JsonDict,
    Route,
    SimulatorServer,
    control_error,
    is_number,
    iso,
    json_response,
    read_json,
)

log = logging.getLogger("local.simulators")


class TokenStore:
    """Issued tokens and when each stops working (None = only on expire-tokens).

    Not locked itself: callers hold their simulator's lock, since checks and rotations
    span several steps.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, datetime | None] = {}

    def issue(self, now: datetime, ttl: timedelta | None, prefix: str = "") -> str:
        # Drop dead tokens so a long local run does not grow without bound.
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp is None or exp > now}
        token = prefix + secrets.token_urlsafe(32)
        self._tokens[token] = now + ttl if ttl is not None else None
        return token

    def valid(self, token: str, now: datetime) -> bool:
        if token not in self._tokens:
            return False
        expiry = self._tokens[token]
        return expiry is None or expiry > now

    def limit(self, token: str, until: datetime) -> None:
        """The token stops working at `until` at the latest."""
        expiry = self._tokens.get(token)
        if token in self._tokens and (expiry is None or expiry > until):
            self._tokens[token] = until

    def expire_all(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        return count


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization`-style header `Bearer <token>`; None without that exact scheme."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme == "Bearer" else None


class Simulator:
    """A provider stand-in served by a `SimulatorServer`; provider routes live under `prefix`."""

    def __init__(self, name: str, host: str, port: int, prefix: str, clock: Clock | None) -> None:
        self.clock = AdjustableClock(clock)
        self._lock = threading.RLock()
        self.tokens = TokenStore()
        self._prefix = prefix
        self._reset_data()
        self.server = SimulatorServer(name, host, port, prefix, [*self._routes(), *self._shared_routes()])

    # -- what each simulator provides -------------------------------------------------------

    def _routes(self) -> list[Route]:
        raise NotImplementedError

    def _reset_data(self) -> None:
        """(Re)initialises the provider state; called at start and on reset, under the lock."""
        raise NotImplementedError

    def _state(self, now: datetime) -> JsonDict:
        """The provider state shown by `GET /_control/state`; called under the lock."""
        raise NotImplementedError

    def _authenticate(self, request: Request) -> dict[str, str]:
        """Raises the provider's 401 unless the request carries a valid token; returns headers to add."""
        raise NotImplementedError

    # -- public surface ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.server.base_url}{self._prefix}"

    @property
    def app_url(self) -> str:
        return self.server.base_url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def state(self) -> JsonDict:
        return self.snapshot()

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> JsonDict:
        with self._lock:
            now = self.clock()
            return copy.deepcopy(
                {
                    **self._state(now),
                    "calls": self.server.calls(),
                    "faults": self.server.faults.snapshot(),
                    "now": iso(now),
                }
            )

    # -- helpers for subclasses -------------------------------------------------------------

    def _authed(self, handler: Handler) -> Handler:
        def wrapper(request: Request, **kwargs: Any) -> Response:
            extra_headers = self._authenticate(request)
            response: Response = handler(request, **kwargs)
            response.headers.update(extra_headers)
            return response

        return wrapper

    def _bearer_valid(self, header: str) -> bool:
        token = bearer_token(header)
        with self._lock:
            return token is not None and self.tokens.valid(token, self.clock())

    # -- shared control routes --------------------------------------------------------------

    def _shared_routes(self) -> list[Route]:
        return [
            Route("POST", "/_control/expire-tokens", self._control_expire_tokens, False),
            Route("POST", "/_control/advance-clock", self._control_advance_clock, False),
            Route("GET", "/_control/state", self._control_state, False),
            Route("POST", "/_control/reset", self._control_reset, False),
            Route("POST", "/_control/faults", self._control_set_faults, False),
            Route("GET", "/_control/faults", self._control_get_faults, False),
        ]

    def _control_expire_tokens(self, request: Request) -> Response:
        with self._lock:
            count = self.tokens.expire_all()
        return json_response({"expired": count})

    def _control_advance_clock(self, request: Request) -> Response:
        body = read_json(request, control_error)
        seconds = body.get("seconds")
        if not is_number(seconds):
            raise control_error("seconds must be a number")
        self.clock.advance(seconds)
        return json_response({"now": iso(self.clock())})

    def _control_state(self, request: Request) -> Response:
        return json_response(self.snapshot())

    def _control_reset(self, request: Request) -> Response:
        with self._lock:
            self._reset_data()
            self.clock.reset()
            self.server.faults.reset()
            self.server.reset_calls()
        log.info("%s: state reset", self.server.name)
        return json_response({"reset": True})

    def _control_set_faults(self, request: Request) -> Response:
        config = FaultConfig.from_json(read_json(request, control_error))
        self.server.faults.configure(config)
        log.info("%s: faults set to %s", self.server.name, config.to_json())
        return json_response({"faults": self.server.faults.snapshot()})

    def _control_get_faults(self, request: Request) -> Response:
        return json_response({"faults": self.server.faults.snapshot()})
