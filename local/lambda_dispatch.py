"""Runs the real Lambda handlers when moto or the local gateway invokes a function.

One interface, `Invoker.invoke(FunctionSpec, event) -> Outcome`, two ways to run an invocation:
- `InProcessInvoker` (here): the handler runs in the calling thread, its module imported once per
  process. The in-process test fixtures use it (`mock_aws_with_workflow`, `install(...)`).
- `local.workers.WorkerPools`: each function runs in worker processes, one event at a time per
  worker, like Lambda's execution environments. The local stack uses it.

This is where the moto patches are applied (pinned: moto 5.2.5): `install` also serializes moto's
DynamoDB (`serialize_dynamodb`, with `local.moto_transactions`) and has moto compute once what it
recomputes from the same input on every execution or request (`local.moto_once`). Without Docker
moto's Lambda "simple" backend answers every invoke by echoing the payload; the patch
replaces `moto.awslambda_simple.models.LambdaSimpleBackend.invoke` so that an invocation of
a function named in the registry goes to the installed invoker. Functions not in the registry
keep moto's behaviour.

How a failure reaches Step Functions (read from moto 5.2.5
`stepfunctions/parser/asl/component/state/exec/state_task/lambda_eval_utils.py` and
`state_task_lambda.py`): the interpreter calls `lambda.invoke` through boto3, treats a
response with `FunctionError` (the `X-Amz-Function-Error` header) as a failure, parses the
payload as JSON and uses its `errorType` as the error name that Retry/Catch match; an error
answer of the Lambda API itself (a ClientError) becomes `Lambda.<code>`. The patch therefore
answers a raising handler with that header set to "Unhandled" and the payload the AWS Python
runtime produces: `{"errorMessage", "errorType", "requestId", "stackTrace"}` where `errorType`
is the exception class name (e.g. "ProviderUnavailable"); a timed-out invocation with Lambda's
`Sandbox.Timedout`; and no free execution environment with a 429 `TooManyRequestsException`
(`Lambda.TooManyRequestsException`, which the state machine retries).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import threading
import time
import traceback
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from local import moto_once

log = logging.getLogger("local.lambda_dispatch")

Handler = Callable[[Any, Any], Any]

WORKFLOW_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

_lock = threading.RLock()
_registry: dict[str, Path] = {}
_original_invoke: Callable[..., Any] | None = None
_invoker: Invoker | None = None
_modules: dict[Path, ModuleType] = {}


# --- handler loading -------------------------------------------------------------------------


def _module_name(functions_dir: Path) -> str:
    # Every function has an `app.py`; a per-directory name keeps them apart in sys.modules
    # and the hash keeps two checkouts (or tmp dirs in tests) with the same leaf apart too.
    digest = hashlib.sha256(str(functions_dir).encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() else "_" for c in functions_dir.name)
    return f"_local_lambda_{safe}_{digest}"


def load_module(functions_dir: str | Path) -> ModuleType:
    """Import `<functions_dir>/app.py` once per process (like a warm container)."""
    directory = Path(functions_dir).resolve()
    with _lock:
        cached = _modules.get(directory)
        if cached is not None:
            return cached
        app_path = directory / "app.py"
        spec = importlib.util.spec_from_file_location(_module_name(directory), app_path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load handler module {app_path}")
        module = importlib.util.module_from_spec(spec)
        # Registered only after a successful exec: a module that failed to import is retried
        # on the next invocation instead of being served half-initialised.
        spec.loader.exec_module(module)
        _modules[directory] = module
        return module


def module_handler(functions_dir: str | Path, attribute: str = "handler") -> Handler:
    """The handler function itself, as Lambda calls it (one event at a time per process)."""
    handler = getattr(load_module(functions_dir), attribute)
    if not callable(handler):
        raise TypeError(f"{functions_dir}/app.py: {attribute} is not callable")
    return handler  # type: ignore[no-any-return]


# Powertools' event handler keeps the request being resolved on the class
# (`BaseRouter.current_event`), shared by every resolver in the process. Lambda runs one event
# per process at a time, so that is safe there, and in the local stack's worker processes. Only
# when several threads call handlers in ONE process (the in-process test fixtures) do handlers
# built on a resolver have to take turns; the others (workflow tasks) run freely.
_in_process_resolver_lock = threading.Lock()


def _uses_resolver(module: ModuleType) -> bool:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    return isinstance(getattr(module, "app", None), ApiGatewayResolver)


def load_handler(functions_dir: str | Path, attribute: str = "handler") -> Handler:
    """The handler, safe to call from many threads of this process (see above)."""
    handler = module_handler(functions_dir, attribute)
    if not _uses_resolver(load_module(functions_dir)):
        return handler

    def one_at_a_time(event: Any, context: Any) -> Any:
        with _in_process_resolver_lock:
            return handler(event, context)

    return one_at_a_time


def clear_module_cache() -> None:
    with _lock:
        _modules.clear()


# Deliberately alike with FunctionSpec below: the context carries the function's name, memory
# and timeout because the AWS runtime's context object has those attributes.
@dataclass
class LambdaContext:
    """The attributes of the AWS Python runtime's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    timeout_seconds: float = 3.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            self.log_stream_name = f"local/[{self.function_version}]{self.aws_request_id[:8]}"
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_arn(
    function_name: str, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"


def make_context(
    function_name: str,
    *,
    invoked_function_arn: str | None = None,
    memory_limit_in_mb: int = 128,
    timeout_seconds: float = 3.0,
    request_id: str | None = None,
) -> LambdaContext:
    return LambdaContext(
        function_name=function_name,
        invoked_function_arn=invoked_function_arn or function_arn(function_name),
        memory_limit_in_mb=memory_limit_in_mb,
        timeout_seconds=timeout_seconds,
        aws_request_id=request_id or str(uuid.uuid4()),
    )


# --- invocations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """What an invocation needs to know about a function (from template.yaml / moto's config)."""

    name: str
    directory: Path
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    arn: str = ""

    def __post_init__(self) -> None:
        if not self.arn:
            object.__setattr__(self, "arn", function_arn(self.name))

    def context(self, request_id: str) -> LambdaContext:
        """A fresh context: its remaining time counts down from the function's timeout."""
        return make_context(
            self.name,
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            request_id=request_id,
        )


@dataclass(frozen=True)
class Outcome:
    """What Lambda answers a synchronous invoke: the JSON payload, and whether it is a function error."""

    payload: bytes
    failed: bool = False

    def value(self) -> Any:
        return json.loads(self.payload)

    @property
    def error_type(self) -> str | None:
        if not self.failed:
            return None
        try:
            error = self.value()
        except ValueError:
            return "Unknown"
        return str(error.get("errorType", "Unknown")) if isinstance(error, dict) else "Unknown"


class Throttled(Exception):
    """No execution environment of the function became free in time (Lambda's 429
    TooManyRequestsException), or the stack is stopping."""


def failure(error: Mapping[str, Any]) -> Outcome:
    return Outcome(json.dumps(error).encode(), failed=True)


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The body the AWS Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def timed_out(request_id: str, seconds: float) -> Outcome:
    """What Lambda answers when the function ran past its timeout (its environment is then reset)."""
    return failure(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds",
        }
    )


