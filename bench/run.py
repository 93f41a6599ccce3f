"""`make bench` / `python -m bench.run [--quick|--smoke] [--out DIR]`.

A full run without --out writes the committed bench/results.json and bench/results.md; --quick
and --smoke runs write to --out (default .bench-cache/<mode>/), never over the committed ones."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from dataclasses import replace
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

from bench import coldstart, deployed, layer, memory, report, snapstart, workflow  # noqa: E402
from bench import scenarios as sc  # noqa: E402
from bench.harness import service, start_platform  # noqa: E402
from bench.stats import summary_ms  # noqa: E402
from tests.support import start_simulators  # noqa: E402
from tools import runtime_python  # noqa: E402

WARMUP = 5  # iterations measured for counts but left out of the latency statistics
# (runs per use case, scaling runs — also the runs of the use cases measured for their counts
# only and of each live-roster use case —, sweeper final/stuck attempts and runs, cold-import
# repetitions)
MODES = {
    "full": (200, 20, 10_000, 100, 10, 5),
    "quick": (20, 3, 1000, 100, 2, 3),
    "smoke": (3, 1, 100, 10, 1, 1),
}


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
    timed = measurements[WARMUP:] or measurements
    handler = summary_ms([m.seconds for m in timed])
    raw = summary_ms(_replay(first.dynamo.calls, runs_for_latency))
    return {
        "title": workload.title,
        "function": first.function,
        "notes": workload.notes,
        **first.summary(),
        "counts_deterministic": len(signatures) == 1,
        "counts_only": workload.counts_only,
        "iterations": len(measurements),
        "latency": {
            "handler": handler,
            "handler_cpu": summary_ms([m.cpu_seconds for m in timed]),
            "raw_moto": raw,
            "ratio_p50": round(handler["p50_ms"] / raw["p50_ms"], 2) if raw["p50_ms"] else None,
            "ratio_p95": round(handler["p95_ms"] / raw["p95_ms"], 2) if raw["p95_ms"] else None,
        },
    }


def _run_workloads(
    svc: Any, workloads: list[Any], runs: int, counts_runs: int, log: Any, prefix: str = ""
) -> dict[str, Any]:
    """Each workload's iterations (fewer for those measured for their counts only), recorded
    with what its outbox publishes downstream."""
    counter = sc.counter_for(svc)
    results: dict[str, Any] = {}
    for workload in workloads:
        started = time.perf_counter()
        workload.warm()
        timed_runs = min(runs, counts_runs) if workload.counts_only else runs
        iterations = min(runs + WARMUP, counts_runs + 1) if workload.counts_only else runs + WARMUP
        measurements = [sc.run_once(svc, counter, workload, i) for i in range(iterations)]
        record = _record(workload, measurements, timed_runs)
        record["outbox"] = sc.publish_outbox(svc, measurements[0].dynamo)
        results[workload.name] = record
        log(f"  {prefix}{workload.name}: {time.perf_counter() - started:.1f}s")
    return results


def _warm_containers() -> None:
    from local.lambda_dispatch import load_module
    from tests.support import ROOT as TEST_ROOT

    for directory in (TEST_ROOT / "functions").glob("*/app.py"):
        load_module(directory.parent)  # warm containers: imports are measured separately


def run_use_cases(simulators: Any, runs: int, scaling_runs: int, log: Any) -> dict[str, Any]:
    iterations = runs + WARMUP
    with service(simulators) as svc:
        sc.load_bench_data(svc, iterations)
        _warm_containers()
        results = _run_workloads(svc, sc.workloads(svc), runs, scaling_runs, log)
        counter = sc.counter_for(svc)
        for questions in sc.QUESTION_COUNTS:
            started = time.perf_counter()
            workload = sc.question_workload(svc, questions)
            measurements = [sc.run_once(svc, counter, workload, i) for i in range(scaling_runs + 1)]
            record = _record(workload, measurements[1:] or measurements, scaling_runs)
            record["questions"] = questions
            results[workload.name] = record
            log(f"  {workload.name}: {time.perf_counter() - started:.1f}s")
    return results


def run_live_roster(simulators: Any, platform: Any, runs: int, log: Any) -> dict[str, Any]:
    """The use cases with ROSTER_SOURCE=timeback: uncached, then cached (a service each)."""
    from exttests.config import Settings

    results: dict[str, Any] = {"cache_seconds": Settings().roster_cache_seconds}
    for cached in (False, True):
        variant = "cached" if cached else "uncached"
        with service(simulators, platform=platform) as svc:
            sc.load_bench_data(svc, runs + WARMUP)
            _warm_containers()
            workloads = [sc.with_roster_cache(svc, w, cached=cached) for w in sc.workloads(svc)]
            # Counts are what the live roster is measured for: every use case gets the few runs.
            counted = [replace(w, counts_only=True) for w in workloads]
            results[variant] = _run_workloads(svc, counted, runs, runs, log, prefix=f"live {variant} ")
    return results


def run_sweeper(simulators: Any, final: int, stuck: int, runs: int, log: Any) -> dict[str, Any]:
    import boto3

    started = time.perf_counter()
    with service(simulators) as svc:
        sc.seed_sweeper(svc, final, stuck)
        log(f"  seeded {final} final + {stuck} stuck attempts: {time.perf_counter() - started:.1f}s")
        counter = sc.counter_for(svc)
        prefix = svc.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
        sfn = boto3.client("stepfunctions")  # one client for every stop below (40 ms to make one)
        measurements = []
        for i in range(runs):
            if i:
                sc.seed_sweeper(svc, 0, stuck)  # the same attempts overdue again
            measurement = sc.measure(svc, counter, sc.sweeper_invocation())
            measurements.append(measurement)
            for name in measurement.answer["restarted"]:  # park no threads for an hour
                sc.stop_execution(f"{prefix}:{name}", sfn)
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


def _deployed_inputs(arm64: Path | str, log: Any) -> tuple[str, str, Path, Path]:
    """The runtime's Python, the architecture of this machine, its build and boto3 for 3.13."""
    python = runtime_python.find()
    arch = deployed.machine_arch()
    if arch is None:
        raise deployed.Unavailable(f"Lambda has no architecture for this {platform.machine()} machine")
    log(f"  make build ARCH={arch} (as deployed), boto3 for Python 3.13...")
    build_dir = arm64 if arch == "arm64" else deployed.build(arch)
    if isinstance(build_dir, str):
        raise deployed.Unavailable(build_dir)
    return python, arch, build_dir, deployed.runtime_boto3(python)


