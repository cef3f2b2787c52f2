"""The kill switch is a wake-up, not a poll: `trader kill` latches the journal and signals the engine, whose
gate is HALTED in the signal's callback; out of band it cancels at the configured venues; a reset needs
proof and is audited (RELIABILITY issue 13, defect 7)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.campaign.figures import record
from trader.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from trader.clock import LiveClock
from trader.engine import killswitch
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.sim import matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.strategies.market_maker import MarketMaker, MarketMakerParams
from trader.venues.registry import SIM_API_KEY, SIM_SECRET
from trader.venues.sim import SimConnector

TRADER = [sys.executable, "-m", "trader"]
linux_only = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="the engine's pid check reads /proc (Linux)"
)


@linux_only
def test_signal_to_halted_latency() -> None:
    """SIGUSR1 from another thread to a running engine: measured from the send to the gate HALTED, and
    from the engine's callback to HALTED (the <= 1 ms target), over 30 kills."""
    clock = LiveClock()
    sent: list[int] = []
    halted: list[int] = []
    in_engine: list[int] = []

    async def go() -> None:
        eng = matching.MatchingEngine(
            maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(5), unit_notional=Decimal("0.00001")
        )
        market = BackgroundMarket(eng, MarketParams(mid=5_000_000, max_qty=200), seed=2)
        market.seed_book(20)
        venue = SimConnector(eng, market, "BTCUSDT", clock)
        mm = MarketMaker(MarketMakerParams("BTCUSDT", tick=1, order_qty=50, max_inventory=400, gamma=0.05))
        journal = Journal(":memory:")
        engine = Engine(venue, mm, journal=journal, clock=clock, config=EngineConfig())

        def send() -> None:  # another thread, as another process would: the loop is idle meanwhile
            sent.append(clock.monotonic_ns())
            os.kill(os.getpid(), signal.SIGUSR1)

        async def market_and_kills() -> None:
            while engine.gate is None:
                await clock.sleep(0.005)
            for _ in range(20):  # the engine quotes a while
                venue.step(10_000_000)
                await clock.sleep(0.005)
            assert engine.summary.orders > 0
            me = f"{os.getpid()}:{killswitch.process_identity(os.getpid())}"
            assert journal.get_meta("engine_pid") == me, "the engine recorded itself"
            for _ in range(30):
                engine.kill_latency_ns = None
                t = threading.Thread(target=send)
                t.start()
                while (latency := getattr(engine, "kill_latency_ns", None)) is None:  # set by the signal
                    await clock.sleep(0)
                halted.append(engine.kill_halted_ns or 0)
                in_engine.append(latency)
                t.join()
                venue.step(10_000_000)
                await clock.sleep(0.01)
            engine.stop()

        driver = asyncio.get_running_loop().create_task(market_and_kills())
        summary = await engine.run(30.0)
        await driver
        assert summary.killed
        assert summary.open_orders_after_shutdown == 0
        assert journal.get_meta("engine_pid") == "", "the engine's record is cleared when it stops"

    asyncio.run(go())
    end_to_end = [(h - s) / 1000 for s, h in zip(sent, halted, strict=True)]
    callback = [n / 1000 for n in in_engine]
    print(
        f"\nkill latency over {len(sent)} signals: send -> HALTED p50 "
        f"{statistics.median(end_to_end):.0f} us, max {max(end_to_end):.0f} us; "
        f"engine callback -> HALTED p50 {statistics.median(callback):.1f} us, max {max(callback):.1f} us"
    )
    record(
        "kill_latency",
        {"signals": len(sent), "send_to_halted_us": end_to_end, "callback_to_halted_us": callback},
    )
    # every kill HALTED the gate in the signal's own callback (kill_latency_ns is set there, not by the
    # timer's poll); how fast is a figure `make campaign` holds to its targets, not a test assertion
    assert len(in_engine) == len(sent) == 30


