"""Shared machinery for the provider simulators: routing, a threaded server, JSON helpers, faults.

Each simulator is a WSGI app served by werkzeug's threaded server on one host (default
127.0.0.1; port 0 picks a free port and `.port` reports it). Routes are either provider
routes (the real API's contract, counted in `calls`, subject to faults) or control routes
under `/_control/...` (for tests and the local stack: no auth, no faults, not counted).

Fault injection (`POST /_control/faults`) — the body replaces the whole fault config:

    {"errorRate": 0..1,      # answer 500/502/503 at random
     "timeoutRate": 0..1,    # process the request, then sleep `timeoutSeconds` before answering
     "timeoutSeconds": 15,
     "rateLimitRate": 0..1,  # answer 429 with `Retry-After: retryAfter`
     "retryAfter": 1,
     "latencyMs": 0,         # added to every provider request
     "outage": false,        # every provider route answers 503
     "seed": 123,            # optional: reproducible fault sequence
     "routes": ["POST /assignments/v2/assign"],  # optional: only these route templates
     "times": 2}             # optional: disarm after this many injected faults

Outage, rate-limit and error faults answer before the handler runs, so a faulted request
changes no state. A timeout fault is the exception on purpose: the request IS processed
and only the answer is delayed, so the client's read timeout fires on a create that did
happen — the case where a client must look the resource up instead of blindly retrying.
"""

from __future__ import annotations

import json
import logging
import random
import re
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

log = logging.getLogger("local.simulators")

JsonDict = dict[str, Any]
Handler = Callable[..., Response]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AdjustableClock:
    """Wraps a base clock with an offset that control routes can advance (token/assignment expiry)."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or utc_now
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            offset = self._offset
        return self._base() + offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), content_type="application/json"
    )


class HttpError(Exception):
    """Raised by handlers to answer with a given status and JSON body."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


def read_json(request: Request, error: Callable[[str], HttpError]) -> JsonDict:
    """The request's JSON object body; `error(message)` builds the provider-specific 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise error("invalid JSON body") from None
    if not isinstance(body, dict):
        raise error("JSON body must be an object")
    return body


def control_error(message: str, status: int = 400) -> HttpError:
    return HttpError(status, {"error": message})


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or float; JSON booleans are not numbers here, though bool subclasses int."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _rate(body: JsonDict, key: str) -> float:
    value = body.get(key, 0)
    if not is_number(value) or not 0 <= value <= 1:
        raise control_error(f"{key} must be a number between 0 and 1")
    return float(value)


def _number(body: JsonDict, key: str, default: float) -> float:
    value = body.get(key, default)
    if not is_number(value) or value < 0:
        raise control_error(f"{key} must be a non-negative number")
    return float(value)


@dataclass(frozen=True)
class FaultDecision:
    kind: str | None  # None | "outage" | "rate_limit" | "error" | "timeout"
    status: int = 0
    latency_s: float = 0.0
    timeout_s: float = 0.0
    retry_after: float = 0.0


# Deliberately alike with exttests.config.HttpSettings: both are plain tables of numbers with
# defaults, which is all a settings dataclass is.
@dataclass
class FaultConfig:
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 15.0
    rate_limit_rate: float = 0.0
    retry_after: float = 1.0
    latency_ms: float = 0.0
    outage: bool = False
    seed: int | None = None
    routes: frozenset[str] | None = None
    times: int | None = None

    @classmethod
    def from_json(cls, body: JsonDict) -> FaultConfig:
        outage = body.get("outage", False)
        if not isinstance(outage, bool):
            raise control_error("outage must be a boolean")
        seed = body.get("seed")
        if seed is not None and not is_int(seed):
            raise control_error("seed must be an integer")
        routes = body.get("routes")
        if routes is not None and (
            not isinstance(routes, list) or not all(isinstance(r, str) for r in routes)
        ):
            raise control_error("routes must be a list of 'METHOD /path-template' strings")
        times = body.get("times")
        if times is not None and (not is_int(times) or times < 0):
            raise control_error("times must be a non-negative integer")
        return cls(
            error_rate=_rate(body, "errorRate"),
            timeout_rate=_rate(body, "timeoutRate"),
            timeout_seconds=_number(body, "timeoutSeconds", 15.0),
            rate_limit_rate=_rate(body, "rateLimitRate"),
            retry_after=_number(body, "retryAfter", 1.0),
            latency_ms=_number(body, "latencyMs", 0.0),
            outage=outage,
            seed=seed,
            routes=frozenset(routes) if routes is not None else None,
            times=times,
        )

    def to_json(self) -> JsonDict:
        return {
            "errorRate": self.error_rate,
            "timeoutRate": self.timeout_rate,
            "timeoutSeconds": self.timeout_seconds,
            "rateLimitRate": self.rate_limit_rate,
            "retryAfter": self.retry_after,
            "latencyMs": self.latency_ms,
            "outage": self.outage,
            "seed": self.seed,
            "routes": sorted(self.routes) if self.routes is not None else None,
            "times": self.times,
        }


class Faults:
    """Thread-safe fault config plus the random source that drives it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._rng = random.Random()
        self.injected: dict[str, int] = {}

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)

    def reset(self) -> None:
        self.configure(FaultConfig())
        with self._lock:
            self.injected = {}

    def snapshot(self) -> JsonDict:
        with self._lock:
            return {**self._config.to_json(), "injected": dict(self.injected)}

    def decide(self, route: str) -> FaultDecision:
        with self._lock:
            c = self._config
            latency = c.latency_ms / 1000.0
            if c.routes is not None and route not in c.routes:
                return FaultDecision(None, latency_s=latency)
            if c.times is not None and c.times <= 0:
                return FaultDecision(None, latency_s=latency)
            decision: FaultDecision
            if c.outage:
                decision = FaultDecision("outage", 503, latency)
            else:
                # One draw per request keeps a seeded sequence stable when rates change together.
                draw = self._rng.random()
                if draw < c.rate_limit_rate:
                    decision = FaultDecision("rate_limit", 429, latency, retry_after=c.retry_after)
                elif draw < c.rate_limit_rate + c.error_rate:
                    decision = FaultDecision("error", self._rng.choice((500, 502, 503)), latency)
                elif draw < c.rate_limit_rate + c.error_rate + c.timeout_rate:
                    decision = FaultDecision("timeout", 0, latency, timeout_s=c.timeout_seconds)
                else:
                    return FaultDecision(None, latency_s=latency)
            if c.times is not None:
                c.times -= 1
            assert decision.kind is not None
            self.injected[decision.kind] = self.injected.get(decision.kind, 0) + 1
            return decision


