"""`trader paper --exchange=ibkr|alpaca --sim`: the broker connectors trading through the engine against
their simulators (an IB Gateway speaking the TWS socket protocol; Alpaca's REST and streams)."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from trader.cli import EXIT_OK, EXIT_USAGE, main
from trader.clock import LiveClock
from trader.sim.server import SimThread


@pytest.mark.parametrize("exchange", ["ibkr", "alpaca"])
def test_paper_market_making_an_etf_through_a_broker(
    exchange: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["paper", f"--exchange={exchange}", "--sim", "--duration=4", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0


def test_paper_pairs_stat_arb_trades_both_legs_on_ibkr(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["paper", "--exchange=ibkr", "--sim", "--strategy=pairs", "--duration=10", "--json"]) == EXIT_OK
    )
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] >= 2  # an entry is two legs
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0


def test_paper_refuses_a_strategy_the_venue_does_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--exchange=alpaca", "--sim", "--strategy=pairs"]) == EXIT_USAGE
    assert "not available on alpaca" in capsys.readouterr().err


@pytest.mark.parametrize(("exchange", "checks"), [("ibkr", 5), ("alpaca", 5), ("polymarket", 6)])
def test_testnet_sim_connect_book_and_order_round_trip(
    exchange: str, checks: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """The five checks every venue runs, and Polymarket's sixth (its Polygon RPC answers)."""
    assert main(["testnet", f"--exchange={exchange}", "--sim", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"0 failed, {checks} passed, 0 skipped" in out
    assert "placed in" in out


def test_paper_polymarket_binary_market_maker_quotes_both_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--exchange=polymarket", "--sim", "--duration=5", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] >= 2
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0


@pytest.mark.parametrize("strategy", ["rewards", "event"])
def test_paper_polymarket_reward_capture_and_event_driven(
    strategy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signal = tmp_path / "signal.jsonl"
    signal.write_text(f'{{"ts": {LiveClock().now_ns()}, "market": "sim", "prob": "0.85"}}\n')
    extra = [f"--signal={signal}"] if strategy == "event" else []
    argv = ["paper", "--exchange=polymarket", "--sim", f"--strategy={strategy}", "--duration=5", "--json"]
    assert main([*argv, *extra]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0
    if strategy == "event":  # the signal is far above the market: it buys YES
        assert Decimal(data["inventory"]) > 0


def test_paper_event_strategy_needs_a_signal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--exchange=polymarket", "--sim", "--strategy=event", "--duration=1"]) == EXIT_USAGE
    assert "--signal" in capsys.readouterr().err


RISK = """
[risk]
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 10
max_orders_per_sec = 10
daily_loss_limit = "100"
"""


def test_testnet_checks_configured_brokers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, AlpacaSimServer
    from trader.sim.ibkr import DEFAULT_ACCOUNT, IbkrSimServer

    alpaca, ib = SimThread(AlpacaSimServer(seed=2)), SimThread(IbkrSimServer(seed=2))
    monkeypatch.setenv("ALPACA_KEY", DEMO_KEY)
    monkeypatch.setenv("ALPACA_SECRET", DEMO_SECRET)
    cfg = tmp_path / "brokers.toml"
    cfg.write_text(
        RISK
        + f"""
[venues.alpaca]
api_key = "env:ALPACA_KEY"
secret = "env:ALPACA_SECRET"
environment = "sim"
url = "{alpaca.server.url}"

[venues.ibkr]
environment = "paper"
port = {ib.port}
client_id = 7
account_id = "{DEFAULT_ACCOUNT}"
"""
    )
    try:
        assert main(["testnet", f"--config={cfg}", "--order"]) == EXIT_OK
    finally:
        alpaca.close()
        ib.close()
    out = capsys.readouterr().out
    assert "0 failed, 10 passed, 0 skipped" in out
    assert sum(line.startswith(("alpaca ", "ibkr ")) for line in out.splitlines()) == 10


@pytest.mark.parametrize(("when", "trades"), [("monday", True), ("saturday", False)])
def test_paper_alpaca_from_config_follows_the_venue_session(
    when: str,
    trades: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`trader paper --exchange=alpaca --config`: the paper account of the config (here a simulator on
    its own clock). The equity rules read the session from the venue's clock: open on a Monday
    morning, closed on a Saturday, whatever the hour on this machine."""
    from trader.clock import ShiftedClock
    from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, AlpacaSimServer, eastern_ns

    start = eastern_ns(2026, 11, 30, 11, 0) if when == "monday" else eastern_ns(2026, 11, 28, 11, 0)
    alpaca = SimThread(AlpacaSimServer(seed=2, clock=ShiftedClock(start)))
    monkeypatch.setenv("ALPACA_KEY", DEMO_KEY)
    monkeypatch.setenv("ALPACA_SECRET", DEMO_SECRET)
    cfg = tmp_path / "alpaca.toml"
    cfg.write_text(
        f"""
[venues.alpaca]
api_key = "env:ALPACA_KEY"
secret = "env:ALPACA_SECRET"
environment = "sim"
url = "{alpaca.server.url}"
"""
    )
    try:
        code = main(["paper", "--exchange=alpaca", f"--config={cfg}", "--duration=3", "--json"])
    finally:
        alpaca.close()
    assert code == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    if trades:
        assert data["orders"] > 0
        assert "MARKET_CLOSED" not in data["denials"]
    else:
        assert data["orders"] == 0
        assert data["denials"]["MARKET_CLOSED"] > 0


def test_polymarket_from_config_testnet_and_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wallet from an encrypted keystore trading a configured market: `trader testnet` passes its
    checks, and `trader live --confirm` trades both tokens until interrupted, then cancels everything."""
    import os
    import signal
    import subprocess
    import sys

    from trader.secrets import write_keystore
    from trader.sim.polymarket import PolymarketSimServer

    pm = SimThread(PolymarketSimServer(seed=4))
    market = next(m for m in pm.server.markets.values() if not m.neg_risk)
    keystore = tmp_path / "wallet.json"
    write_keystore(keystore, "0x" + "5a" * 32, "wallet passphrase", log_n=12)
    monkeypatch.setenv("TRADER_KEYSTORE_PASSWORD", "wallet passphrase")
    cfg = tmp_path / "polymarket.toml"
    cfg.write_text(
        RISK
        + f"""
[venues.polymarket]
private_key = "keystore:{keystore}"
environment = "sim"
url = "{pm.server.url}"
condition_id = "{market.condition_id}"
"""
    )
    try:
        assert main(["testnet", f"--config={cfg}", "--order"]) == EXIT_OK
        out = capsys.readouterr().out
        assert "0 failed, 6 passed" in out
        assert "polygon rpc" in out  # the venue's own check: its chain RPC answers
        env = {**os.environ, "HOME": str(tmp_path)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "trader", "live", "--exchange=polymarket", "--confirm", f"--config={cfg}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(100):  # up to 20 s: until our quotes rest at the venue
            if proc.poll() is not None or any(o.live for o in pm.server.orders.values()):
                break
            threading.Event().wait(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        pm.close()
    assert proc.returncode == EXIT_OK, err
    summary = json.loads(out[out.index("{") :])
    assert summary["orders"] > 0
    assert summary["open_orders_after_shutdown"] == 0
    assert "5a5a5a5a" not in out + err


@pytest.mark.parametrize(("when", "trades"), [("monday", True), ("saturday", False), ("evening", False)])
def test_paper_ibkr_connects_to_a_running_gateway(
    when: str, trades: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --sim, `trader paper --exchange=ibkr` connects to a gateway (here the simulator on its own
    thread, its clock pinned to a chosen instant). The equity rules follow the gateway's session: orders
    flow only while the market is open, whatever the hour on this machine."""
    from trader.clock import ShiftedClock
    from trader.sim.alpaca import eastern_ns
    from trader.sim.ibkr import IbkrSimServer

    start = {
        "monday": eastern_ns(2026, 11, 30, 11, 0),
        "saturday": eastern_ns(2026, 11, 28, 11, 0),
        "evening": eastern_ns(2026, 11, 30, 17, 30),  # post-market, extended hours off
    }[when]
    ib = SimThread(IbkrSimServer(seed=2, clock=ShiftedClock(start)))
    try:
        argv = [
            "paper",
            "--exchange=ibkr",
            f"--venue-url=tcp://127.0.0.1:{ib.port}",
            "--duration=3",
            "--json",
        ]
        assert main(argv) == EXIT_OK
    finally:
        ib.close()
    data = json.loads(capsys.readouterr().out)
    assert data["rejects"] == 0
    if trades:
        assert data["orders"] > 0
        assert not data["denials"].keys() & {"MARKET_CLOSED", "EXTENDED_HOURS_DISABLED"}
    else:
        assert data["orders"] == 0
        reason = "MARKET_CLOSED" if when == "saturday" else "EXTENDED_HOURS_DISABLED"
        assert data["denials"][reason] > 0


def test_live_alpaca_confirm_follows_the_session_then_stops_clean(tmp_path: Path) -> None:
    """`trader live --exchange=alpaca --confirm` against a venue on the true clock (a venue whose clock
    is off fails the preflight, so this test cannot pin the session): it trades in the regular session,
    is refused by the equity rules in every other one (closed; pre- and post-market with extended hours
    off), and stops clean on SIGINT either way. The sessions themselves are pinned in tests/engine."""
    import os
    import signal
    import subprocess
    import sys

    from trader.engine.equity import CalendarError, Session, session

    def denial_now() -> str | None:
        """What the equity rules answer now: None in the regular session, else the denial's name."""
        try:
            s = session(LiveClock().now_ns())
        except CalendarError:  # past the exchange calendar the rules know: nothing trades, typed
            return "CALENDAR_UNKNOWN"
        if s is Session.REGULAR:
            return None
        return "MARKET_CLOSED" if s is Session.CLOSED else "EXTENDED_HOURS_DISABLED"

    from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, AlpacaSimServer

    expected = denial_now()
    open_now = expected is None
    alpaca = SimThread(AlpacaSimServer(seed=2))
    cfg = tmp_path / "alpaca.toml"
    cfg.write_text(
        RISK
        + f"""
[venues.alpaca]
api_key = "env:ALPACA_KEY"
secret = "env:ALPACA_SECRET"
environment = "sim"
url = "{alpaca.server.url}"
"""
    )
    env = {**os.environ, "ALPACA_KEY": DEMO_KEY, "ALPACA_SECRET": DEMO_SECRET, "HOME": str(tmp_path)}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trader", "live", "--exchange=alpaca", "--confirm", f"--config={cfg}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(100 if open_now else 20):  # open: until the first order; closed: 4 s
            if proc.poll() is not None or alpaca.server.requests["POST /v2/orders"]:
                break
            threading.Event().wait(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        alpaca.close()
    assert proc.returncode == EXIT_OK, err
    summary = json.loads(out[out.index("{") :])
    assert summary["open_orders_after_shutdown"] == 0
    if denial_now() != expected:
        return  # the session changed while the test ran (09:30, 16:00 ...): either outcome is right
    if open_now:
        assert summary["orders"] > 0
    else:
        assert summary["orders"] == 0
        assert expected is not None
        assert summary["denials"][expected] > 0
    assert DEMO_SECRET not in out + err