@linux_only
def test_only_the_recorded_process_is_signalled(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    assert killswitch.signal_engine(journal) is None, "no engine recorded"
    journal.set_meta("engine_pid", f"{os.getpid()}:1")  # this pid, but not the process that recorded it
    assert killswitch.signal_engine(journal) is None, "a reused pid is never signalled"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + 5  # noqa: TID251 - a test's own wall-clock deadline
        while killswitch.process_identity(sleeper.pid) is None and time.monotonic() < deadline:  # noqa: TID251
            time.sleep(0.01)
        journal.set_meta("engine_pid", f"{sleeper.pid}:{killswitch.process_identity(sleeper.pid)}")
        assert killswitch.signal_engine(journal) == sleeper.pid
        assert sleeper.wait(timeout=10) == -signal.SIGUSR1
    finally:
        sleeper.kill()
        sleeper.wait()
    assert killswitch.signal_engine(journal) is None, "it exited"


def test_reset_needs_proof_and_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.db"
    assert main(["paper", "--fast", "--duration", "1", "--json", "--journal", str(path)]) == EXIT_OK
    token = path.with_name("j.db.reset-token")
    assert token.stat().st_mode & 0o777 == 0o600, "the reset token is the owner's only"
    assert main(["kill", "--journal", str(path)]) == EXIT_OK
    reset = ["kill", "--journal", str(path), "--reset", "--operator", "alice"]
    assert main(reset) == EXIT_USAGE, "a name alone does not reset"
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token\n")
    assert main([*reset, "--token-file", str(wrong)]) == EXIT_FAILED
    assert "refused" in capsys.readouterr().err
    j = Journal(path)
    assert j.get_counter("kill_reset") < j.get_counter("kill"), "still latched"
    j.close()
    assert main([*reset, "--token-file", str(token)]) == EXIT_OK
    # the configured credentials are proof too (here: env secrets that resolve)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[venues.binance]\napi_key = "env:K"\nsecret = "env:S"\nenvironment = "sim"\nurl = "x"\n')
    monkeypatch.delenv("S", raising=False)
    monkeypatch.setenv("K", SIM_API_KEY)
    assert main(["kill", "--journal", str(path)]) == EXIT_OK
    assert main([*reset[:-1], "bob", "--config", str(cfg)]) == EXIT_USAGE, "a secret that is not there"
    url_only = tmp_path / "url-only.toml"
    url_only.write_text('[venues.polymarket]\nenvironment = "live"\nrpc_url = "env:K"\n')
    assert main([*reset[:-1], "bob", "--config", str(url_only)]) == EXIT_USAGE, "a provider's URL is no proof"
    monkeypatch.setenv("S", SIM_SECRET)
    assert main([*reset[:-1], "bob", "--config", str(cfg)]) == EXIT_OK
    j = Journal(path)
    audit = killswitch.audit_log(j)
    assert [(a["action"], a.get("operator"), a.get("proof")) for a in audit] == [
        ("kill", None, None),
        ("reset", "alice", "token"),
        ("kill", None, None),
        ("reset", "bob", "config"),
    ]
    assert all(a["user"] and a["at_ns"] and a["host"] for a in audit), "who and when"
    assert j.get_counter("kill_reset") == j.get_counter("kill") == 2
    j.close()
    assert token.read_text().strip().encode() not in path.read_bytes(), "the journal keeps only a digest"


def test_kill_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kill"]) == EXIT_USAGE, "nothing to kill named"
    assert main(["kill", "--venue", "binance"]) == EXIT_USAGE, "--venue needs --config"
    cfg = tmp_path / "config.toml"
    cfg.write_text('[venues.coinbase]\napi_key = "env:K"\nsecret = "env:S"\nenvironment = "live"\n')
    assert main(["kill", "--config", str(cfg), "--venue", "binance"]) == EXIT_USAGE, "not configured"
    assert main(["kill", "--config", str(cfg)]) == EXIT_FAILED, "a venue it could not cancel at fails"
    assert "coinbase: FAILED to cancel" in capsys.readouterr().err
    assert main(["kill", "--journal", str(tmp_path / "none.db"), "--config", str(cfg)]) == EXIT_USAGE


# ---- real processes ------------------------------------------------------------------------------


@pytest.fixture
def venue() -> Iterator[str]:
    proc = subprocess.Popen(
        [*TRADER, "sim", "sim", "--port", "0", "--seed", "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        yield line.split("listening on ")[1].split()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def open_orders(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/sim/state", timeout=10) as r:  # noqa: S310 - loopback test server
        state: dict[str, Any] = json.loads(r.read())[SIM_API_KEY]
    return [o for o in state["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]


def intents(journal: Path) -> int:
    with sqlite3.connect(journal) as db:
        try:
            return int(db.execute("SELECT count(*) FROM events WHERE kind = 'Intent'").fetchone()[0])
        except sqlite3.OperationalError:  # the engine created the file and not yet its tables
            return 0


@linux_only
def test_trader_kill_wakes_the_engine_and_cancels_at_configured_venues(venue: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    args = [*TRADER, "paper", "--venue-url", venue, "--journal", str(journal), "--json", "--duration", "60"]
    engine = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30  # noqa: TID251 - a test's own wall-clock deadline
        while time.monotonic() < deadline and not (journal.exists() and open_orders(venue)):  # noqa: TID251
            time.sleep(0.05)
        assert open_orders(venue), "the engine quotes"
        # out of band, with the config's credentials: every open order at the venue goes
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            f'[venues.binance]\napi_key = "env:K"\nsecret = "env:S"\nenvironment = "sim"\nurl = "{venue}"\n'
        )
        env = {**os.environ, "K": SIM_API_KEY, "S": SIM_SECRET}
        out = subprocess.run(
            [*TRADER, "kill", "--config", str(cfg)], capture_output=True, text=True, timeout=60, env=env
        )
        assert out.returncode == 0, out.stderr
        assert "binance: canceled" in out.stdout
        assert int(out.stdout.split("binance: canceled ")[1].split()[0]) > 0
        assert SIM_SECRET not in out.stdout + out.stderr
        # the journal's kill wakes the engine (no --venue-url: the engine cancels its own)
        kill = subprocess.run(
            [*TRADER, "kill", "--journal", str(journal)], capture_output=True, text=True, timeout=60
        )
        assert kill.returncode == 0, kill.stderr
        assert "latched" in kill.stdout
        assert f"engine (pid {engine.pid}) woken" in kill.stdout
        woken = time.monotonic()  # noqa: TID251 - a test's own wall-clock measure
        deadline = woken + 5
        while open_orders(venue) and time.monotonic() < deadline:  # noqa: TID251
            time.sleep(0.02)
        assert open_orders(venue) == []
        zero_open_s = time.monotonic() - woken  # noqa: TID251
        sent = intents(journal)
        time.sleep(0.5)
        assert intents(journal) == sent, "nothing new is sent after the kill"
    finally:
        engine.send_signal(signal.SIGINT)
        out_text, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err
    assert json.loads(out_text)["killed"] is True
    line = next(x for x in err.splitlines() if "HALTED" in x)
    print("\n" + line)
    halted_us = int(line.split("HALTED ")[1].split()[0])
    record("kill_process", {"halted_us": halted_us, "kill_to_zero_open_s": zero_open_s})  # campaign target
