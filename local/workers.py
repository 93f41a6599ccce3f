"""Worker pools: each function runs the way Lambda runs it, in execution environments of its own.

`WorkerPools` is the local stack's invoker (`local.lambda_dispatch.Invoker`): the HTTP gateway
and moto's Lambda invoke (the Step Functions tasks) both go through it. Per function:
- a pool of worker processes (`python -m local.lambda_runtime`), spawned on demand when every
  worker is busy, up to `max_per_function` (LOCAL_WORKERS_PER_FUNCTION); none at start;
- one event at a time per worker; an idle worker is reused (a warm container, its module and
  clients already loaded), the most recently used first;
- every worker gets the function's environment: the stack's (table, key, state machine,
  providers, AWS_ENDPOINT_URL pointing at the shared moto server) plus what Lambda sets
  (AWS_LAMBDA_FUNCTION_NAME, ...), and the layer on PYTHONPATH;
- a worker still busy past the function's Timeout is killed and the invocation fails with
  Lambda's `Sandbox.Timedout`; a worker that dies fails it with `Runtime.ExitError`; the next
  invocation spawns a fresh worker;
- a caller waits for a free worker at most the function's Timeout, then gets `Throttled`
  (Lambda's 429 TooManyRequestsException).
Every invocation is recorded (function, request id, worker pid, start, end, outcome) for
`GET /_local/invocations`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import selectors
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from local import lambda_dispatch
from local.lambda_dispatch import FunctionSpec, Invocation, InvocationLog, Outcome
from local.lambda_runtime import encode_frame, invocation_message, take_frame

log = logging.getLogger("local.workers")

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYER_PATH = REPO_ROOT / "layers" / "shared" / "python"
DEFAULT_WORKERS_PER_FUNCTION = 4
# Lambda gives the init phase (importing the module) 10 s, or the function's timeout if longer.
INIT_TIMEOUT_SECONDS = 10.0


class WorkerGone(Exception):
    """The worker process exited (crashed, or was killed)."""


# Workers are forked from a server process that has already imported the third-party libraries
# every handler imports (local.worker_preload): a worker's init phase then imports the handler and
# the layer's code, not boto3 and pydantic again (~0.25 s of CPU less per worker). The server is
# started on the first worker, by exec (never a fork of this multi-threaded process).
_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(["local.worker_preload"])


class Worker:
    """One worker process and its two pipes (events in, answers out)."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str]) -> None:
        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        # The child's ends, as Connections: they travel to the forked worker as file descriptors.
        child_ends = (Connection(requests_r, writable=False), Connection(answers_w, readable=False))
        try:
            self.process = _FORKSERVER.Process(
                target=run_worker,
                args=(str(spec.directory), dict(environment), *child_ends),
                name=f"lambda-{spec.name}",
                daemon=False,
            )
            self.process.start()
        except BaseException:
            os.close(requests_w)
            os.close(answers_r)
            raise
        finally:
            for end in child_ends:  # the child has its own copies now
                end.close()
        assert self.process.pid is not None
        self.pid: int = self.process.pid
        self._requests = requests_w
        self._answers = answers_r
        self._buffer = bytearray()
        self._selector = selectors.DefaultSelector()
        self._selector.register(answers_r, selectors.EVENT_READ)
        self._stopped = False

    def send(self, message: Mapping[str, Any]) -> None:
        data = encode_frame(message)
        try:
            while data:
                data = data[os.write(self._requests, data) :]
        except OSError as exc:
            raise WorkerGone() from exc

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The worker's next message, or None when it did not come within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (message := take_frame(self._buffer)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                return None
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise WorkerGone()
            self._buffer += chunk
        return message

    def exit_code(self, timeout: float) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode

    def kill(self) -> None:
        """Kill the process; a thread waiting for its answer then sees it gone."""
        self.process.kill()

    def stop(self) -> None:
        """Kill the process and close its pipes (once; only by the thread that holds the worker)."""
        if self._stopped:
            return
        self._stopped = True
        self.process.kill()
        self.process.join()
        with contextlib.suppress(OSError):
            os.close(self._requests)
        self._selector.close()
        os.close(self._answers)
        self.process.close()


def run_worker(
    directory: str, environment: dict[str, str], requests: Connection, answers: Connection
) -> None:
    """The worker process (forked from the preloaded server): the function's environment, the
    layer importable, then `local.lambda_runtime` on the two pipes."""
    os.environ.clear()
    os.environ.update(environment)
    for path in reversed([p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]):
        if path not in sys.path:
            sys.path.insert(0, path)
    from local import lambda_runtime

    requests_fd, answers_fd = os.dup(requests.fileno()), os.dup(answers.fileno())
    requests.close()
    answers.close()
    raise SystemExit(lambda_runtime.run(Path(directory), requests_fd, answers_fd))


class InitFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error_type)
        self.outcome = outcome


