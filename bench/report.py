"""Targets (pass/fail) and the Markdown rendering of bench/results.json."""

from __future__ import annotations

from typing import Any

LAYER_LIMIT_MB = 20.0
COLD_IMPORT_FACTOR = 1.3


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
    cold = results.get("cold_import")
    if cold:
        limit = COLD_IMPORT_FACTOR * cold["baseline_ms"]
        for name, h in cold["handlers"].items():
            rows.append(
                _target(
                    f"cold import functions/{name}",
                    f"≤ 1.3 × baseline ({limit:.0f} ms)",
                    f"{h['median_ms']} ms ({h['ratio_to_baseline']}×)",
                    h["median_ms"] <= limit,
                )
            )
    lay = results.get("layer")
    if lay:
        if lay.get("measured"):
            rows.append(
                _target(
                    "layer unzipped",
                    f"≤ {LAYER_LIMIT_MB:g} MB",
                    f"{lay['unzipped_mb']} MB",
                    lay["unzipped_mb"] <= LAYER_LIMIT_MB,
                )
            )
        else:
            rows.append(
                _target(
                    "layer unzipped", f"≤ {LAYER_LIMIT_MB:g} MB", f"not measured: {lay.get('reason')}", None
                )
            )
    return rows


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
    cold = results.get("cold_import")
    if cold:
        lines += [
            "",
            f"## Cold import (fresh interpreter, median of {cold['repetitions']})",
            "",
            f"Baseline `import {cold['baseline_import']}`: {cold['baseline_ms']} ms. HTTP floor "
            f"(the baseline plus Powertools' event handler with validation, which every HTTP handler "
            f"needs): {cold['http_floor_ms']} ms = {cold['http_floor_ratio_to_baseline']}× baseline.",
            "",
            "| Handler | Median ms | Min ms | × baseline | × HTTP floor |",
            "|---|---|---|---|---|",
        ]
        for name, h in cold["handlers"].items():
            lines.append(
                f"| {name} | {h['median_ms']} | {h['min_ms']} | {h['ratio_to_baseline']} | "
                f"{h['ratio_to_http_floor']} |"
            )
        lines += [
            "",
            f"Top 10 cumulative imports of the slowest handler ({cold['slowest_handler']}, `-X importtime`):",
            "",
            "| Module | Cumulative ms | Self ms |",
            "|---|---|---|",
        ]
        for row in cold["slowest_top_imports"]:
            lines.append(f"| {row['module']} | {row['cumulative_ms']:.1f} | {row['self_ms']:.1f} |")
    lay = results.get("layer")
    if lay:
        lines += ["", "## Layer", ""]
        if lay.get("measured"):
            largest = ", ".join(f"{k} {v} MB" for k, v in lay["largest_packages_mb"].items())
            lines.append(
                f"Unzipped: {lay['unzipped_mb']} MB ({lay['unzipped_bytes']} bytes, {lay['files']} files; "
                f"exttests {lay['exttests_bytes']} bytes). Largest: {largest}."
            )
        else:
            lines.append(f"Not measured: {lay.get('reason')}")
    lines.append(f"\nTotal bench time: {results.get('elapsed_seconds')} s.\n")
    return "\n".join(lines)
