"""The local stack: `python -m local.stack` (what `make run` calls; local/stack/__main__.py).

Starts, all on 127.0.0.1: moto's server (DynamoDB, KMS, Lambda, Step Functions executing
the real ASL), the resources of template.yaml on it, the roster, the two provider simulators,
the HTTP front (API Gateway HTTP API v2 events + JWT authorizer + OAuth2 token endpoint), and
the template's schedules (the sweeper). Every Lambda invocation — from the HTTP front, from a
workflow task (moto's Lambda invoke, patched in `local.lambda_dispatch`) or from a schedule —
runs in a worker process of that function's pool (`local.workers`): one event at a time per
worker, workers spawned on demand and reused while warm, all talking to the one moto server
through AWS_ENDPOINT_URL. So HTTP requests and workflow tasks run in parallel, as in AWS.

Settings (environment):
  PORT                     API port (default 3000; 0 = a free port)
  LOCAL_CLIENT_ID          OAuth2 client with every scope (default "local-client")
  LOCAL_CLIENT_SECRET      its secret (default "local-secret": a fixed, DEV-ONLY secret so
                           that scripts can hard-code it; the stack only listens on 127.0.0.1)
  ROSTER_FILE              roster JSON loaded into the table (default local/demo_roster.json)
  EDULASTIC_BASE_URL       use this Edulastic instead of starting the simulator; then
                           EDULASTIC_USERNAME/PASSWORD/CLASS_ID/CLASS_CODE/DISTRICT_ID/APP_URL
                           are passed through to the handlers
  MASTERY_TRACK_BASE_URL   same for MasteryTrack (MASTERY_TRACK_API_KEY/EMAIL passed through)
  WORKFLOW_WAIT_SECONDS    comma-separated waits (default "60,120,300,600,1800,3600")
  CALLBACK_TIMEOUT_SECONDS MasteryTrack callback timeout (default 21600)
  LOCAL_WORKERS_PER_FUNCTION  most worker processes per function (default 4): as many
                           invocations of one function run at once; more wait for a free
                           worker (at most the function's Timeout, then the invocation is
                           throttled). A worker busy past the function's Timeout is killed:
                           Sandbox.Timedout for Step Functions, 500 for the HTTP API.
  SWEEPER_INTERVAL_SECONDS seconds between runs of the sweeper (default: the template's
                           rate(5 minutes) = 300; 0 = never), invoked with a scheduled event
                           as EventBridge does
  LOCAL_STATE_DIR          keep the stack's data across restarts in this directory (default:
                           unset, everything in memory): the table's items and the KMS key
                           (students' passwords stay decryptable). Saved at a clean stop and
                           every LOCAL_STATE_SAVE_SECONDS (default 10; 0 = only at the stop),
                           restored at start before the roster is loaded. Workflow executions
                           are not kept: after a restart the sweeper restarts the workflow of
                           each attempt that still needs one, once it is due. Keep the
                           directory private (a pickle). See local/state.py.
  MOTO_PORT                moto's port (default: a free port)
  EDULASTIC_SIM_PORT, MASTERY_TRACK_SIM_PORT   simulator ports (default: free ports)
  LOG_LEVEL                default INFO

Local-only route: `GET /_local/invocations[?function=NAME]` lists the recent invocations
(function, request id, worker pid, start/end, outcome, cold start).

Programmatic use (tests):

    with LocalStack(Settings(port=0, workflow_wait_seconds="0")) as stack:
        token = requests.post(stack.token_url, auth=(stack.client_id, stack.client_secret),
                              data={"grant_type": "client_credentials"}).json()["access_token"]
        requests.get(stack.api_url + "/powerpath/getAssessmentProgress", ...)

Only one LocalStack may run in a process at a time: it sets process-wide state (os.environ
for boto3 and the handlers, moto's global backends and config, the dispatch patch). `start`
resets moto's in-memory state (then restores LOCAL_STATE_DIR's); `stop` saves the state, stops
the workers, restores os.environ and removes the dispatch patch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_LAYER_PATH = str(REPO_ROOT / "layers" / "shared" / "python")
# The handlers import the shared layer as Lambda would find it on /opt/python.
if _LAYER_PATH not in sys.path:
    sys.path.insert(0, _LAYER_PATH)

from exttests.errors import ConfigError  # noqa: E402
from local import cfn_yaml, discovery, lambda_dispatch, logs, moto_imports, moto_once  # noqa: E402
from local.auth import Issuer  # noqa: E402
from local.aws_resources import (  # noqa: E402
    DEFAULT_ACCOUNT_ID,
    DEFAULT_STACK_NAME,
    Resources,
    create_resources,
)
from local.events import EventDelivery, StreamPublisher  # noqa: E402
from local.gateway import Gateway, routes_from_template  # noqa: E402
from local.schedules import Scheduler, schedules_from_template  # noqa: E402
from local.state import StateStore  # noqa: E402
from local.workers import DEFAULT_WORKERS_PER_FUNCTION, WorkerPools  # noqa: E402

log = logging.getLogger("local.stack")

HOST = "127.0.0.1"
REGION = "us-east-1"
DEFAULT_CLIENT_ID = "local-client"
DEFAULT_CLIENT_SECRET = "local-secret"  # dev-only; documented above and in the README
WRITEBACK_CLIENT_ID = "mastery-track-writeback"
TIMEBACK_VARIABLES = (
    "TIMEBACK_API_URL",
    "TIMEBACK_TOKEN_URL",
    "TIMEBACK_CLIENT_ID",
    "TIMEBACK_CLIENT_SECRET",
)
TIMEBACK_SIM_CLIENT_ID = "exttests-local-service"
AUDIENCE = "exttests-local-api"
_instance_lock = threading.Lock()
_running: LocalStack | None = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port(raw: str | None, default: int) -> int:
    return int(raw) if raw not in (None, "") else default


def _seconds(raw: str | None) -> float | None:
    return float(raw) if raw not in (None, "") else None


def _default(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass
class Settings:
    port: int = 3000
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    roster_file: str | None = str(REPO_ROOT / "local" / "demo_roster.json")
    template_path: str = str(REPO_ROOT / "template.yaml")
    edulastic_base_url: str | None = None
    mastery_track_base_url: str | None = None
    # Provider settings passed to the handlers when a real/other provider URL is given.
    provider_env: dict[str, str] = field(default_factory=dict)
    workflow_wait_seconds: str = "60,120,300,600,1800,3600"
    callback_timeout_seconds: int = 21600
    mastery_threshold: str = "90"
    moto_port: int = 0
    edulastic_sim_port: int = 0
    mastery_track_sim_port: int = 0
    log_level: str = "INFO"
    token_ttl: int = 3600
    workers_per_function: int = DEFAULT_WORKERS_PER_FUNCTION
    sweeper_interval_seconds: float | None = None  # None: the template's rate
    state_dir: str | None = None
    state_save_seconds: float = 10.0
    # The learning platform: "table" (the roster file in the table) or "timeback" (the TimeBack
    # simulator seeded from the roster file, or the server TIMEBACK_API_URL names).
    roster_source: str = "table"
    timeback_env: dict[str, str] = field(default_factory=dict)
    timeback_sim_port: int = 0
    # Events: every one published is POSTed (EventBridge envelope) here, when set.
    events_webhook_url: str | None = None
    events_webhook_secret: str | None = None
    event_source: str = "exttests"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        passthrough = (
            "EDULASTIC_USERNAME",
            "EDULASTIC_PASSWORD",
            "EDULASTIC_CLASS_ID",
            "EDULASTIC_CLASS_CODE",
            "EDULASTIC_DISTRICT_ID",
            "EDULASTIC_APP_URL",
            "MASTERY_TRACK_API_KEY",
            "MASTERY_TRACK_EMAIL",
            "EDULASTIC_DEADLINE_DAYS",
            "MASTERY_TRACK_DEADLINE_DAYS",
        )
        return cls(
            port=_port(env.get("PORT"), 3000),
            client_id=env.get("LOCAL_CLIENT_ID") or DEFAULT_CLIENT_ID,
            client_secret=env.get("LOCAL_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
            roster_file=env.get("ROSTER_FILE") or str(REPO_ROOT / "local" / "demo_roster.json"),
            edulastic_base_url=env.get("EDULASTIC_BASE_URL") or None,
            mastery_track_base_url=env.get("MASTERY_TRACK_BASE_URL") or None,
            provider_env={k: env[k] for k in passthrough if env.get(k)},
            workflow_wait_seconds=env.get("WORKFLOW_WAIT_SECONDS") or "60,120,300,600,1800,3600",
            callback_timeout_seconds=int(env.get("CALLBACK_TIMEOUT_SECONDS") or 21600),
            mastery_threshold=env.get("MASTERY_THRESHOLD") or "90",
            moto_port=_port(env.get("MOTO_PORT"), 0),
            edulastic_sim_port=_port(env.get("EDULASTIC_SIM_PORT"), 0),
            mastery_track_sim_port=_port(env.get("MASTERY_TRACK_SIM_PORT"), 0),
            log_level=env.get("LOG_LEVEL") or "INFO",
            token_ttl=int(env.get("LOCAL_TOKEN_TTL") or 3600),
            workers_per_function=int(env.get("LOCAL_WORKERS_PER_FUNCTION") or DEFAULT_WORKERS_PER_FUNCTION),
            sweeper_interval_seconds=_seconds(env.get("SWEEPER_INTERVAL_SECONDS")),
            state_dir=env.get("LOCAL_STATE_DIR") or None,
            state_save_seconds=_default(_seconds(env.get("LOCAL_STATE_SAVE_SECONDS")), 10.0),
            roster_source=(env.get("ROSTER_SOURCE") or "table").strip().lower(),
            timeback_env={k: env[k] for k in TIMEBACK_VARIABLES if env.get(k)},
            timeback_sim_port=_port(env.get("TIMEBACK_SIM_PORT"), 0),
            events_webhook_url=env.get("EVENTS_WEBHOOK_URL") or None,
            events_webhook_secret=env.get("EVENTS_WEBHOOK_SECRET") or None,
            event_source=env.get("EVENT_SOURCE") or "exttests",
        )


class LocalStack:
    """Programmatic start/stop of the whole local stack (see the module docstring)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.api_url = ""
        self.token_url = ""
        self.client_id = self.settings.client_id
        self.client_secret = self.settings.client_secret
        self.edulastic: Any = None
        self.mastery_track: Any = None
        self.timeback: Any = None  # the platform simulator, when started
        self.roster_counts: dict[str, int] = {}
        self.outbox: StreamPublisher | None = None
        self.delivery: EventDelivery | None = None
        self.resources: Resources | None = None
        self.moto_endpoint = ""
        self.issuer: Issuer | None = None
        self.gateway: Gateway | None = None
        self.pools: WorkerPools | None = None
        self.scheduler: Scheduler | None = None
        self.state: StateStore | None = None
        self._moto: Any = None
        self._saved_env: dict[str, str | None] = {}

    # --- lifecycle ---

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        global _running
        with _instance_lock:
            if _running is not None:
                raise RuntimeError(
                    "a LocalStack is already running in this process (os.environ is process-wide)"
                )
            _running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _setenv(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _start(self) -> None:
        moto_imports.defer_batch_models()
        moto_once.install()  # before the state machine is created: its validation parses it
        from moto.server import ThreadedMotoServer

        s = self.settings
        # moto's and the gateway's werkzeug servers log every request at INFO; the gateway
        # logs its own summary line instead. Respect a level the caller chose.
        werkzeug_logger = logging.getLogger("werkzeug")
        if werkzeug_logger.level == logging.NOTSET and s.log_level.upper() != "DEBUG":
            werkzeug_logger.setLevel(logging.WARNING)
        moto_port = s.moto_port or _free_port()
        self._moto = ThreadedMotoServer(ip_address=HOST, port=moto_port, verbose=False)
        self._moto.start()
        moto_port = self._moto.get_host_and_port()[1]
        self.moto_endpoint = f"http://{HOST}:{moto_port}"
        # moto's backends are process-global: start from a clean slate.
        urllib.request.urlopen(  # noqa: S310
            urllib.request.Request(self.moto_endpoint + "/moto-api/reset", method="POST"), timeout=10
        ).close()
        lambda_dispatch.configure_moto_server(self.moto_endpoint)
        self._setenv(
            {
                # The Step Functions interpreter calls Lambda on localhost:$MOTO_PORT.
                "MOTO_PORT": str(moto_port),
                "AWS_ENDPOINT_URL": self.moto_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        # A secret id would send the handlers to Secrets Manager, which the local stack does not
        # fill: locally the provider settings come from plain variables.
        for var in ("AWS_PROFILE", "EDULASTIC_SECRET_ID", "MASTERY_TRACK_SECRET_ID"):
            if var in os.environ:
                self._saved_env.setdefault(var, os.environ[var])
                del os.environ[var]

        if s.state_dir:
            store = StateStore(s.state_dir, DEFAULT_ACCOUNT_ID, REGION, s.state_save_seconds)
            store.restore()
            # Only a restored (or new) store may save: a failed restore must not overwrite the file.
            self.state = store
        self.resources = create_resources(s.template_path, region=REGION)
        if s.roster_file and s.roster_source != "timeback":
            from exttests.roster_loader import load_roster_file

            self.roster_counts = load_roster_file(s.roster_file, self.resources.table_name)
            log.info("roster loaded from %s: %s", s.roster_file, self.roster_counts)

        template = cfn_yaml.load(s.template_path)
        scopes = _all_scopes(template)
        routes = routes_from_template(
            template, Path(s.template_path).resolve().parent, self.resources.function_names
        )
        self.gateway = Gateway(routes, None, host=HOST, port=s.port).bind()
        self.api_url = self.gateway.url
        self.token_url = self.api_url + "/oauth2/token"
        writeback_secret = secrets.token_urlsafe(32)
        self.issuer = Issuer(
            {
                s.client_id: (s.client_secret, scopes["all"]),
                WRITEBACK_CLIENT_ID: (writeback_secret, scopes["writeback"]),
            },
            issuer_url=self.api_url,
            audience=AUDIENCE,
            ttl=s.token_ttl,
        )
        self.gateway.issuer = self.issuer

        handler_env = self._start_providers(writeback_secret)
        handler_env.update(self._start_platform())
        handler_env.update(
            {
                "ROSTER_SOURCE": s.roster_source,
                "EVENT_SOURCE": s.event_source,
                "EVENT_BUS_NAME": self.resources.event_bus_name,
                "TABLE_NAME": self.resources.table_name,
                "STATE_MACHINE_ARN": self.resources.state_machine_arn,
                "CREDENTIALS_KMS_KEY_ID": self.resources.kms_key_id,
                "WORKFLOW_WAIT_SECONDS": s.workflow_wait_seconds,
                "CALLBACK_TIMEOUT_SECONDS": str(s.callback_timeout_seconds),
                "MASTERY_THRESHOLD": s.mastery_threshold,
                "POWERTOOLS_SERVICE_NAME": "external-tests",
                "POWERTOOLS_METRICS_NAMESPACE": "ExternalTests",
                "POWERTOOLS_LOG_LEVEL": s.log_level.upper(),
                "POWERTOOLS_TRACE_DISABLED": "true",
                # EMF lines are for CloudWatch; on the console they would drown the events.
                "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            }
        )
        self._setenv(handler_env)
        # What every function will read, checked now: a bad setting stops `make run` at once.
        from exttests.config import Settings as ServiceSettings

        ServiceSettings.from_env(dict(os.environ))
        _reset_handler_caches()
        # Workers are spawned at their function's first invocation: starting costs nothing.
        self.pools = WorkerPools(dict(os.environ), s.workers_per_function)
        workflow = self.resources.function_names.get("WorkflowTasksFunction", "")
        echo = ConsoleWorkflow(self.pools, workflow, lambda line: print(line, flush=True))
        lambda_dispatch.install(self.resources.dispatch_registry(), invoker=echo)
        self.gateway.invoker = self.pools
        self.scheduler = Scheduler(
            schedules_from_template(
                template,
                self.resources.function_names,
                region=REGION,
                stack_name=DEFAULT_STACK_NAME,
                interval_override=s.sweeper_interval_seconds,
            ),
            self.resources.functions,
            self.pools,
            REGION,
        )
        self.scheduler.start()
        self._start_events()
        self.gateway.local_routes["/openapi.json"] = lambda _: self._openapi()
        if self.state is not None:
            self.state.start()
        self.gateway.serve()

    def _start_platform(self) -> dict[str, str]:
        """The TimeBack platform the live roster reads: another server, or the simulator."""
        s = self.settings
        if s.roster_source != "timeback":
            return {}
        if s.timeback_env.get("TIMEBACK_API_URL"):
            return dict(s.timeback_env)
        from local.simulators.timeback import create_timeback_simulator

        # The platform's OAuth2 client: the simulator accepts it and the functions present it.
        client: dict[str, Any] = {
            "client_id": TIMEBACK_SIM_CLIENT_ID,
            "client_secret": secrets.token_urlsafe(24),
        }
        self.timeback = create_timeback_simulator(
            HOST, s.timeback_sim_port, roster_file=s.roster_file, **client
        )
        self.timeback.start()
        return {
            "TIMEBACK_API_URL": self.timeback.url,
            "TIMEBACK_TOKEN_URL": self.timeback.token_url,
            "TIMEBACK_CLIENT_ID": client["client_id"],
            "TIMEBACK_CLIENT_SECRET": client["client_secret"],
        }

    def _start_events(self) -> None:
        """The outbox publisher on the table's stream, and the delivery of what it publishes."""
        s, resources, pools = self.settings, self.resources, self.pools
        assert resources is not None and pools is not None and self.gateway is not None
        self.delivery = EventDelivery(
            resources.event_bus_name,
            s.event_source,
            REGION,
            webhook_url=s.events_webhook_url,
            webhook_secret=s.events_webhook_secret,
            echo=lambda line: print(line, flush=True),
        )
        self.delivery.start()
        publisher = resources.functions.get(resources.function_names.get("EventPublisherFunction", ""))
        if publisher is not None and resources.table_stream_arn:
            self.outbox = StreamPublisher(
                resources.table_stream_arn, publisher, pools, REGION, on_published=self.delivery.wake
            )
            self.outbox.start()
        delivery = self.delivery
        self.gateway.local_routes["/_local/events"] = lambda _: {"events": delivery.events_so_far()}

    def _openapi(self) -> dict[str, Any]:
        from local.openapi import build_document

        document = build_document(self.settings.template_path)
        document["servers"] = [{"url": self.api_url, "description": "this local stack"}]
        return document

    def _start_providers(self, writeback_secret: str) -> dict[str, str]:
        s = self.settings
        env: dict[str, str] = dict(s.provider_env)
        if s.edulastic_base_url:
            env["EDULASTIC_BASE_URL"] = s.edulastic_base_url
        else:
            from local.simulators.edulastic import create_edulastic_simulator

            creds = {
                "username": "local-integration@edulastic.example.com",
                "password": secrets.token_urlsafe(16),
                "class_id": "local-class-1",
                "class_code": "LOCAL1",
            }
            self.edulastic = create_edulastic_simulator(
                HOST,
                s.edulastic_sim_port,
                username=creds["username"],
                password=creds["password"],
                class_id=creds["class_id"],
                class_code=creds["class_code"],
            )
            self.edulastic.start()
            env.update(
                {
                    "EDULASTIC_BASE_URL": self.edulastic.url,
                    "EDULASTIC_APP_URL": self.edulastic.app_url,
                    "EDULASTIC_USERNAME": creds["username"],
                    "EDULASTIC_PASSWORD": creds["password"],
                    "EDULASTIC_CLASS_ID": creds["class_id"],
                    "EDULASTIC_CLASS_CODE": creds["class_code"],
                    "EDULASTIC_DISTRICT_ID": s.provider_env.get("EDULASTIC_DISTRICT_ID", "local-district-1"),
                }
            )
        if s.mastery_track_base_url:
            env["MASTERY_TRACK_BASE_URL"] = s.mastery_track_base_url
        else:
            from local.simulators.mastery_track import create_mastery_track_simulator

            api_key = secrets.token_urlsafe(24)
            api_email = "local-integration@masterytrack.example.com"
            # Where the simulator writes results back, as the OAuth2 client of the write-back scope.
            writeback: dict[str, Any] = {
                "writeback_base_url": self.api_url,
                "token_url": self.token_url,
                "client_id": WRITEBACK_CLIENT_ID,
                "client_secret": writeback_secret,
            }
            self.mastery_track = create_mastery_track_simulator(
                HOST, s.mastery_track_sim_port, api_key=api_key, api_email=api_email, **writeback
            )
            self.mastery_track.start()
            env.update(
                {
                    "MASTERY_TRACK_BASE_URL": self.mastery_track.url,
                    "MASTERY_TRACK_API_KEY": api_key,
                    "MASTERY_TRACK_EMAIL": api_email,
                }
            )
        return env

    def stop(self) -> None:
        """Stop everything that was started (safe after a failed or partial start).

        Nothing new is invoked first (schedules, API, workflows), then the workers stop, then
        the state is saved — nothing writes to the table any more — and the rest stops."""
        global _running
        self._stop_component("scheduler")
        self._stop_component("gateway")
        self._stop_executions()
        self._stop_component("outbox")
        self._stop_component("delivery")
        if self.pools is not None:
            self.pools.close()
        self._stop_component("state")
        for name in ("edulastic", "mastery_track", "timeback"):
            self._stop_component(name)
        lambda_dispatch.uninstall()
        if self._moto is not None:
            try:
                _wake_soon(self._moto.get_host_and_port())
                self._moto.stop()
            except Exception:
                log.exception("stopping moto failed")
            self._moto = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        _reset_handler_caches()
        with _instance_lock:
            if _running is self:
                _running = None

    def _stop_component(self, name: str) -> None:
        component = getattr(self, name)
        if component is not None:
            try:
                component.stop()
            except Exception:
                log.exception("stopping %s failed", name)

    def _stop_executions(self) -> None:
        # moto runs executions on background threads that outlive the server; a polling loop
        # with short waits would keep calling the (stopped) providers and moto forever.
        if self._moto is None or self.resources is None or not self.resources.state_machine_arn:
            return
        import boto3

        try:
            sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=self.moto_endpoint)
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.resources.state_machine_arn, statusFilter="RUNNING"
            )
            for page in pages:
                for execution in page["executions"]:
                    sfn.stop_execution(executionArn=execution["executionArn"], cause="local stack stopped")
        except Exception:
            log.exception("stopping running executions failed")


class ConsoleWorkflow:
    """The invoker Step Functions uses, showing each poll and enrollment on the console (what a
    developer watching `make run` wants to see); everything else passes through."""

    def __init__(self, invoker: lambda_dispatch.Invoker, function: str, echo: Any) -> None:
        self.invoker = invoker
        self.function = function
        self.echo = echo
        self.log = invoker.log

    def invoke(self, spec: lambda_dispatch.FunctionSpec, event: Any) -> lambda_dispatch.Outcome:
        outcome = self.invoker.invoke(spec, event)
        if spec.name == self.function and isinstance(event, dict) and event.get("task") in ("poll", "enroll"):
            self.echo(_workflow_line(event, outcome))
        return outcome


def _workflow_line(event: dict[str, Any], outcome: lambda_dispatch.Outcome) -> str:
    who = f"{event.get('task'):<6} {event.get('student')} {event.get('lesson')} #{event.get('attempt')}"
    if outcome.failed:
        return f"workflow {who} → {outcome.error_type} (retried)"
    answer = outcome.value() or {}
    retrying = f"retrying after {answer['retrying']}; " if answer.get("retrying") else ""
    if event.get("task") == "enroll":
        state = answer.get("enrollment")
        later = f", next try in {answer.get('waitSeconds')} s" if state == "pending" else ""
        return f"workflow {who} → enrollment {state} ({retrying.rstrip('; ')}{later})".replace(" ()", "")
    if answer.get("finalized"):
        return f"workflow {who} → finalized"
    if answer.get("expired"):
        return f"workflow {who} → expired (deadline passed)"
    return f"workflow {who} → not final yet ({retrying}next look in {answer.get('waitSeconds')} s)"


def _reset_handler_caches() -> None:
    # The shared layer caches its dependencies (table name, provider URLs, boto3 clients) per
    # process, like a warm Lambda container; a new stack in the same process needs fresh ones.
    try:
        from exttests import wiring
    except ImportError:
        return
    reset = getattr(wiring, "reset", None)
    if callable(reset):
        reset()


def _all_scopes(template: Mapping[str, Any]) -> dict[str, list[str]]:
    from local.aws_resources import Resolver

    resolver = Resolver(template)
    found: dict[str, list[str]] = {"all": [], "writeback": []}
    for name, key in (("PowerPathScope", "all"), ("WriteBackScope", "writeback")):
        try:
            scope = str(resolver.ref(name))
        except ValueError:
            continue
        found[key].append(scope)
    for route in routes_from_template(template, REPO_ROOT):
        for scope in route.scopes:
            if scope not in found["all"]:
                found["all"].append(scope)
    for scope in found["writeback"]:
        if scope not in found["all"]:
            found["all"].append(scope)
    return found


def banner(stack: LocalStack) -> str:
    """What `make run` prints: where everything is, and what was loaded."""
    s, resources = stack.settings, stack.resources
    assert resources is not None
    lines = [
        f"API:            {stack.api_url}",
        f"Token URL:      {stack.token_url}",
        f"Client id:      {stack.client_id}",
        # Printed on purpose (dev-only credentials for the operator), never logged.
        f"Client secret:  {stack.client_secret}",
        f"OpenAPI:        {stack.api_url}/openapi.json",
        f"Events:         {stack.api_url}/_local/events"
        + (f" (each POSTed to {s.events_webhook_url})" if s.events_webhook_url else ""),
        f"moto:           {stack.moto_endpoint}",
        f"Table:          {resources.table_name}",
        f"State machine:  {resources.state_machine_arn}",
    ]
    # Control routes (finish a test, inject faults, state) live at each simulator's root.
    if stack.edulastic is not None:
        lines.append(f"Edulastic sim:  {stack.edulastic.app_url}  (API {stack.edulastic.url})")
    if stack.mastery_track is not None:
        lines.append(f"MasteryTrack sim: {stack.mastery_track.app_url}  (API {stack.mastery_track.url})")
    if s.roster_source == "timeback":
        if stack.timeback is not None:
            lines.append(f"TimeBack sim:   {stack.timeback.app_url}  (roster from {s.roster_file})")
        else:
            lines.append(f"TimeBack:       {s.timeback_env.get('TIMEBACK_API_URL')}  (live roster)")
    elif stack.roster_counts:
        counts = ", ".join(f"{n} {kind}" for kind, n in stack.roster_counts.items())
        lines.append(f"Roster:         {s.roster_file}: {counts}")
    return "\n".join(lines)


def _wake_soon(address: tuple[str, int]) -> None:
    """Connect to a werkzeug server about to be shut down: its serve loop checks for the shutdown
    after each select, which otherwise returns only every 0.5 s (moto's server has no setting)."""

    def connect() -> None:
        time.sleep(0.02)
        with contextlib.suppress(OSError), socket.create_connection(address, timeout=1):
            pass

    threading.Thread(target=connect, daemon=True).start()


def main() -> int:
    settings = Settings.from_env()
    # Request lines of moto and werkzeug are noise at INFO; the gateway logs its own.
    logs.configure(settings.log_level)

    stop_event = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        stack = LocalStack(settings).start()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr, flush=True)
        return 2
    announced = None
    try:
        announced = discovery.announce(stack)  # for the operator CLI (python -m exttests.admin)
        print(banner(stack), flush=True)
        print("ready", flush=True)
        while not stop_event.wait(0.1):
            pass
    finally:
        stack.stop()
        discovery.withdraw(announced)
    print("stopped", flush=True)
    return 0