class FunctionPool:
    """The execution environments of one function."""

    def __init__(
        self, spec: FunctionSpec, environment: Mapping[str, str], max_workers: int, log_: InvocationLog
    ) -> None:
        self.spec = spec
        self.environment = environment
        self.max_workers = max_workers
        self._log = log_
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._starting = 0
        self._closed = False

    def invoke(self, event: Any) -> Outcome:
        request_id = str(uuid.uuid4())
        try:
            worker, cold = self._acquire()
        except InitFailed as failed:
            now = time.time()
            self._record(request_id, 0, now, now, failed.outcome, cold=True)
            return failed.outcome
        started = time.time()
        answer: dict[str, Any] | None = None
        try:
            worker.send(invocation_message(self.spec, request_id, event))
            answer = worker.receive(self.spec.timeout_seconds)
            outcome = (
                lambda_dispatch.timed_out(request_id, self.spec.timeout_seconds)
                if answer is None
                else Outcome(str(answer["payload"]).encode(), bool(answer["failed"]))
            )
        except WorkerGone:
            outcome = _exited(request_id, worker)
        healthy = answer is not None
        if not healthy:
            log.warning("function %s: worker %d %s; replaced", self.spec.name, worker.pid, outcome.error_type)
        self._release(worker, healthy)
        if answer is not None:
            started, ended = float(answer["started"]), float(answer["ended"])
        else:
            ended = time.time()
        self._record(request_id, worker.pid, started, ended, outcome, cold)
        return outcome

    def _record(
        self, request_id: str, pid: int, started: float, ended: float, outcome: Outcome, cold: bool
    ) -> None:
        self._log.record(
            Invocation(self.spec.name, request_id, pid, started, ended, outcome.error_type or "ok", cold)
        )

    def _acquire(self) -> tuple[Worker, bool]:
        """An idle worker, else a new one when the pool may grow, else wait for one to be free."""
        deadline = time.monotonic() + self.spec.timeout_seconds
        with self._cond:
            while True:
                if self._closed:
                    raise lambda_dispatch.Throttled(f"{self.spec.name}: the local stack is stopping")
                if self._idle:
                    worker = self._idle.pop()
                    self._busy.add(worker)
                    return worker, False
                if len(self._busy) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise lambda_dispatch.Throttled(
                        f"{self.spec.name}: all {self.max_workers} workers stayed busy"
                    )
                self._cond.wait(remaining)
        try:
            worker = self._start_worker()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1  # and busy at once: the pool never holds more than its maximum
            closed = self._closed
            if not closed:
                self._busy.add(worker)
        if closed:
            worker.stop()
            raise lambda_dispatch.Throttled(f"{self.spec.name}: the local stack is stopping")
        return worker, True

    def _start_worker(self) -> Worker:
        worker = Worker(self.spec, self.environment)
        init_timeout = max(INIT_TIMEOUT_SECONDS, self.spec.timeout_seconds)
        try:
            ready = worker.receive(init_timeout)
        except WorkerGone:
            worker.stop()
            raise InitFailed(_exited("init", worker)) from None
        if ready is None or not ready.get("ready"):
            worker.stop()
            if ready is None:
                raise InitFailed(lambda_dispatch.timed_out("init", init_timeout))
            raise InitFailed(lambda_dispatch.failure(ready.get("error") or {"errorType": "Runtime.Unknown"}))
        return worker

    def _release(self, worker: Worker, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = healthy and not self._closed
            if keep:
                self._idle.append(worker)
            self._cond.notify()
        if not keep:
            worker.stop()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, busy = list(self._idle), list(self._busy)
            self._idle.clear()
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
        for worker in busy:  # its invocation fails (Runtime.ExitError) and releases it
            worker.kill()


def _exited(request_id: str, worker: Worker) -> Outcome:
    code = worker.exit_code(timeout=1)
    return lambda_dispatch.failure(
        {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}",
        }
    )


def function_environment(base: Mapping[str, str], spec: FunctionSpec) -> dict[str, str]:
    """The stack's environment plus what Lambda sets for the function; the layer is importable."""
    pythonpath = [str(LAYER_PATH)] + [p for p in base.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {
        **base,
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
    }


class WorkerPools:
    """One FunctionPool per function, created at its first invocation."""

    def __init__(
        self, environment: Mapping[str, str], max_per_function: int = DEFAULT_WORKERS_PER_FUNCTION
    ) -> None:
        if max_per_function < 1:
            raise ValueError(f"workers per function must be at least 1, not {max_per_function}")
        self.environment = dict(environment)
        self.max_per_function = max_per_function
        self.log = InvocationLog()
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._closed = False

    def invoke(self, spec: FunctionSpec, event: Any) -> Outcome:
        return self._pool(spec).invoke(event)

    def _pool(self, spec: FunctionSpec) -> FunctionPool:
        with self._lock:
            if self._closed:
                raise lambda_dispatch.Throttled(f"{spec.name}: the local stack is stopping")
            # One pool per function name: the gateway's and moto's specs of a function agree.
            pool = self._pools.get(spec.name)
            if pool is None:
                environment = function_environment(self.environment, spec)
                pool = FunctionPool(spec, environment, self.max_per_function, self.log)
                self._pools[spec.name] = pool
            return pool

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
