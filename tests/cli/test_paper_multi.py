"""`trader paper --sim --exchange=a,b,c`: several simulated venues at once, one engine, one gate, one
journal; the summary breaks orders, fills, fees and PnL down per venue, strategy and asset."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from tests.engine.rig import run
from tests.engine.test_multivenue import Multi, _shared_clock
from tests.helpers import intents_per_venue, wait_until
from trader.cli.view import render
from trader.engine.journal import Journal

VENUES = ("binance", "polymarket", "alpaca")


def _trader(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trader", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_paper_on_three_simulated_venues_under_one_gate(tmp_path: Path) -> None:
    journal = tmp_path / "multi.db"
    out = _trader(
        "paper",
        "--sim",
        f"--exchange={','.join(VENUES)}",
        "--duration",
        "8",
        "--json",
        "--journal",
        str(journal),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout)
    assert s["open_orders_after_shutdown"] == 0
    assert s["failure"] == ""
    assert set(s["venues"]) == set(VENUES)
    for name in VENUES:
        row = s["venues"][name]
        assert row["orders"] > 0, (name, row)
        assert row["state"] == "ACTIVE"
    assert s["orders"] == sum(s["venues"][n]["orders"] for n in VENUES)
    assert s["fills"] == sum(s["venues"][n]["fills"] for n in VENUES)
    assert {name.split("@")[1] for name in s["strategies"]} == set(VENUES)
    assert sum(Decimal(r["pnl"]) for r in s["venues"].values()) == Decimal(s["pnl"])
    assert sum(r["orders"] for r in s["strategies"].values()) == s["orders"]
    assert "BTC" in s["assets"]
    assert "SPY" in s["assets"]


def test_paper_text_summary_lists_each_venue() -> None:
    out = _trader("paper", "--sim", "--exchange=binance,ibkr", "--duration", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "paper session on binance,ibkr" in out.stdout
    venue_lines = [
        ln for ln in out.stdout.splitlines() if ln.startswith("    binance ") or ln.startswith("    ibkr ")
    ]
    assert len(venue_lines) == 2
    assert all("orders" in ln and "pnl" in ln for ln in venue_lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange=binance,binance"], "name each venue once"),
        (["--exchange=binance,nosuch"], "nosuch"),
        (["--exchange=binance,polymarket", "--fast"], "--fast applies to one venue"),
        (["--exchange=binance", "--fast"], "--fast runs the built-in sim venue"),
        (["--exchange=binance,polymarket", "--symbol=ETHUSDT"], "--symbol applies to one venue"),
        (["--exchange=binance,alpaca", "--strategy=binary-mm"], "not available on binance"),
        (["--exchange=,"], "name each venue once"),
    ],
)
def test_paper_refuses_a_bad_venue_list_in_one_line(args: list[str], message: str) -> None:
    out = _trader("paper", "--sim", *args, "--duration", "1", timeout=30)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_live_view_shows_each_venue_and_the_aggregate() -> None:
    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        await m.engine.start()
        await m.steps(60)
        console = Console(record=True, width=160)
        console.print(render(m.engine.snapshot(), "sim-a,sim-b,sim-c", 6.0))
        text = console.export_text()
        for name in ("sim-a", "sim-b", "sim-c"):
            assert name in text
        assert "all venues" in text
        assert "exposure BTC" in text
        await m.engine.shutdown()

    run(go)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kill signal path is Linux-only")
def test_trader_kill_halts_one_venue_then_all_of_a_running_engine(tmp_path: Path) -> None:
    journal, log = tmp_path / "j.db", tmp_path / "engine.log"
    cmd = [sys.executable, "-m", "trader", "paper", "--sim", "--exchange=binance,polymarket"]

    def halted(n: int) -> bool:
        """The engine has logged its `n`th HALT: every order it approved before is journaled by then (its
        intents are written in the step that sent it, and the signal is handled in a later one)."""
        return log.read_text().count("HALTED") >= n

    with log.open("w") as err:
        engine = subprocess.Popen(
            [*cmd, f"--journal={journal}", "--json", "--duration=60"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert wait_until(
            lambda: all(intents_per_venue(journal).get(v, 0) > 0 for v in ("binance", "polymarket")), 40
        )
        one = _trader("kill", f"--journal={journal}", "--venue=polymarket")
        assert one.returncode == 0, one.stderr
        assert "venue polymarket" in one.stdout
        assert wait_until(lambda: halted(1), 20), log.read_text()[-2000:]
        at_halt = intents_per_venue(journal)
        assert wait_until(lambda: intents_per_venue(journal)["binance"] > at_halt["binance"] + 2, 20), (
            "binance stopped too"
        )
        assert intents_per_venue(journal)["polymarket"] == at_halt["polymarket"], (
            "the killed venue still got orders"
        )
        every = _trader("kill", f"--journal={journal}")
        assert every.returncode == 0, every.stderr
        assert wait_until(lambda: halted(2), 20), log.read_text()[-2000:]
        after = intents_per_venue(journal)
        time.sleep(1.0)
        assert intents_per_venue(journal) == after, "orders after the kill of everything"
        wrong = _trader("kill", f"--journal={journal}", "--venue=kraken")
        assert wrong.returncode == 2
        assert "not kraken" in wrong.stderr
    finally:
        engine.send_signal(signal.SIGINT)
        out, _ = engine.communicate(timeout=60)
    assert engine.returncode == 0, log.read_text()[-2000:]
    s = json.loads(out)
    assert s["killed"] is True
    assert s["killed_venues"] == ["polymarket"]
    assert s["open_orders_after_shutdown"] == 0
    assert s["venues"]["polymarket"]["state"] == "KILLED"
