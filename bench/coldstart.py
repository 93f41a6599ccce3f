"""Cold-start import time of each handler module, in fresh interpreters.

Each sample is one new `python` process that puts the layer and the function directory on
sys.path (as the Lambda runtime does with /opt/python and the task root) and times `import app`
with time.perf_counter(); the interpreter's own start-up is not included. The baseline is the same
for `import boto3, pydantic, aws_lambda_powertools`. One unmeasured process first fills the
bytecode caches; then samples are interleaved across modules and the median is reported.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

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

_TIMER = (
    "import sys, time; sys.path[:0] = {paths!r}; t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t)"
)


def handlers() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_ENDPOINT"))}
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="external-tests",
        POWERTOOLS_METRICS_NAMESPACE="ExternalTests",
        TABLE_NAME="bench",
    )
    return env


def _paths(name: str | None) -> list[str]:
    return [str(LAYER), str(ROOT / "functions" / name)] if name else [str(LAYER)]


def _once(name: str | None, importtime: bool = False) -> tuple[float, str]:
    module = {None: BASELINE, FLOOR: HTTP_FLOOR}.get(name, "app")
    code = _TIMER.format(paths=_paths(None if name == FLOOR else name), module=module)
    args = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code]
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        args, capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120, check=True
    )
    return float(done.stdout.strip().splitlines()[-1]), done.stderr


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


def measure(repetitions: int = 5) -> dict[str, Any]:
    names: list[str | None] = [None, FLOOR, *handlers()]
    for name in names:  # warm the bytecode caches, unmeasured
        _once(name)
    samples: dict[str | None, list[float]] = {name: [] for name in names}
    for _ in range(repetitions):
        for name in names:
            samples[name].append(_once(name)[0])
    baseline = statistics.median(samples[None])
    floor = statistics.median(samples[FLOOR])
    result: dict[str, Any] = {
        "method": "fresh interpreter per sample, time.perf_counter() around the import, median",
        "repetitions": repetitions,
        "baseline_import": BASELINE,
        "baseline_ms": round(baseline * 1000, 1),
        "http_floor_import": HTTP_FLOOR,
        "http_floor_ms": round(floor * 1000, 1),
        "http_floor_ratio_to_baseline": round(floor / baseline, 3),
        "handlers": {},
    }
    for name in handlers():
        median = statistics.median(samples[name])
        result["handlers"][name] = {
            "median_ms": round(median * 1000, 1),
            "min_ms": round(min(samples[name]) * 1000, 1),
            "ratio_to_baseline": round(median / baseline, 3),
            "ratio_to_http_floor": round(median / floor, 3),
        }
    slowest = max(handlers(), key=lambda n: result["handlers"][n]["median_ms"])
    result["slowest_handler"] = slowest
    result["slowest_top_imports"] = top_imports(_once(slowest, importtime=True)[1])
    return result
