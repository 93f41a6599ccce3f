"""Targets (pass/fail) and the Markdown rendering of bench/results.json."""

from __future__ import annotations

from typing import Any

LAYER_LIMIT_MB = 20.0
COLD_IMPORT_FACTOR = 1.3
DEPLOYED_FACTOR = 1.1  # as deployed (read-only, shipped bytecode) vs the warm-cache figure


def _target(name: str, target: str, measured: Any, passed: bool | None) -> dict[str, Any]:
    return {"target": name, "wanted": target, "measured": measured, "met": passed}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    uc = results.get("use_cases", {})
    rows: list[dict[str, Any]] = []
    for key, label in (("assign_edulastic", "Edulastic"), ("assign_mastery_track", "MasteryTrack")):
        if key in uc:
            rt, pc = uc[key]["round_trips"], uc[key]["provider_calls"]
            rows.append(
                _target(
                    f"assign {label}, warm token",
                    "≤ 3 DynamoDB RT, ≤ 2 provider calls",
                    f"{rt} RT, {pc} calls",
                    rt <= 3 and pc <= 2,
                )
            )
    if "import_final" in uc:
        rt, pc = uc["import_final"]["round_trips"], uc["import_final"]["provider_calls"]
        rows.append(
            _target(
                "import of a final attempt",
                "1 RT, 0 provider calls",
                f"{rt} RT, {pc} calls",
                rt <= 1 and pc == 0,
            )
        )
    if "import_finalizes_q200" in uc:
        u = uc["import_finalizes_q200"]
        rows.append(
            _target(
                "import that finalizes, 200-question Edulastic test",
                "≤ 4 RT, 2 provider calls",
                f"{u['round_trips']} RT, {u['provider_calls']} calls",
                u["round_trips"] <= 4 and u["provider_calls"] <= 2,
            )
        )
    scaling = [
        uc[k]["round_trips"]
        for k in ("import_finalizes_q10", "import_finalizes_q50", "import_finalizes_q200")
        if k in uc
    ]
    if scaling:
        rows.append(
            _target(
                "import RT independent of questions (10/50/200)",
                "equal",
                " / ".join(str(x) for x in scaling),
                len(set(scaling)) == 1,
            )
        )
    if "progress" in uc:
        rows.append(
            _target(
                "progress", "1 RT", f"{uc['progress']['round_trips']} RT", uc["progress"]["round_trips"] <= 1
            )
        )
    if "sweeper" in uc:
        s = uc["sweeper"]
        rows.append(
            _target(
                f"sweeper, {s['final_attempts']} final + {s['stuck_attempts']} stuck",
                f"items read track the stuck only (≤ 2 × {s['stuck_attempts']}), no Scan",
                f"{s['items_read']} items read, {s['round_trips']} RT",
                s["items_read"] <= 2 * s["stuck_attempts"] and "Scan" not in s["operations"],
            )
        )
    mt = results.get("workflow", {}).get("mastery_track")
    if mt:
        rows.append(
            _target(
                "MasteryTrack state transitions per finalized test",
                "≤ 12",
                mt["state_transitions"],
                mt["state_transitions"] <= 12,
            )
        )
    rows += _live_targets(results.get("live_roster"), uc)
    rows += _event_targets(uc)
    cold = results.get("cold_import")
    if cold:
        warm = cold["warm"]
        limit = COLD_IMPORT_FACTOR * warm["baseline_ms"]
        for name, h in warm["handlers"].items():
            rows.append(
                _target(
                    f"cold import functions/{name} (warm cache)",
                    f"≤ 1.3 × baseline ({limit:.0f} ms)",
                    f"{h['median_ms']} ms ({h['ratio_to_baseline']}×)",
                    h["median_ms"] <= limit,
                )
            )
        shipped = cold["deployed"]
        for name, h in warm["handlers"].items():
            wanted = f"≤ {DEPLOYED_FACTOR} × warm cache ({DEPLOYED_FACTOR * h['median_ms']:.0f} ms)"
            label = f"cold import functions/{name} as deployed"
            if shipped.get("measured"):
                d = shipped["handlers"][name]
                measured = f"{d['median_ms']} ms ({d['ratio_to_warm']}×)"
                rows.append(_target(label, wanted, measured, d["ratio_to_warm"] <= DEPLOYED_FACTOR))
            else:
                rows.append(_target(label, wanted, f"not measured: {shipped.get('reason')}", None))
    lay = results.get("layer")
    if lay:
        wanted = f"≤ {LAYER_LIMIT_MB:g} MB"
        if lay.get("measured"):
            measured = f"{lay['unzipped_mb']} MB ({lay['architecture']}, with bytecode)"
            rows.append(_target("layer unzipped", wanted, measured, lay["unzipped_mb"] <= LAYER_LIMIT_MB))
        else:
            rows.append(_target("layer unzipped", wanted, f"not measured: {lay.get('reason')}", None))
    return rows


