"""Cold-start import time of each handler module, in fresh interpreters, in several set-ups.

Each sample is one new interpreter that puts the code on sys.path and times `import app` with
time.perf_counter(); the interpreter's own start-up is not included. The baseline is the same for
`import boto3, pydantic, aws_lambda_powertools`, the HTTP floor for that plus Powertools' event
handler with validation. One unmeasured pass first (it fills the bytecode caches where they are
writable, and the OS file cache everywhere); then samples are interleaved across set-ups and
modules and the median is reported.

Set-ups (`Setup`): "warm" — this venv's interpreter on the source tree with its writable
__pycache__ (the figure of a developer machine, and the one the bench always reported);
"deployed" — the runtime's Python 3.13 on the read-only `sam build` output (bench.deployed);
"deployed_without_bytecode" — the same with every .pyc removed (what an artifact without
bytecode costs on every cold start).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.deployed import clean_env

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "shared" / "python"
BASELINE = "boto3, pydantic, aws_lambda_powertools"

# What every HTTP handler needs before any code of ours: the baseline plus the Powertools event
# handler with request validation and OpenAPI (the stack's decided HTTP front). Reported as the
# floor the HTTP handlers are compared with as well.
HTTP_FLOOR = (
    "boto3, pydantic, aws_lambda_powertools; from aws_lambda_powertools.event_handler import "
    "APIGatewayHttpResolver; APIGatewayHttpResolver(enable_validation=True)"
)
FLOOR = "__http_floor__"
# The AWS clients the functions create on their first request (template policies: DynamoDB, KMS,
# Step Functions, Secrets Manager). botocore loads each service model then: work a SnapStart
# before-snapshot hook could do once instead of on every cold start.
CLIENTS = "__first_clients__"
CLIENT_SERVICES = ("dynamodb", "kms", "stepfunctions", "secretsmanager")

_TIMER = (
    "import sys, time; sys.path[:0] = {paths!r}; t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t)"
)
_CLIENTS_TIMER = (
    "import sys, time; sys.path[:0] = {paths!r}; import boto3; t = time.perf_counter(); "
    "[boto3.client(s) for s in {services!r}]; print(time.perf_counter() - t)"
)


def handlers() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def measured_env(**extra: str) -> dict[str, str]:
    env = clean_env()
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="external-tests",
        POWERTOOLS_METRICS_NAMESPACE="ExternalTests",
        TABLE_NAME="bench",
        **extra,
    )
    return env


@dataclass
class Setup:
    """How one set-up starts an interpreter and where that interpreter finds the code."""

    python: str
    sys_path: Callable[[str | None], list[str]]  # function name (None: none) -> sys.path head
    cwd: Path
    env: dict[str, str] = field(default_factory=measured_env)
    names: list[str | None] = field(default_factory=list)

    def once(self, name: str | None, importtime: bool = False) -> tuple[float, str]:
        if name == CLIENTS:
            code = _CLIENTS_TIMER.format(paths=self.sys_path(None), services=CLIENT_SERVICES)
        else:
            module = {None: BASELINE, FLOOR: HTTP_FLOOR}.get(name, "app")
            code = _TIMER.format(paths=self.sys_path(None if name == FLOOR else name), module=module)
        args = [self.python, "-s", *(["-X", "importtime"] if importtime else []), "-c", code]
        done = subprocess.run(  # noqa: S603 - a known interpreter and a fixed snippet
            args, capture_output=True, text=True, cwd=self.cwd, env=self.env, timeout=120, check=True
        )
        return float(done.stdout.strip().splitlines()[-1]), done.stderr


def warm_setup() -> Setup:
    def sys_path(name: str | None) -> list[str]:
        return [str(LAYER), str(ROOT / "functions" / name)] if name else [str(LAYER)]

    return Setup(sys.executable, sys_path, ROOT)


def top_imports(stderr: str, count: int = 10) -> list[dict[str, Any]]:
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if match:
            rows.append(
                {
                    "module": match.group(4),
                    "self_ms": int(match.group(1)) / 1000,
                    "cumulative_ms": int(match.group(2)) / 1000,
                    "depth": len(match.group(3)) // 2,
                }
            )
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return rows[:count]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _summary(samples: dict[str | None, list[float]]) -> dict[str, Any]:
    baseline = statistics.median(samples[None])
    floor = statistics.median(samples[FLOOR])
    result: dict[str, Any] = {
        "baseline_ms": _ms(baseline),
        "http_floor_ms": _ms(floor),
        "http_floor_ratio_to_baseline": round(floor / baseline, 3),
        "handlers": {},
    }
    for name in handlers():
        median = statistics.median(samples[name])
        result["handlers"][name] = {
            "median_ms": _ms(median),
            "min_ms": _ms(min(samples[name])),
            "ratio_to_baseline": round(median / baseline, 3),
            "ratio_to_http_floor": round(median / floor, 3),
        }
    if samples.get(CLIENTS):
        result["first_clients_ms"] = _ms(statistics.median(samples[CLIENTS]))
        result["first_clients"] = list(CLIENT_SERVICES)
    return result


def measure(repetitions: int, setups: dict[str, Setup]) -> dict[str, Any]:
    """Every set-up's baseline, HTTP floor and handlers (plus its extra `names`), interleaved."""
    plan = [(key, name) for key, setup in setups.items() for name in [None, FLOOR, *handlers(), *setup.names]]
    for key, name in plan:  # fill the caches, unmeasured
        setups[key].once(name)
    samples: dict[str, dict[str | None, list[float]]] = {key: {} for key in setups}
    for _ in range(repetitions):
        for key, name in plan:
            samples[key].setdefault(name, []).append(setups[key].once(name)[0])
    result: dict[str, Any] = {
        "method": "fresh interpreter per sample, time.perf_counter() around the import, median",
        "repetitions": repetitions,
        "baseline_import": BASELINE,
        "http_floor_import": HTTP_FLOOR,
        **{key: _summary(found) for key, found in samples.items()},
    }
    first = next(iter(setups))
    slowest = max(handlers(), key=lambda n: result[first]["handlers"][n]["median_ms"])
    result["slowest_handler"] = slowest
    result["slowest_top_imports"] = top_imports(setups[first].once(slowest, importtime=True)[1])
    return result
