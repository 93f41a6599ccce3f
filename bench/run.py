"""`make bench` / `python -m bench.run [--quick]`: writes bench/results.json and bench/results.md."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT / "layers" / "shared" / "python"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench import coldstart, layer, report, workflow  # noqa: E402
from bench import scenarios as sc  # noqa: E402
from bench.harness import service, start_simulators  # noqa: E402
from bench.stats import summary_ms  # noqa: E402

WARMUP = 5  # iterations measured for counts but left out of the latency statistics


def _replay(calls: list[Any], runs: int) -> list[float]:
    """The handler's DynamoDB calls (same operations, same parameters, same order) through a
    bare boto3 client against the same moto table: the floor any implementation of the same
    round trips pays in this environment. Failed conditions still count (same round trip)."""
    import boto3
    from botocore import xform_name
    from botocore.exceptions import ClientError

    client = boto3.client("dynamodb")
    methods = [(getattr(client, xform_name(c.operation)), c.params) for c in calls]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for method, params in methods:
            try:  # noqa: SIM105 - no context manager inside the timed loop
                method(**params)
            except ClientError:
                pass
        timings.append(time.perf_counter() - started)
    return timings


def _record(workload: Any, measurements: list[Any], runs_for_latency: int) -> dict[str, Any]:
    first = measurements[0]
    signatures = {
        (tuple(m.dynamo.operations), m.dynamo.items_read, m.dynamo.items_written, m.provider_calls)
        for m in measurements
    }
    timed = [m.seconds for m in measurements[WARMUP:]] or [m.seconds for m in measurements]
    handler = summary_ms(timed)
    raw = summary_ms(_replay(first.dynamo.calls, runs_for_latency))
    return {
        "title": workload.title,
        "notes": workload.notes,
        **first.summary(),
        "counts_deterministic": len(signatures) == 1,
        "iterations": len(measurements),
        "latency": {
            "handler": handler,
            "raw_moto": raw,
            "ratio_p50": round(handler["p50_ms"] / raw["p50_ms"], 2) if raw["p50_ms"] else None,
            "ratio_p95": round(handler["p95_ms"] / raw["p95_ms"], 2) if raw["p95_ms"] else None,
        },
    }


def run_use_cases(simulators: Any, runs: int, scaling_runs: int, log: Any) -> dict[str, Any]:
    from local.lambda_dispatch import load_module
    from tests.support import ROOT as TEST_ROOT

    iterations = runs + WARMUP
    results: dict[str, Any] = {}
    with service(simulators) as svc:
        sc.load_bench_data(svc, iterations)
        for directory in (TEST_ROOT / "functions").glob("*/app.py"):
            load_module(directory.parent)  # warm containers: imports are measured separately
        counter = sc.counter_for(svc)
        for workload in sc.workloads(svc):
            started = time.perf_counter()
            workload.warm()
            measurements = [sc.run_once(svc, counter, workload, i) for i in range(iterations)]
            results[workload.name] = _record(workload, measurements, runs)
            log(f"  {workload.name}: {time.perf_counter() - started:.1f}s")
        for questions in sc.QUESTION_COUNTS:
            started = time.perf_counter()
            workload = sc.question_workload(svc, questions)
            measurements = [sc.run_once(svc, counter, workload, i) for i in range(scaling_runs + 1)]
            record = _record(workload, measurements[1:] or measurements, scaling_runs)
            record["questions"] = questions
            results[workload.name] = record
            log(f"  {workload.name}: {time.perf_counter() - started:.1f}s")
    return results


def run_sweeper(simulators: Any, final: int, stuck: int, runs: int, log: Any) -> dict[str, Any]:
    import boto3

    started = time.perf_counter()
    with service(simulators) as svc:
        sc.seed_sweeper(svc, final, stuck)
        log(f"  seeded {final} final + {stuck} stuck attempts: {time.perf_counter() - started:.1f}s")
        counter = sc.counter_for(svc)
        sfn = boto3.client("stepfunctions")
        prefix = svc.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
        measurements = []
        for i in range(runs):
            if i:
                sc.seed_sweeper(svc, 0, stuck)  # the same attempts overdue again
            measurement = sc.measure(svc, counter, sc.sweeper_invocation())
            measurements.append(measurement)
            for name in measurement.answer["restarted"]:  # park no threads for an hour
                sfn.stop_execution(executionArn=f"{prefix}:{name}")
        first = measurements[0]
        signatures = {(tuple(m.dynamo.operations), m.dynamo.items_read) for m in measurements}
        return {
            "title": f"sweeper run ({final} final + {stuck} stuck attempts)",
            "final_attempts": final,
            "stuck_attempts": stuck,
            **first.summary(),
            "examined": first.answer["examined"],
            "restarted": len(first.answer["restarted"]),
            "counts_deterministic": len(signatures) == 1,
            "latency": {"handler": summary_ms([m.seconds for m in measurements])},
            "notes": [
                f"{runs} runs (each restarts {stuck} workflows, so 200 runs would start "
                f"{200 * stuck} executions); the same {stuck} attempts are made overdue again "
                "before each run, untimed"
            ],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and a smaller sweeper table")
    parser.add_argument("--output", default=str(HERE), help="directory for results.json / results.md")
    parser.add_argument("--skip-layer", action="store_true", help="do not build/measure the layer")
    parser.add_argument(
        "--render", action="store_true", help="only re-render results.md (and targets) from results.json"
    )
    args = parser.parse_args(argv)
    out = Path(args.output)
    if args.render:
        results = json.loads((out / "results.json").read_text())
        results["targets"] = report.targets(results)
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        (out / "results.md").write_text(report.markdown(results))
        print(report.markdown(results))
        return 0

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("local", "exttests", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    quick = args.quick
    runs = 20 if quick else 200
    scaling_runs = 3 if quick else 20
    final, stuck = (1000, 100) if quick else (10_000, 100)
    sweeper_runs = 2 if quick else 10
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "backend": "moto in-process (mock_aws) + provider simulators on 127.0.0.1",
        },
    }
    simulators = start_simulators()
    try:
        log(f"use cases ({runs} runs each + {WARMUP} warm-up)...")
        results["use_cases"] = run_use_cases(simulators, runs, scaling_runs, log)
        log("sweeper...")
        results["use_cases"]["sweeper"] = run_sweeper(simulators, final, stuck, sweeper_runs, log)
        log("workflow...")
        results["workflow"] = workflow.measure(simulators)
    finally:
        for sim in simulators:
            sim.stop()
    log("cold imports...")
    results["cold_import"] = coldstart.measure(3 if quick else 5)
    log("layer...")
    results["layer"] = {"measured": False, "reason": "--skip-layer"} if args.skip_layer else layer.measure()
    results["targets"] = report.targets(results)
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)

    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    log(f"wrote {out / 'results.json'} and {out / 'results.md'} in {results['elapsed_seconds']}s")
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