# The use cases whose cached live-roster path must cost no more round trips than the table's:
# everything but a finalization that enrolls (which adds the EduBridge claim and commit).
HOT_PATH = (
    "assign_edulastic",
    "assign_again_edulastic",
    "assign_mastery_track",
    "assign_again_mastery_track",
    "import_not_final",
    "task_poll_not_final",
    "task_poll_final",
    "import_final",
    "progress",
    "import_finalizes_no_enrollment",
    "write_back_not_final",
    "write_back_no_enrollment",
)
ENROLLING = ("import_finalizes", "write_back")
ENROLLMENT_ROUTE = "/edubridge/enrollments/"


def platform_split(routes: dict[str, int]) -> tuple[int, int]:
    """(roster reads, EduBridge enrollment calls) among a use case's TimeBack platform calls."""
    platform = {r: n for r, n in routes.items() if r.startswith("timeback:")}
    enrollment = sum(n for r, n in platform.items() if ENROLLMENT_ROUTE in r)
    return sum(platform.values()) - enrollment, enrollment


def _live_targets(live: dict[str, Any] | None, table: dict[str, Any]) -> list[dict[str, Any]]:
    if not live:
        return []
    cached = live["cached"]
    # An enrollment checks its course on the platform right before it enrolls (never from the
    # cache: a course removed within the window must fail the enrollment, not reach EduBridge).
    reads = {
        name: platform_split(u["provider_routes"])[0] for name, u in cached.items() if name not in ENROLLING
    }
    hot = [name for name in HOT_PATH if name in cached and name in table]
    over = [name for name in hot if cached[name]["round_trips"] > table[name]["round_trips"]]
    rows = [
        _target(
            "live roster, cached: platform roster reads on every use case that does not enroll",
            "0",
            f"{sum(reads.values())} over {len(reads)} use cases",
            sum(reads.values()) == 0,
        ),
        _target(
            "live roster, cached hot path: DynamoDB RT",
            f"≤ the table roster's ({len(hot)} use cases)",
            "all equal or fewer" if not over else "more: " + ", ".join(over),
            not over,
        ),
    ]
    for name in ENROLLING:
        if name in cached and name in table:
            extra = cached[name]["round_trips"] - table[name]["round_trips"]
            course_reads, enrollments = platform_split(cached[name]["provider_routes"])
            rows.append(
                _target(
                    f"live roster, cached, {table[name]['title']}",
                    "table RT + 2 (EduBridge claim, commit), ≤ 1 course read, 1 EduBridge call",
                    f"table RT + {extra}, {course_reads} course read(s), {enrollments} EduBridge call(s)",
                    extra <= 2 and course_reads <= 1 and enrollments == 1,
                )
            )
    return rows


def _event_targets(uc: dict[str, Any]) -> list[dict[str, Any]]:
    published = [u["outbox"] for u in uc.values() if u.get("outbox")]
    if not published:
        return []
    records = sum(p["records"] for p in published)
    put_events = sum(p["put_events"] for p in published)
    return [
        _target(
            "EventBridge PutEvents per stored event (outbox publisher)",
            "1",
            f"{put_events} PutEvents for {records} events",
            put_events == records,
        )
    ]


