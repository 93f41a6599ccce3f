"""What Lambda SnapStart (python3.12+ runtimes) would change for the HTTP functions, from what can
be measured here.

Saved per cold start: the init phase, which SnapStart runs once when a version is published —
the handler module's import as deployed (measured, bench.coldstart "deployed"), plus the first
AWS clients if a before-snapshot hook created them (measured: `first_clients_ms`). Both are CPU
work, stretched by the memory size's CPU share (bench.memory). Added per cold start: restoring
the snapshot. That is Firecracker resuming a microVM in AWS and cannot be measured on this
machine: the figures below are the gross saving, to be compared with the restore duration
Lambda reports (`Restore Duration` in the REPORT log line) once deployed.

Prices: us-east-1, from the AWS Lambda pricing page (aws.amazon.com/lambda/pricing), as of
2026-12-01: snapshot caching $0.0000015046 per GB-second for each published version with
SnapStart, from publication for as long as the version is active (minimum 3 hours); restore
$0.0001397998 per GB restored. The init phase of on-demand functions is billed as duration
(since 2025-08-01), so SnapStart also removes that line — it is reported next to the restore
price it is traded for.
"""

from __future__ import annotations

from typing import Any

from bench.memory import USD_PER_GB_SECOND, cpu_factor

USD_PER_CACHED_GB_SECOND = 0.0000015046
USD_PER_RESTORED_GB = 0.0001397998
SNAPSTART_PRICES = {
    "region": "us-east-1",
    "as_of": "2026-12-01",
    "source": "https://aws.amazon.com/lambda/pricing/",
    "usd_per_cached_gb_second": USD_PER_CACHED_GB_SECOND,
    "usd_per_restored_gb": USD_PER_RESTORED_GB,
}
SECONDS_PER_MONTH = 30 * 24 * 3600


def http_functions() -> list[str]:
    """functions/<name> of the functions behind the HTTP API routes."""
    from bench.deployed import ROOT, function_dirs
    from local import cfn_yaml

    logical_ids = {route.function for route in cfn_yaml.http_routes(cfn_yaml.load(ROOT / "template.yaml"))}
    return sorted(name for name, logical_id in function_dirs().items() if logical_id in logical_ids)


def template_memory_mb() -> int:
    """The functions' memory size as the template deploys it (Globals.Function.MemorySize)."""
    from bench.deployed import ROOT
    from local import cfn_yaml

    return int(cfn_yaml.load(ROOT / "template.yaml")["Globals"]["Function"]["MemorySize"])


def estimate(deployed: dict[str, Any], memory_mb: int) -> dict[str, Any]:
    gb = memory_mb / 1024
    clients_ms = float(deployed.get("first_clients_ms") or 0.0)
    functions = {}
    for name in http_functions():
        imported_ms = deployed["handlers"][name]["median_ms"]
        saved_ms = (imported_ms + clients_ms) * cpu_factor(memory_mb)
        functions[name] = {
            "import_ms": imported_ms,
            "saved_init_ms_at_memory": round(saved_ms, 1),
            "init_usd_per_million_cold_starts": round(
                saved_ms / 1000 * gb * USD_PER_GB_SECOND * 1_000_000, 2
            ),
        }
    return {
        "memory_mb": memory_mb,
        "first_clients_ms": clients_ms,
        "functions": functions,
        "restore": "not measurable here (a Firecracker restore in AWS): see Restore Duration once deployed",
        "restore_usd_per_million_cold_starts": round(gb * USD_PER_RESTORED_GB * 1_000_000, 2),
        "cache_usd_per_month_per_version": round(gb * SECONDS_PER_MONTH * USD_PER_CACHED_GB_SECOND, 2),
        "prices": SNAPSTART_PRICES,
    }