def run_handler(handler: Handler, event: Any, context: LambdaContext) -> Outcome:
    """Call the handler the way the Lambda runtime does: an exception is a function error, and
    a result that is not JSON is `Runtime.MarshalError`."""
    try:
        result = handler(event, context)
    except Exception as exc:  # every handler failure becomes a Lambda function error
        log.warning(
            "function %s raised %s",
            context.function_name,
            type(exc).__name__,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return failure(error_payload(exc, context.aws_request_id))
    try:
        return Outcome(json.dumps(result).encode())
    except (TypeError, ValueError) as exc:
        return failure(
            {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
                "requestId": context.aws_request_id,
                "stackTrace": [],
            }
        )


@dataclass(frozen=True)
class Invocation:
    """One invocation as the local stack saw it (`GET /_local/invocations`): no event, no result."""

    function: str
    request_id: str
    pid: int
    started: float  # epoch seconds, when the handler started
    ended: float
    outcome: str  # "ok" or the errorType
    cold_start: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "requestId": self.request_id,
            "pid": self.pid,
            "start": self.started,
            "end": self.ended,
            "durationMs": round((self.ended - self.started) * 1000, 1),
            "outcome": self.outcome,
            "coldStart": self.cold_start,
        }


class InvocationLog:
    """The most recent invocations, for the local-only `GET /_local/invocations` route."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[Invocation] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def record(self, invocation: Invocation) -> None:
        with self._lock:
            self._entries.append(invocation)

    def entries(self, function: str | None = None) -> list[Invocation]:
        with self._lock:
            return [i for i in self._entries if function is None or i.function == function]


class Invoker(Protocol):
    log: InvocationLog

    def invoke(self, spec: FunctionSpec, event: Any) -> Outcome:
        """Run one invocation; raises Throttled when no execution environment is free."""
        ...


class InProcessInvoker:
    """Runs the handler in the calling thread (see `load_handler` for resolver handlers)."""

    def __init__(self) -> None:
        self.log = InvocationLog()

    def invoke(self, spec: FunctionSpec, event: Any) -> Outcome:
        request_id = str(uuid.uuid4())
        context = spec.context(request_id)
        with _lock:
            cold = spec.directory.resolve() not in _modules
        started = time.time()
        try:
            handler = load_handler(spec.directory)
        except Exception as exc:  # an import error fails the invocation, as Lambda's init would
            log.warning("function %s could not be loaded: %s", spec.name, type(exc).__name__)
            outcome = failure(error_payload(exc, request_id))
        else:
            outcome = run_handler(handler, event, context)
        self.log.record(
            Invocation(
                spec.name, request_id, os.getpid(), started, time.time(), outcome.error_type or "ok", cold
            )
        )
        return outcome


# --- the moto patch ----------------------------------------------------------------------


def _function_name_of(name_or_arn: str) -> str:
    # The interpreter invokes by ARN (`arn:aws:lambda:r:a:function:NAME[:qualifier]`);
    # boto3 users usually by name.
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        if len(parts) >= 7:
            return parts[6]
    return name_or_arn.split(":")[0]


def _decode_event(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return {}
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    return json.loads(body)


def _spec_from_moto(backend: Any, name: str, qualifier: str | None, directory: Path) -> FunctionSpec:
    try:
        fn = backend.get_function(name, qualifier)
        return FunctionSpec(name, directory, float(fn.timeout), int(fn.memory_size), fn.function_arn)
    except Exception:  # the function config is a nicety for the context object
        log.debug("no moto function config for %s; using defaults", name)
        region = getattr(backend, "region_name", DEFAULT_REGION)
        return FunctionSpec(name, directory, arn=function_arn(name, region))


def _too_many_requests() -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    return error


def _patched_invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    name = _function_name_of(function_name)
    with _lock:
        directory = _registry.get(name)
        original = _original_invoke
        invoker = _invoker
    if directory is None or invoker is None:
        if original is None:  # pragma: no cover - only if uninstalled mid-call
            return None
        return original(self, function_name, qualifier, body, headers, response_headers)  # type: ignore[no-any-return]

    spec = _spec_from_moto(self, name, qualifier, directory)
    try:
        event = _decode_event(body)
    except ValueError as exc:
        outcome = failure(error_payload(exc, str(uuid.uuid4())))
    else:
        try:
            outcome = invoker.invoke(spec, event)
        except Throttled as exc:
            raise _too_many_requests() from exc
    if outcome.failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    return outcome.payload


_dynamodb_lock = threading.Lock()
_dynamodb_serialized = False
_DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_table_written = threading.Event()


def wait_for_a_table_write(timeout: float) -> bool:
    """Block until a DynamoDB write request has run in this process since the last call (or
    `timeout` passes, or `wake_table_watchers`), then re-arm. The table's stream reader waits
    here instead of polling moto several times a second for nothing."""
    written = _table_written.wait(timeout)
    _table_written.clear()
    return written


def wake_table_watchers() -> None:
    _table_written.set()


def serialize_dynamodb() -> None:
    """Run moto's DynamoDB requests one at a time.

    moto's DynamoDB backend is not thread safe: a transaction deep-copies a table while another
    thread writes to it ("dictionary changed size during iteration"). DynamoDB itself
    serializes per item, so one lock around moto's request handling is the faithful stand-in.
    Permanent for the process (it only removes a moto race)."""
    global _dynamodb_serialized
    from moto.dynamodb.responses import DynamoHandler

    with _lock:
        if _dynamodb_serialized:
            return
        original = DynamoHandler.call_action
        from moto.core.model_instances import reset_model_data

        from local import moto_transactions

        moto_transactions.install()

        def call_action(self: Any) -> Any:
            with _dynamodb_lock:
                try:
                    return original(self)
                finally:
                    # moto registers every model instance it makes for its dashboard, and each
                    # transaction deep-copies the table: never released, a long-running stack
                    # grows by gigabytes and its garbage collections slow everything down.
                    reset_model_data()
                    if self._get_action() in _DYNAMODB_WRITES:
                        _table_written.set()

        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        _dynamodb_serialized = True


@contextlib.contextmanager
def dynamodb_paused() -> Iterator[None]:
    """No moto DynamoDB request runs in this process while the block runs (a consistent snapshot)."""
    serialize_dynamodb()
    with _dynamodb_lock:
        yield


def install(registry: Mapping[str, str | Path], invoker: Invoker | None = None) -> None:
    """Route invocations of the named moto functions to `invoker` (default: in-process).

    `registry` maps moto function name → functions directory. Calling it again adds to (and
    overrides entries of) the registry and replaces the invoker when one is given; the patch
    itself is applied once.
    """
    global _original_invoke, _invoker
    from moto.awslambda_simple.models import LambdaSimpleBackend

    serialize_dynamodb()
    moto_once.install()
    with _lock:
        _registry.update({name: Path(d).resolve() for name, d in registry.items()})
        if invoker is not None:
            _invoker = invoker
        elif _invoker is None:
            _invoker = InProcessInvoker()
        if _original_invoke is None:
            _original_invoke = LambdaSimpleBackend.invoke
            LambdaSimpleBackend.invoke = _patched_invoke  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own invoke and forget the registry and invoker (the module cache stays)."""
    global _original_invoke, _invoker
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with _lock:
        if _original_invoke is not None:
            LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
            _original_invoke = None
        _registry.clear()
        _invoker = None


def installed() -> bool:
    with _lock:
        return _original_invoke is not None


def registry() -> dict[str, Path]:
    with _lock:
        return dict(_registry)


def configure_moto_server(endpoint: str, timeout: float = 10.0) -> dict[str, Any]:
    """Turn on state machine execution and the Docker-less Lambda backend of a moto server."""
    request = urllib.request.Request(
        endpoint.rstrip("/") + "/moto-api/config",
        data=json.dumps(WORKFLOW_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
    return answer


@contextlib.contextmanager
def mock_aws_with_workflow(registry: Mapping[str, str | Path] | None = None) -> Iterator[None]:
    """`mock_aws` with Step Functions executing and Lambda invokes dispatched to real handlers.

    Uninstalls the dispatch on exit, so do not nest it inside another user of the patch.
    """
    from moto import mock_aws

    with mock_aws(config=WORKFLOW_CONFIG):  # type: ignore[call-overload]
        install(registry or {})
        try:
            yield
        finally:
            uninstall()