def _met(value: bool | None) -> str:
    return {True: "met", False: "**NOT MET**", None: "not measured"}[value]


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark results ({results.get('mode')}, {results.get('generated_at')})",
        "",
        f"Environment: {results['environment']['backend']}; Python {results['environment']['python']}, "
        f"{results['environment']['cpus']} CPUs. Counts are deterministic; times are indicative.",
        "",
        "## Targets",
        "",
        "| Target | Wanted | Measured | |",
        "|---|---|---|---|",
    ]
    for row in results.get("targets", []):
        lines.append(f"| {row['target']} | {row['wanted']} | {row['measured']} | {_met(row['met'])} |")
    lines += [
        "",
        "## Use cases (per request)",
        "",
        "| Use case | DynamoDB RT | Operations | Items read | Items written | Provider calls | "
        "Handler p50 / p95 ms | Raw moto p50 / p95 ms | Ratio p50 / p95 | Runs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for u in results.get("use_cases", {}).values():
        lat = u.get("latency", {})
        h, r = lat.get("handler", {}), lat.get("raw_moto")
        raw = f"{r['p50_ms']:.2f} / {r['p95_ms']:.2f}" if r else "–"
        ratio = f"{lat.get('ratio_p50')} / {lat.get('ratio_p95')}" if r else "–"
        stable = "" if u.get("counts_deterministic", True) else " (varied!)"
        ops = u["operations"]
        ops_text = (
            ", ".join(ops) if len(ops) <= 6 else ", ".join(f"{k} ×{v}" for k, v in u["by_operation"].items())
        )
        lines.append(
            f"| {u['title']} | {u['round_trips']}{stable} | {ops_text} | {u['items_read']} | "
            f"{u['items_written']} | {u['provider_calls']} | "
            f"{h.get('p50_ms', 0):.2f} / {h.get('p95_ms', 0):.2f} | "
            f"{raw} | {ratio} | {h.get('runs')} |"
        )
    lines += _live_roster(results.get("live_roster"), results.get("use_cases", {}))
    lines += _side_effects(results.get("use_cases", {}))
    wf = results.get("workflow")
    if wf:
        lines += [
            "",
            "## Workflow (per finalized test)",
            "",
            "| Case | State transitions | Lambda invocations | Polls | How |",
            "|---|---|---|---|---|",
        ]
        for key, title in (
            ("mastery_track", "MasteryTrack (callback from the write-back)"),
            ("edulastic_a", "Edulastic, finished before the first poll (1 s waits)"),
            ("edulastic_b", "Edulastic, finished after two polls (1 s waits)"),
            ("edulastic_expired", "Edulastic never taken: expired at the first poll past its deadline"),
            ("edulastic_45min_backoff", "Edulastic finished after 45 min, backoff 60,120,300,600,1800,3600"),
            ("edulastic_45min_fixed_30s", "Edulastic finished after 45 min, naive fixed 30 s poll"),
        ):
            w = wf.get(key)
            if w:
                how = "measured" if w.get("measured") else "derived"
                lines.append(
                    f"| {title} | {w['state_transitions']} | {w['lambda_invocations']} | "
                    f"{w.get('polls', '–')} | {how} |"
                )
        p = wf.get("per_poll_iteration", {})
        lines.append(
            f"\nOne poll iteration (Wait → Poll → Decide) = {p.get('state_transitions')} transitions and "
            f"{p.get('lambda_invocations')} Lambda invocation(s); fixed part = "
            f"{p.get('fixed_state_transitions')} transitions, {p.get('fixed_lambda_invocations')} "
            "invocation(s) (measured: difference of the two "
            "Edulastic runs). The 45-minute rows apply these to the number of polls each schedule needs."
        )
    lines += _cold_import(results.get("cold_import"))
    lines += _layer(results.get("layer"))
    lines += _memory(results.get("memory"))
    lines += _snapstart(results.get("snapstart"))
    lines.append(f"\nTotal bench time: {results.get('elapsed_seconds')} s.\n")
    return "\n".join(lines)


def _live_roster(live: dict[str, Any] | None, table: dict[str, Any]) -> list[str]:
    if not live:
        return []
    lines = [
        "",
        f"## Live roster (ROSTER_SOURCE=timeback, cache window {live['cache_seconds']} s)",
        "",
        "DynamoDB round trips / provider calls / TimeBack platform calls (roster reads + EduBridge "
        "enrollment calls). Uncached: the cache held nothing for the student, the lesson and the "
        "Subject Tracks (the first request for them, or the first after the window); cached: they "
        "were read within the window.",
        "",
        "| Use case | Table roster | Live, uncached | Live, cached | Cached RT vs table |",
        "|---|---|---|---|---|",
    ]

    def cell(u: dict[str, Any]) -> str:
        reads, enrollments = platform_split(u["provider_routes"])
        return f"{u['round_trips']} RT / {u['provider_calls']} / {reads} + {enrollments}"

    for name, cached in live["cached"].items():
        uncached, base = live["uncached"].get(name), table.get(name)
        if not uncached or not base:
            continue
        delta = cached["round_trips"] - base["round_trips"]
        lines.append(
            f"| {base['title']} | {base['round_trips']} RT / {base['provider_calls']} | {cell(uncached)} | "
            f"{cell(cached)} | {'+' if delta > 0 else ''}{delta} |"
        )
    return lines


def _side_effects(uc: dict[str, Any]) -> list[str]:
    rows = [u for u in uc.values() if "written_by_kind" in u]
    if not rows:
        return []
    lines = [
        "",
        "## What each use case writes, publishes and calls besides DynamoDB",
        "",
        "Items written by kind (events = outbox items, written in the change's own transaction); "
        "the events stored, and the EventBridge PutEvents the real outbox publisher made for them "
        "(run on the stream records of those inserts); KMS and Step Functions calls; writes to the "
        "sparse index (of which on the sweeper's due view).",
        "",
        "| Use case | Items written by kind | Events stored | PutEvents | KMS | Step Functions | "
        "Index writes (due) |",
        "|---|---|---|---|---|---|---|",
    ]
    for u in rows:
        kinds = ", ".join(f"{k} {n}" for k, n in u["written_by_kind"].items()) or "–"
        aws = u.get("aws_calls", {})
        kms = ", ".join(f"{k.split(':')[1]} {n}" for k, n in aws.items() if k.startswith("kms:")) or "–"
        sfn = ", ".join(f"{k.split(':')[1]} {n}" for k, n in aws.items() if k.startswith("sfn:")) or "–"
        events = ", ".join(u.get("events", [])) or "–"
        put_events = u["outbox"]["put_events"] if u.get("outbox") else "–"
        lines.append(
            f"| {u['title']} | {kinds} | {events} | {put_events} | {kms} | {sfn} | "
            f"{u['index_writes']} ({u['due_index_writes']}) |"
        )
    return lines


def _cold_import(cold: dict[str, Any] | None) -> list[str]:
    if not cold:
        return []
    warm, shipped = cold["warm"], cold["deployed"]
    lines = [
        "",
        f"## Cold import (fresh interpreter, median of {cold['repetitions']})",
        "",
        "Warm cache (this venv's Python on the source tree, "
        f"bytecode cached by an earlier run): baseline `import {cold['baseline_import']}` "
        f"{warm['baseline_ms']} ms; HTTP floor (the baseline plus Powertools' event handler with "
        f"validation, which every HTTP handler needs) {warm['http_floor_ms']} ms = "
        f"{warm['http_floor_ratio_to_baseline']}× baseline.",
    ]
    if shipped.get("measured"):
        bare = cold["deployed_without_bytecode"]
        lines += [
            "",
            f"As deployed (Python {shipped['python']}, the `sam build` output for {shipped['architecture']}: "
            "function + layer + the runtime's boto3, read-only, PYTHONDONTWRITEBYTECODE=1; "
            f"{shipped['bytecode_written']} .pyc written during the runs): baseline "
            f"{shipped['baseline_ms']} ms ({shipped['baseline_ratio_to_warm']}× the warm cache's: the "
            f"interpreters differ), HTTP floor {shipped['http_floor_ms']} ms; without the shipped bytecode: "
            "baseline "
            f"{bare['baseline_ms']} ms, HTTP floor {bare['http_floor_ms']} ms. Creating the first "
            f"{', '.join(shipped['first_clients'])} clients after import: {shipped['first_clients_ms']} ms.",
            "",
            "| Handler | Warm cache ms | × baseline | × HTTP floor | As deployed ms | × warm | "
            "Deployed without .pyc ms | × as deployed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, h in warm["handlers"].items():
            d, b = shipped["handlers"][name], bare["handlers"][name]
            lines.append(
                f"| {name} | {h['median_ms']} | {h['ratio_to_baseline']} | {h['ratio_to_http_floor']} | "
                f"{d['median_ms']} | {d['ratio_to_warm']} | {b['median_ms']} | {b['ratio_to_deployed']} |"
            )
    else:
        lines += [
            "",
            f"As deployed: not measured ({shipped.get('reason')}).",
            "",
            "| Handler | Warm cache ms | Min ms | × baseline | × HTTP floor |",
            "|---|---|---|---|---|",
        ]
        for name, h in warm["handlers"].items():
            lines.append(
                f"| {name} | {h['median_ms']} | {h['min_ms']} | {h['ratio_to_baseline']} | "
                f"{h['ratio_to_http_floor']} |"
            )
    lines += [
        "",
        f"Top 10 cumulative imports of the slowest handler ({cold['slowest_handler']}, warm cache, "
        "`-X importtime`):",
        "",
        "| Module | Cumulative ms | Self ms |",
        "|---|---|---|",
    ]
    for row in cold["slowest_top_imports"]:
        lines.append(f"| {row['module']} | {row['cumulative_ms']:.1f} | {row['self_ms']:.1f} |")
    return lines


def _layer(lay: dict[str, Any] | None) -> list[str]:
    if not lay:
        return []
    if not lay.get("measured"):
        return ["", "## Layer", "", f"Not measured: {lay.get('reason')}"]
    largest = ", ".join(f"{k} {v} MB" for k, v in lay["largest_packages_mb"].items())
    return [
        "",
        f"## Layer ({lay['architecture']}, as `make build` ships it)",
        "",
        f"Unzipped: {lay['unzipped_mb']} MB ({lay['unzipped_bytes']} bytes, {lay['files']} files: sources "
        f"{lay['sources_mb']} MB, bytecode {lay['bytecode_mb']} MB, other {lay['other_mb']} MB; exttests "
        f"{lay['exttests_bytes']} bytes of sources and bytecode). Zipped: {lay['zipped_mb']} MB "
        f"({lay['zipped_bytes']} bytes). Largest: {largest}.",
    ]


def _memory(mem: dict[str, Any] | None) -> list[str]:
    if not mem or not mem["use_cases"]:
        return []
    sizes = list(next(iter(mem["use_cases"].values()))["sizes"])
    prices = mem["prices"]
    lines = [
        "",
        "## Memory size (expected p50 latency ms / USD per million requests)",
        "",
        f"Model: {mem['model']}; 1 vCPU = {mem['one_vcpu_mb']} MB. Prices: {prices['architecture']}, "
        f"{prices['region']}, as of {prices['as_of']}: ${prices['usd_per_gb_second']} per GB-s, "
        f"${prices['usd_per_million_requests']} per million requests. CPU = the calling thread's CPU "
        "time without moto's in-process emulation of the AWS calls.",
        "",
        "| Use case | CPU p50 ms | Wall p50 ms | " + " | ".join(f"{s} MB" for s in sizes) + " |",
        "|---|---|---|" + "---|" * len(sizes),
    ]
    cold: dict[str, dict[str, Any]] = {}
    for row in mem["use_cases"].values():
        cells = " | ".join(
            f"{row['sizes'][s]['latency_ms']} / ${row['sizes'][s]['usd_per_million']}" for s in sizes
        )
        lines.append(f"| {row['title']} | {row['cpu_ms']} | {row['wall_ms']} | {cells} |")
        cold.setdefault(row["function"], row["sizes"])
    for function, by_size in cold.items():
        if by_size[sizes[0]]["cold_import_ms"] is not None:
            cells = " | ".join(f"{by_size[s]['cold_import_ms']}" for s in sizes)
            lines.append(f"| cold import of functions/{function} (ms, fastest sample) | | | {cells} |")
    chosen = f"**{mem['chosen_mb']} MB**" if mem["chosen_mb"] else "none of these sizes"
    lines.append(f"\nChosen: {chosen} ({mem['rule']}).")
    return lines


def _snapstart(snap: dict[str, Any] | None) -> list[str]:
    if not snap:
        return []
    lines = [
        "",
        f"## SnapStart (HTTP functions, at {snap['memory_mb']} MB)",
        "",
        "Saved per cold start: the import as deployed plus the first AWS clients "
        f"({snap['first_clients_ms']} ms), at the memory size's CPU share. Restore: {snap['restore']}.",
        "",
        "| Function | Import as deployed ms | Init saved ms | Init billed, USD per million cold starts |",
        "|---|---|---|---|",
    ]
    for name, f in snap["functions"].items():
        lines.append(
            f"| {name} | {f['import_ms']} | {f['saved_init_ms_at_memory']} | "
            f"${f['init_usd_per_million_cold_starts']} |"
        )
    lines.append(
        f"\nSnapStart instead: restore ${snap['restore_usd_per_million_cold_starts']} per million cold "
        "starts, "
        f"cache ${snap['cache_usd_per_month_per_version']} per month per published version "
        f"(prices {snap['prices']['region']}, as of {snap['prices']['as_of']})."
    )
    return lines