def measure_cold_imports(repetitions: int, build: bool, log: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Cold imports (warm cache; as deployed, with and without bytecode, when the runtime's Python
    and a build for this machine's architecture are at hand) and the arm64 layer's size."""
    setups = {"warm": coldstart.warm_setup()}
    if not build:
        cold = coldstart.measure(repetitions, setups)
        cold["deployed"] = {"measured": False, "reason": "--skip-build"}
        return cold, {"measured": False, "reason": "--skip-build"}
    log("  make build ARCH=arm64 (the layer as it ships)...")
    try:
        arm64: Path | str = deployed.build("arm64")
        layer_result = layer.measure(Path(arm64), "arm64")
    except deployed.Unavailable as error:
        arm64 = str(error)
        layer_result = {"measured": False, "reason": arm64}
    try:
        python, arch, build_dir, boto3_dir = _deployed_inputs(arm64, log)
    except (runtime_python.RuntimePythonNotFound, deployed.Unavailable) as error:
        cold = coldstart.measure(repetitions, setups)
        cold["deployed"] = {"measured": False, "reason": str(error)}
        return cold, layer_result
    with (
        deployed.read_only_tree(build_dir, boto3_dir) as tree,
        deployed.read_only_tree(build_dir, boto3_dir, with_bytecode=False) as bare,
    ):
        env = coldstart.measured_env(PYTHONDONTWRITEBYTECODE="1")
        setups["deployed"] = coldstart.Setup(python, tree.sys_path, tree.root, env, [coldstart.CLIENTS])
        setups["deployed_without_bytecode"] = coldstart.Setup(python, bare.sys_path, bare.root, env)
        log("  measuring...")
        cold = coldstart.measure(repetitions, setups)
        cold["deployed"].update(
            measured=True,
            python=runtime_python.version_string(python),
            architecture=arch,
            bytecode_written=tree.bytecode_written() + bare.bytecode_written(),
        )
    warm, shipped, bare_result = cold["warm"], cold["deployed"], cold["deployed_without_bytecode"]
    # The two set-ups run different interpreters (this venv's, the runtime's 3.13): their baselines
    # tell how much of a difference is the interpreter's.
    shipped["baseline_ratio_to_warm"] = round(shipped["baseline_ms"] / warm["baseline_ms"], 3)
    for name, figures in shipped["handlers"].items():
        figures["ratio_to_warm"] = round(figures["median_ms"] / warm["handlers"][name]["median_ms"], 3)
        bare_figures = bare_result["handlers"][name]
        bare_figures["ratio_to_deployed"] = round(bare_figures["median_ms"] / figures["median_ms"], 3)
    return cold, layer_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="fewer runs, a smaller sweeper table")
    speed.add_argument("--smoke", action="store_true", help="a few runs of everything: does it still work")
    parser.add_argument("--out", type=Path, help="directory for results.json / results.md")
    parser.add_argument("--skip-build", action="store_true", help="no build: no as-deployed import, no layer")
    parser.add_argument(
        "--render", action="store_true", help="only re-render results.md (and targets) from results.json"
    )
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    out: Path = args.out or (HERE if mode == "full" else deployed.CACHE / mode)
    out.mkdir(parents=True, exist_ok=True)
    if args.render:
        rendered = json.loads((out / "results.json").read_text())
        rendered["targets"] = report.targets(rendered)
        (out / "results.json").write_text(json.dumps(rendered, indent=2, default=str) + "\n")
        (out / "results.md").write_text(report.markdown(rendered))
        print(report.markdown(rendered))
        return 0

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for name in ("local", "exttests", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    runs, scaling_runs, final, stuck, sweeper_runs, repetitions = MODES[mode]
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "backend": "moto in-process (mock_aws) + provider and TimeBack simulators on 127.0.0.1",
        },
    }
    simulators = start_simulators()
    timeback = start_platform()
    try:
        log(f"use cases ({runs} runs each + {WARMUP} warm-up; {scaling_runs} for counts only)...")
        results["use_cases"] = run_use_cases(simulators, runs, scaling_runs, log)
        log(f"live roster ({scaling_runs} runs each)...")
        results["live_roster"] = run_live_roster(simulators, timeback, scaling_runs, log)
        log("sweeper...")
        results["use_cases"]["sweeper"] = run_sweeper(simulators, final, stuck, sweeper_runs, log)
        log("workflow...")
        results["workflow"] = workflow.measure(simulators)
    finally:
        for sim in (*simulators, timeback):
            sim.stop()
    log("cold imports and layer...")
    results["cold_import"], results["layer"] = measure_cold_imports(repetitions, not args.skip_build, log)
    shipped = results["cold_import"]["deployed"]
    cold_figures = shipped if shipped.get("measured") else results["cold_import"]["warm"]
    # The fastest sample: the import's CPU cost on a free core (the median carries the machine's load).
    cold_ms = {name: h["min_ms"] for name, h in cold_figures["handlers"].items()}
    # The use cases timed with the full number of runs (the others are measured for their counts).
    timed = {name: u for name, u in results["use_cases"].items() if not u.get("counts_only")}
    results["memory"] = memory.curve(timed, cold_ms)
    if shipped.get("measured"):
        results["snapstart"] = snapstart.estimate(shipped, snapstart.template_memory_mb())
    results["targets"] = report.targets(results)
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)

    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    log(f"wrote {out / 'results.json'} and {out / 'results.md'} in {results['elapsed_seconds']}s")
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
