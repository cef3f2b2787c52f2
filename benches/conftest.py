"""Ratio table for `make bench`.

Every bench sets `benchmark.extra_info["role"]` to "ours" or "baseline" inside a pytest-benchmark
`group`; "ours" may add `target_median_ns` (absolute goal) and `min_ratio` (goal for baseline/ours),
which a baseline may override with its own `min_ratio`.
At the end of an enabled run this prints one line per group and writes benches/RESULTS.md. With
`--benchmark-disable` (as in `make test`) each bench body runs once as a smoke test and nothing is printed.
"""

import os
import platform
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import close_event_loops_left_by_sdks  # noqa: F401 - an autouse fixture

RESULTS = Path(__file__).parent / "RESULTS.md"


def _rows(config: pytest.Config) -> list[dict[str, Any]]:
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled:
        return []
    out = []
    for b in session.benchmarks:
        d = b.as_dict(include_data=False)
        out.append(
            {
                "group": d["group"] or d["name"],
                "name": d["name"],
                "median_ns": d["stats"]["median"] * 1e9,
                "info": d.get("extra_info", {}),
            }
        )
    return out


def _fmt_ns(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def _table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| group | ours (median) | baseline (median) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    for group, members in sorted(groups.items()):
        ours = [m for m in members if m["info"].get("role") == "ours"]
        base = [m for m in members if m["info"].get("role") == "baseline"]
        if not ours:
            continue
        o = ours[0]
        goals = []
        met = True
        target = o["info"].get("target_median_ns")
        if target is not None:
            goals.append(f"≤ {_fmt_ns(target)}")
            met &= o["median_ns"] <= target
        if not base:
            verdict = "yes" if met else "NO"
            lines.append(f"| {group} | {_fmt_ns(o['median_ns'])} | - | - | {', '.join(goals)} | {verdict} |")
            continue
        for b in base:
            ratio = b["median_ns"] / o["median_ns"]
            g = list(goals)
            ok = met
            min_ratio = b["info"].get("min_ratio", o["info"].get("min_ratio"))
            if min_ratio is not None:
                g.append(f"≥ {min_ratio}x")
                ok &= ratio >= min_ratio
            base_cell = f"{_fmt_ns(b['median_ns'])} {b['name'].removeprefix('test_')}"
            verdict = ("yes" if ok else "NO") if g else "-"
            ours_cell = _fmt_ns(o["median_ns"])
            goal = ", ".join(g)
            lines.append(f"| {group} | {ours_cell} | {base_cell} | {ratio:.1f}x | {goal} | {verdict} |")
    return lines


def _tails(rows: list[dict[str, Any]]) -> list[str]:
    """p50/p99 of the benches that record them (round trips, where the tail matters)."""
    tails = [r for r in rows if "p99_us" in r["info"]]
    if not tails:
        return []
    lines = ["", "| group | bench | p50 | p99 |", "|---|---|---|---|"]
    for r in sorted(tails, key=lambda r: (r["group"], r["name"])):
        p50, p99 = r["info"]["p50_us"], r["info"]["p99_us"]
        lines.append(f"| {r['group']} | {r['name'].removeprefix('test_')} | {p50:.0f} µs | {p99:.0f} µs |")
    return lines


def _engine(rows: list[dict[str, Any]]) -> list[str]:
    """The engine's tick-to-wire against the component pipeline of the same run (issue 18's goal), and the
    same pipeline run at the engine's cadence (one tick every few ms, the process idle between: cold)."""
    runs = [r for r in rows if "ratio_p50" in r["info"]]
    if not runs:
        return []
    lines = [
        "",
        "| engine bench | tick-to-wire p50 / p99 | pipeline p50 / p99 | ratio p50 / p99 | goal | met "
        "| pipeline at the engine's cadence p50 / p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(runs, key=lambda r: r["name"]):
        i = r["info"]
        cold = (
            f"{i['pipeline_at_cadence_p50_us']:.0f} / {i['pipeline_at_cadence_p99_us']:.0f} µs "
            f"(a tick every {i['cadence_ms']:g} ms)"
            if "cadence_ms" in i
            else "-"
        )
        lines.append(
            f"| {r['name'].removeprefix('test_')} | {i['p50_us']:.0f} / {i['p99_us']:.0f} µs "
            f"| {i['pipeline_p50_us']:.1f} / {i['pipeline_p99_us']:.1f} µs "
            f"| {i['ratio_p50']:.1f}x / {i['ratio_p99']:.1f}x | {i['goal']} | {'yes' if i['met'] else 'NO'} "
            f"| {cold} |"
        )
    return lines


def _throughput(rows: list[dict[str, Any]]) -> list[str]:
    """Messages per second through a connector into the strategy (issue 18's goal), with their latency."""
    runs = [r for r in rows if "messages_per_s" in r["info"]]
    if not runs:
        return []
    lines = [
        "",
        "| throughput bench | messages/s | tick-to-strategy p50 / p99 | conflated | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(runs, key=lambda r: r["name"]):
        i = r["info"]
        lines.append(
            f"| {r['name'].removeprefix('test_')} | {i['messages_per_s']:,} | {i['p50_us']:.1f} / "
            f"{i['p99_us']:.1f} µs | {i['conflated']:,} | {i['goal']} | {'yes' if i['met'] else 'NO'} |"
        )
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = _rows(config)
    if not rows:
        return
    lines = _table(rows) + _tails(rows) + _engine(rows) + _throughput(rows)
    terminalreporter.write_sep("=", "trader: ratios against same-run baselines")
    for line in lines:
        terminalreporter.write_line(line)
    header = [
        "# Benchmark results",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}. Written by `make bench`; ratios are baseline median / ours.",
        "",
    ]
    RESULTS.write_text("\n".join(header + lines) + "\n")
