"""`trader latency`: the engine's own latency with a given strategy, for a user's CI.

A simulator runs in a separate process (`trader sim sim --port 0`: not a thread of ours, so the GIL of the
engine is not shared with the venue's), the engine trades the strategy against it for `--duration` seconds
through the real connector and sockets, with a journal file (`--journal`, default a temporary one: the
durable path production uses), and prints:

- tick-to-wire: `ts_recv` of the market-data frame -> the order's bytes handed to the socket;
- order round trip: those bytes -> the venue's ack read back;
- percentiles (p50, p90, p99, p99.9, max) and a histogram of tick-to-wire.

`--cpu` pins the engine to those CPUs and keeps the simulator on the others (it is started first: it would
inherit them). `--json` prints one JSON object (the same figures, in ns). The exit code is 1 when
`--max-p99` (µs) is broken or no order was measured, 2 for a usage error, else 0. Two shared cores measure
the machine as much as the engine: give CI a budget with room, and compare runs on one machine.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EDGES_US = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "latency", help="measure the engine's tick-to-wire and order round trip against a simulator process"
    )
    p.add_argument(
        "--strategy", default="mm", help="a built-in strategy (mm) or module:Class (built as Class())"
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds of trading (default 10)")
    p.add_argument(
        "--order-entry", default="rest", choices=["rest", "ws"], help="orders over REST or WebSocket"
    )
    p.add_argument(
        "--journal", default=None, help="journal file (default: a temporary file; :memory: for none on disk)"
    )
    p.add_argument(
        "--max-p99", type=float, default=None, help="exit 1 when tick-to-wire p99 exceeds this (µs)"
    )
    p.add_argument("--cpu", default=None, help="pin the engine to these CPUs (e.g. 2 or 2,3; Linux)")
    from trader.cli import add_busy_poll_flag

    add_busy_poll_flag(p)
    p.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(command_main=main)


@dataclass
class Result:
    strategy: str
    order_entry: str
    journal: str
    seconds: float
    orders: int
    tick_to_wire_ns: dict[str, int]
    order_round_trip_ns: dict[str, int]
    tick_to_order_ns: dict[str, int]
    conflated: int
    ticks: int  # book updates handed to the strategy
    histogram_us: list[tuple[int, int, int]] = field(default_factory=list)  # (from, to, count); to 0: above
    max_p99_us: float | None = None
    busy_poll: bool = False
    rehearsals: int = 0  # orders rehearsed in the idle turns of a busy-polling loop (`--busy-poll`)
    ok: bool = True
    why: str = ""


def histogram(samples_ns: list[int]) -> list[tuple[int, int, int]]:
    """Counts per bucket of µs: [0, 10), [10, 20), ... [100000, ∞) (to = 0)."""
    counts = [0] * (len(EDGES_US) + 1)
    for ns in samples_ns:
        u = ns / 1000
        i = next((k for k, edge in enumerate(EDGES_US) if u < edge), len(EDGES_US))
        counts[i] += 1
    lows = (0, *EDGES_US)
    highs = (*EDGES_US, 0)
    return [(lo, hi, n) for lo, hi, n in zip(lows, highs, counts, strict=True)]


def load_strategy(spec: str) -> Any:
    """`module:Class`, built with no arguments (`ConfigError` when it cannot be)."""
    from trader.errors import ConfigError

    module, _, name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
        return cls()
    except (ImportError, AttributeError, TypeError, ValueError) as e:
        raise ConfigError(f"--strategy={spec}: cannot build it ({type(e).__name__}: {e})") from None


def start_sim(seed: int, avoid: frozenset[int] = frozenset()) -> tuple[subprocess.Popen[str], str]:
    """`trader sim sim --port 0` in its own process, and its URL once it listens; kept off the CPUs in
    `avoid` (the engine's, when it is pinned: a venue is another machine) while any other is left."""
    cmd = [sys.executable, "-m", "trader", "sim", "sim", "--port", "0", "--seed", str(seed)]
    # our own CLI, by this interpreter, with fixed arguments (the seed is an int)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    if avoid and hasattr(os, "sched_setaffinity"):
        others = os.sched_getaffinity(proc.pid) - avoid
        if others:
            os.sched_setaffinity(proc.pid, others)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on " not in line:
        proc.kill()
        err = proc.communicate()[1]
        from trader.errors import TraderError

        raise TraderError(f"the simulator did not start: {(line + err).strip()[-300:]}")
    return proc, line.rsplit("listening on ", 1)[1].strip()


def stop_sim(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def cpu_set(cpus: str | None) -> frozenset[int]:
    """The CPUs `--cpu` names ("2" or "2,3"; empty: not given), each one this process may run on
    (Linux; `ConfigError` otherwise)."""
    if cpus is None:
        return frozenset()
    from trader.errors import ConfigError

    try:
        chosen = frozenset(int(c) for c in cpus.split(",") if c.strip())
        allowed = os.sched_getaffinity(0)
    except (ValueError, AttributeError) as e:
        raise ConfigError(f"--cpu={cpus}: cannot pin to it ({e})") from None
    if not chosen or not chosen <= allowed:
        raise ConfigError(f"--cpu={cpus}: cannot pin to it (this process may run on {sorted(allowed)})")
    return chosen


def pin(cpus: str | None) -> None:
    """Pin this process to `cpus` (Linux; `ConfigError` for a bad list)."""
    chosen = cpu_set(cpus)
    if chosen:
        os.sched_setaffinity(0, chosen)


async def measure(args: argparse.Namespace, url: str, journal_path: str) -> Result:
    """The engine with the strategy against the simulator at `url` for `args.duration` seconds."""
    from trader.cli.rigs import RigRequest, rig
    from trader.clock import LiveClock
    from trader.engine.engine import DEFAULT_RISK, Engine
    from trader.engine.journal import Journal
    from trader.engine.latency import Series
    from trader.venues import registry

    clock = LiveClock()
    prof = registry.profile("sim")
    conn = registry.package("sim").loopback(
        url, symbol=prof.default_symbol, clock=clock, order_entry=args.order_entry
    )
    builtin = ":" not in args.strategy
    try:
        r = await rig(
            prof,
            conn,
            RigRequest("mm" if not builtin else args.strategy, prof.default_symbol, DEFAULT_RISK),
            clock,
        )
        strategy = r.strategy if builtin else load_strategy(args.strategy)
        journal = Journal(journal_path)
        try:
            engine = Engine(
                conn, strategy, journal=journal, clock=clock, config=r.config, pre_trade=r.pre_trade
            )
            summary = await engine.run(args.duration, services=r.services)
        finally:
            journal.close()
    finally:
        await conn.close()
    order = Series()
    for ns in engine.latencies:
        order.add(ns)
    return Result(
        strategy=args.strategy,
        order_entry=args.order_entry,
        journal=journal_path if journal_path == ":memory:" else "file",
        seconds=summary.seconds,
        orders=summary.orders,
        tick_to_wire_ns=engine.lat.tick_to_wire.stats(),
        order_round_trip_ns=engine.lat.round_trip.stats(),
        tick_to_order_ns=order.stats(),
        conflated=engine.lat.conflated,
        ticks=engine.lat.books,
        rehearsals=engine.rehearsal.count,
        histogram_us=histogram(list(engine.lat.tick_to_wire.samples)),
    )


def judge(result: Result, max_p99_us: float | None) -> Result:
    """Whether the run meets the budget: orders were measured, and p99 is within `max_p99_us`."""
    result.max_p99_us = max_p99_us
    if not result.tick_to_wire_ns.get("count"):
        result.ok, result.why = False, "no order was measured (did the strategy trade?)"
    elif max_p99_us is not None and result.tick_to_wire_ns["p99"] > max_p99_us * 1000:
        p99 = result.tick_to_wire_ns["p99"] / 1000
        result.ok, result.why = False, f"tick-to-wire p99 {p99:.1f} µs is over the budget {max_p99_us:g} µs"
    return result


def _line(name: str, st: dict[str, int]) -> str:
    cells = "  ".join(f"{k} {st[k] / 1000:9.1f}" for k in ("p50", "p90", "p99", "p999", "max"))
    return f"  {name:<18} n {st['count']:<6} {cells} µs"


def render(r: Result) -> str:
    out = [
        f"trader latency: {r.strategy} over {r.order_entry.upper()}, journal {r.journal}"
        f"{', busy-poll' if r.busy_poll else ''}{f' ({r.rehearsals} rehearsals)' if r.rehearsals else ''}, "
        f"{r.seconds:g} s, "
        f"{r.orders} orders, {r.ticks} book updates, {r.conflated} conflated",
        _line("tick-to-wire", r.tick_to_wire_ns),
        _line("order round trip", r.order_round_trip_ns),
        _line("tick-to-order", r.tick_to_order_ns),
        "  tick-to-wire histogram:",
    ]
    peak = max((n for _, _, n in r.histogram_us), default=0) or 1
    for lo, hi, n in r.histogram_us:
        label = f"{lo:>6}-{hi:<6} µs" if hi else f"{lo:>6}+       µs"
        out.append(f"    {label} {n:6d} {'#' * round(40 * n / peak)}")
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    from trader.cli import _run, polling
    from trader.errors import ConfigError, TraderError

    if not 0 < args.duration <= 3600:
        print("trader latency: --duration must be > 0 and at most 3600 s", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine_cpus = cpu_set(args.cpu)
        if ":" in args.strategy:
            load_strategy(args.strategy)  # fails before anything starts
        elif args.strategy != "mm":
            raise ConfigError(f"--strategy={args.strategy}: built in is mm; else give module:Class")
    except ConfigError as e:
        print(f"trader latency: {e}", file=sys.stderr)
        return EXIT_USAGE
    with contextlib.ExitStack() as stack:
        path = args.journal
        if path is None:
            path = str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "journal.db")
        try:
            proc, url = start_sim(args.seed, avoid=engine_cpus)  # off the engine's CPUs
        except TraderError as e:
            print(f"trader latency: {e}", file=sys.stderr)
            return EXIT_FAILED
        stack.callback(stop_sim, proc)
        if engine_cpus:  # after the simulator started: it would inherit the engine's CPUs
            os.sched_setaffinity(0, engine_cpus)
        try:
            result = judge(_run(measure(args, url, path), **polling(args)), args.max_p99)
            result.busy_poll = args.busy_poll
        except ConfigError as e:
            print(f"trader latency: {e}", file=sys.stderr)
            return EXIT_USAGE
        except TraderError as e:
            print(f"trader latency: {e}", file=sys.stderr)
            return EXIT_FAILED
    print(json.dumps(result.__dict__, indent=2) if args.json else render(result))
    if not result.ok:
        print(f"trader latency: {result.why}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED
