"""Test doubles for the HTTP core: a scripted local HTTP server (so urllib3's own retry loop,
timeouts and dropped connections really run), a capture of the service's log and an observer
that records what it is told; and the fixtures the provider and TimeBack tests share (their
conftest files import them)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import responses

from exttests.observability import logger
from exttests.providers import http as core
from exttests.providers.observer import set_observer

# The time every test clock starts at (2023-11-14T22:13:20Z).
NOW = 1_700_000_000.0


class Clock:
    """A wall clock that only moves when a test (or a Sleeper) moves it."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeper:
    """Records each wait and moves the clock by it instead of sleeping."""

    def __init__(self, clock: Clock) -> None:
        self.calls: list[float] = []
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.now += seconds


@dataclass(frozen=True)
class Step:
    """One scripted answer: after `delay` seconds, `status` with a JSON body; or, with
    `drop`, close the connection without answering (the request was received)."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Answers each (method, path) with its script, in order; the last step repeats.
    Anything unscripted gets a 404."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._scripts: dict[tuple[str, str], list[Step]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                step = server._take(self.command, self.path, dict(self.headers), body)
                if step.delay:
                    server._stopping.wait(step.delay)
                if step.drop:
                    self.close_connection = True
                    return
                payload = json.dumps(step.body).encode()
                try:
                    self.send_response(step.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in step.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The client stopped waiting (the timeout tests): nobody to answer.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def script(self, method: str, path: str, *steps: Step) -> None:
        with self._lock:
            self._scripts[(method, path)] = list(steps)

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.received if r.method == method and r.path.split("?")[0] == path)

    def _take(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Step:
        with self._lock:
            self.received.append(Received(method, path, headers, body))
            steps = self._scripts.get((method, path.split("?")[0]))
            if not steps:
                return Step(status=404, body={"error": "not scripted"})
            return steps.pop(0) if len(steps) > 1 else steps[0]

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A URL on which nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        """Each record's message and every field on it (structured keys included)."""
        return [f"{r.getMessage()} {r.__dict__!r}" for r in self.records]


@contextmanager
def captured_log() -> Iterator[LogCapture]:
    """Everything the service's logger emits, at every level, while the block runs."""
    capture = LogCapture()
    previous = logger.log_level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        logger.setLevel(previous)
        logger.removeHandler(capture)


@dataclass
class RecordingObserver:
    calls: list[tuple[str, str, str, int | str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)

    def call(
        self, provider: str, method: str, path_template: str, status_or_error: int | str, elapsed_ms: float
    ) -> None:
        assert elapsed_ms >= 0
        self.calls.append((provider, method, path_template, status_or_error))

    def call_failed(self, provider: str) -> None:
        self.failed.append(provider)

    def circuit_opened(self, provider: str) -> None:
        self.opened.append(provider)


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_http_state() -> Iterator[None]:
    core.reset_state()
    set_observer(None)
    yield
    core.reset_state()
    set_observer(None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeper(clock: Clock) -> Sleeper:
    return Sleeper(clock)


@pytest.fixture
def sleeps(sleeper: Sleeper) -> list[float]:
    """The waits the code under test asked for (none of them really happen)."""
    return sleeper.calls


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.stop()


@pytest.fixture
def log() -> Iterator[LogCapture]:
    with captured_log() as capture:
        yield capture
