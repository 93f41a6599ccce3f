"""Memory size from the measured curve: expected latency and cost per million requests.

Lambda gives CPU in proportion to memory: 1,769 MB is one full vCPU, less memory is that share
of it, and these handlers run on one thread, so more than one vCPU buys nothing. A request's
CPU-bound part stretches by max(1, 1769 / MB); the rest (waiting on DynamoDB, the provider,
Step Functions) does not depend on memory:

    latency(MB) = cpu × max(1, 1769 / MB) + (wall − cpu)

cpu is the calling thread's CPU time around the in-process handler (`time.thread_time()`) without
the time moto spends emulating the AWS calls in that thread (bench.counters.MotoCpu): the
handler's code, botocore's client side and the provider HTTP client, as in Lambda. wall − cpu is
the local wait (loopback simulators, in-process moto): in AWS the waits are longer, but they are
the same at every memory size, so the choice does not depend on them. A cold start adds the
as-deployed import (pure CPU; its fastest sample, which the machine's load disturbs least),
stretched the same way.

Prices: AWS Lambda, arm64, us-east-1, from the AWS Lambda pricing page (aws.amazon.com/lambda/pricing),
as of 2026-12-01: $0.0000133334 per GB-second (first 7.5 billion GB-seconds a month),
$0.20 per million requests. Duration is billed per 1 ms, rounded up.
"""

from __future__ import annotations

import math
from typing import Any

ONE_VCPU_MB = 1769
MEMORY_SIZES_MB = (256, 512, 1024)
USD_PER_GB_SECOND = 0.0000133334
USD_PER_MILLION_REQUESTS = 0.20
PRICES = {
    "region": "us-east-1",
    "architecture": "arm64",
    "as_of": "2026-12-01",
    "source": "https://aws.amazon.com/lambda/pricing/",
    "usd_per_gb_second": USD_PER_GB_SECOND,
    "usd_per_million_requests": USD_PER_MILLION_REQUESTS,
}
# The choice: the smallest size at which running on less than a full vCPU (the "stretch":
# expected latency minus what it would be with a whole vCPU) costs every HTTP use case at most
# WARM_STRETCH_MS at p50, and every HTTP function's cold import (as deployed, at that size's CPU
# share) takes at most COLD_IMPORT_MS. The dollar side hardly weighs: see the cost columns (cents
# per million requests between sizes).
WARM_STRETCH_MS = 25.0
COLD_IMPORT_MS = 500.0


def cpu_factor(memory_mb: int) -> float:
    return max(1.0, ONE_VCPU_MB / memory_mb)


def expected_latency_ms(cpu_ms: float, wall_ms: float, memory_mb: int) -> float:
    return cpu_ms * cpu_factor(memory_mb) + max(0.0, wall_ms - cpu_ms)


def cost_per_million_usd(latency_ms: float, memory_mb: int) -> float:
    billed_seconds = math.ceil(latency_ms) / 1000
    duration = billed_seconds * memory_mb / 1024 * USD_PER_GB_SECOND
    return round(duration * 1_000_000 + USD_PER_MILLION_REQUESTS, 2)


def curve(use_cases: dict[str, Any], cold_import_ms: dict[str, float]) -> dict[str, Any]:
    """Per HTTP use case (the records with CPU figures) and memory size: expected p50 latency and
    cost, and the cold import of its function (as deployed) at that size."""
    rows: dict[str, Any] = {}
    for key, record in use_cases.items():
        cpu = record.get("latency", {}).get("handler_cpu")
        if not cpu:
            continue
        wall_ms, cpu_ms = record["latency"]["handler"]["p50_ms"], cpu["p50_ms"]
        cold_ms = cold_import_ms.get(record["function"])
        sizes = {}
        for memory in MEMORY_SIZES_MB:
            latency = expected_latency_ms(cpu_ms, wall_ms, memory)
            sizes[str(memory)] = {
                "latency_ms": round(latency, 1),
                "stretch_ms": round(latency - wall_ms, 1),
                "usd_per_million": cost_per_million_usd(latency, memory),
                "cold_import_ms": round(cold_ms * cpu_factor(memory), 1) if cold_ms else None,
            }
        rows[key] = {
            "title": record["title"],
            "function": record["function"],
            "cpu_ms": cpu_ms,
            "wall_ms": wall_ms,
            "sizes": sizes,
        }
    return {
        "model": "latency = cpu × max(1, 1769/MB) + (wall − cpu); cost = ceil(ms) × GB × price + requests",
        "one_vcpu_mb": ONE_VCPU_MB,
        "prices": PRICES,
        "use_cases": rows,
        "chosen_mb": choose(rows),
        "rule": (
            f"smallest size where less than a full vCPU adds ≤ {WARM_STRETCH_MS:g} ms to every HTTP use "
            f"case's p50 and every HTTP function's cold import takes ≤ {COLD_IMPORT_MS:g} ms"
        ),
    }


def choose(rows: dict[str, Any]) -> int | None:
    """None when no size meets the rule (then the larger sizes are the question)."""
    for memory in MEMORY_SIZES_MB:
        sizes = [row["sizes"][str(memory)] for row in rows.values()]
        if sizes and all(
            size["stretch_ms"] <= WARM_STRETCH_MS and (size["cold_import_ms"] or 0.0) <= COLD_IMPORT_MS
            for size in sizes
        ):
            return memory
    return None
