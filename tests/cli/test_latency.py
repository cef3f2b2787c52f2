"""`trader latency`: a short run against a simulator process, its JSON, and the budget's exit code (the
figures themselves are `make bench` material, never asserted here)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from trader.cli import EXIT_FAILED, EXIT_USAGE, _run, main
from trader.cli.latency import EDGES_US, Result, cpu_set, histogram, judge, start_sim, stop_sim
from trader.clock import LiveClock
from trader.errors import ConfigError


def _result(p99_ns: int, count: int = 10) -> Result:
    stats = {"count": count, "p50": p99_ns // 2, "p90": p99_ns, "p99": p99_ns, "p999": p99_ns, "max": p99_ns}
    return Result("mm", "rest", "file", 1.0, count, stats, stats, stats, 0, 10)


def test_a_short_run_reports_percentiles_and_breaks_an_impossible_budget() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trader", "latency", "--duration", "2", "--json", "--max-p99", "0.001"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == EXIT_FAILED, out.stderr[-2000:]
    assert "over the budget 0.001 µs" in out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] is False
    assert data["max_p99_us"] == 0.001
    assert data["orders"] > 0
    for name in ("tick_to_wire_ns", "order_round_trip_ns", "tick_to_order_ns"):
        stats = data[name]
        assert set(stats) == {"count", "p50", "p90", "p99", "p999", "max"}, name
        assert 0 < stats["p50"] <= stats["p90"] <= stats["p99"] <= stats["p999"] <= stats["max"], name
    wire = data["tick_to_wire_ns"]
    assert wire["count"] == sum(n for _, _, n in data["histogram_us"])
    assert [lo for lo, _, _ in data["histogram_us"]] == [0, *EDGES_US]


def test_the_budget_decides_the_exit() -> None:
    assert judge(_result(900_000), 1000.0).ok
    assert judge(_result(900_000), None).ok
    over = judge(_result(1_100_000), 1000.0)
    assert not over.ok
    assert "1100.0 µs is over the budget 1000 µs" in over.why
    none = judge(_result(0, count=0), None)
    assert not none.ok, "a run that measured no order proves nothing"


def test_histogram_buckets() -> None:
    h = histogram([5_000, 10_000, 150_000, 10**9])
    assert h[0] == (0, 10, 1)
    assert h[1] == (10, 20, 1)
    assert h[EDGES_US.index(100) + 1] == (100, 200, 1)
    assert h[-1] == (EDGES_US[-1], 0, 1)


@pytest.mark.parametrize(
    "argv",
    [
        ["latency", "--strategy", "nosuch"],
        ["latency", "--strategy", "trader.strategies.market_maker:NoSuchClass"],
        ["latency", "--duration", "0"],
        ["latency", "--cpu", "x"],
    ],
)
def test_bad_input_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("trader latency: ")


def test_paper_pins_to_a_cpu_list_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--cpu", "x", "--duration", "1"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("trader paper: --cpu=x: cannot pin")


def test_busy_poll_keeps_the_loop_off_the_kernel_sleep() -> None:
    """`--busy-poll`: while the session waits, the process keeps running (CPU time ~ wall time); without
    it, a wait costs no CPU. The spinner ends with the session."""

    async def idle() -> tuple[float, int]:
        cpu = time.thread_time()  # this thread only: what other threads of the worker do is not ours
        await LiveClock().sleep(0.3)
        return time.thread_time() - cpu, len(asyncio.all_tasks())

    spun, tasks = _run(idle(), busy_poll=True)
    assert spun > 0.05, f"busy-polling used {spun:.3f} s of CPU in 0.3 s"
    assert tasks == 2, "the session and the spinner"
    slept, tasks = _run(idle())
    assert slept < 0.05, f"an idle loop used {slept:.3f} s of CPU in 0.3 s"
    assert tasks == 1


def test_a_pinned_engine_keeps_its_simulator_off_its_cpu() -> None:
    """`--cpu N`: the engine runs on N and the simulator on the other CPUs (it was started after the pin
    and inherited it: both processes on one core)."""
    mine = os.sched_getaffinity(0)
    engine = frozenset({min(mine)})
    proc, _url = start_sim(7, avoid=engine)
    try:
        assert os.sched_getaffinity(proc.pid) == ((mine - engine) or mine)
    finally:
        stop_sim(proc)
    with pytest.raises(ConfigError, match="cannot pin to it"):
        cpu_set(str(max(mine) + 4096))
    assert cpu_set(f"{min(mine)}") == engine
    out = subprocess.run(
        [sys.executable, "-m", "trader", "latency", "--duration", "1", "--json", "--cpu", str(min(mine))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tick_to_wire_ns"]["count"] > 0