def fault_response(decision: FaultDecision) -> Response:
    if decision.kind == "rate_limit":
        retry_after = decision.retry_after
        header = str(int(retry_after)) if retry_after == int(retry_after) else f"{retry_after:g}"
        return json_response({"message": "Too Many Requests"}, 429, {"Retry-After": header})
    if decision.kind == "outage":
        return json_response({"message": "Service Unavailable"}, 503)
    if decision.status == 502:
        # Gateways answer HTML, not the API's JSON: clients must not assume a JSON error body.
        return Response(
            "<html><body><h1>502 Bad Gateway</h1></body></html>", status=502, content_type="text/html"
        )
    return json_response({"message": "simulated provider error"}, decision.status)


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/assignments/{assignmentId}/..." — also the key in `calls`
    handler: Handler
    provider: bool = True


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class SimulatorServer:
    """Serves a set of routes; provider routes live under `prefix`, control routes at the root."""

    name: str
    host: str
    port: int
    prefix: str
    routes: list[Route]
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        rules = []
        self._by_endpoint: dict[str, Route] = {}
        for i, route in enumerate(self.routes):
            path = (self.prefix if route.provider else "") + _PLACEHOLDER.sub(r"<\1>", route.template)
            endpoint = f"r{i}"
            self._by_endpoint[endpoint] = route
            rules.append(Rule(path, endpoint=endpoint, methods=[route.method], strict_slashes=False))
        self._url_map = Map(rules)
        self._calls: dict[str, int] = {}
        self._calls_lock = threading.Lock()
        # Set on stop() so requests sleeping on a timeout fault do not hold up shutdown.
        self._stopping = threading.Event()
        self._server: BaseWSGIServer = make_server(self.host, self.port, self, threaded=True)
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}"

    def calls(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self._calls)

    def reset_calls(self) -> None:
        with self._calls_lock:
            self._calls = {}

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            # A short poll interval keeps stop() (and so test teardown) fast.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-simulator",
            daemon=True,
        )
        self._thread.start()
        log.info("%s simulator listening on %s", self.name, self.base_url)

    def serve_forever(self) -> None:
        log.info("%s simulator listening on %s", self.name, self.base_url)
        self._server.serve_forever()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return json_response({"message": f"no route for {request.method} {request.path}"}, 404)
        except MethodNotAllowed:
            return json_response({"message": f"method {request.method} not allowed"}, 405)
        route = self._by_endpoint[str(endpoint)]
        if not route.provider:
            return self._run(route, request, args)
        key = f"{route.method} {route.template}"
        with self._calls_lock:
            self._calls[key] = self._calls.get(key, 0) + 1
        decision = self.faults.decide(key)
        self.sleep(decision.latency_s)
        if decision.kind in ("outage", "rate_limit", "error"):
            log.info("%s: injected %s fault on %s", self.name, decision.kind, key)
            return fault_response(decision)
        response = self._run(route, request, args)
        if decision.kind == "timeout":
            log.info("%s: delaying %s answer by %ss (timeout fault)", self.name, key, decision.timeout_s)
            self.sleep(decision.timeout_s)
        return response

    def _run(self, route: Route, request: Request, args: Mapping[str, Any]) -> Response:
        try:
            return route.handler(request, **args)
        except HttpError as exc:
            return exc.response()
        except Exception:
            log.exception("%s: handler for %s %s failed", self.name, route.method, route.template)
            return json_response({"message": "simulator bug: unhandled exception"}, 500)


def run_until_interrupted(server: SimulatorServer) -> None:
    """Foreground serving for `python -m ...`; Ctrl-C (or SIGTERM, e.g. from a container) stops cleanly."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        # werkzeug's serve_forever swallows KeyboardInterrupt and closes the socket itself.
        server.serve_forever()
    finally:
        server._stopping.set()
        server._server.server_close()
        log.info("%s simulator stopped", server.name)
