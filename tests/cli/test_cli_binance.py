"""`trader testnet|paper|live --exchange=binance`, each against the Binance simulator (all three markets)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trader.cli import EXIT_OK, main
from trader.sim.binance import BinanceSimServer
from trader.sim.server import SimThread
from trader.venues.registry import SIM_API_KEY, SIM_SECRET


@pytest.fixture
def sim() -> Iterator[SimThread]:
    s = SimThread(BinanceSimServer(seed=3))
    yield s
    s.close()


RISK = """
[risk]
max_gross_notional = "200000"
max_net_notional = "100000"
max_open_orders = 20
max_orders_per_sec = 50
daily_loss_limit = "500"
"""


def config(tmp_path: Path, url: str, **options: str) -> Path:
    extra = "".join(f'{k} = "{v}"\n' for k, v in options.items())
    path = tmp_path / "config.toml"
    path.write_text(
        RISK
        + f"""
[venues.binance]
api_key = "env:SIM_BINANCE_KEY"
secret = "env:SIM_BINANCE_SECRET"
environment = "sim"
url = "{url}"
{extra}"""
    )
    return path


@pytest.fixture
def sim_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"SIM_BINANCE_KEY": SIM_API_KEY, "SIM_BINANCE_SECRET": SIM_SECRET}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_testnet_sim_checks_every_binance_market(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testnet", "--exchange=binance", "--sim", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    for market in ("spot", "futures", "margin"):
        rows = [line for line in out.splitlines() if line.startswith(f"binance/{market} ")]
        assert [r.split()[1] for r in rows] == ["reachability", "clock", "auth", "market", "order"]
        assert all(" PASS " in r for r in rows), rows
    assert "0 failed, 15 passed, 0 skipped" in out


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_testnet_with_a_config_pointing_at_a_running_venue(
    market: str, sim: SimThread, sim_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, sim.server.url, market=market)
    assert main(["testnet", "--exchange=binance", f"--config={cfg}", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "0 failed, 5 passed" in out
    assert (
        sim.server.requests["DELETE " + ("/fapi/v1/order" if market == "futures" else "/api/v3/order")] == 1
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["--market=futures"],
        ["--market=margin"],
        ["--order-entry=ws"],
        ["--market=futures", "--order-entry=ws"],
    ],
)
def test_paper_binance_sim_markets_and_order_paths(
    extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["paper", "--exchange=binance", "--sim", "--duration=3", "--json", *extra]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["rejects"] == 0
    assert data["unknown_outcomes"] == 0
    assert data["open_orders_after_shutdown"] == 0


def test_live_binance_confirm_trades_then_stops_clean_on_sigint(
    sim: SimThread, sim_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = config(tmp_path, sim.server.url, market="futures", order_entry="ws")
    env = {**os.environ, **sim_env, "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trader", "live", "--exchange=binance", "--confirm", f"--config={cfg}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for _ in range(150):  # up to 30 s: trading, quotes rest, so the dead-man switch gets armed
        if sim.server.requests["POST /fapi/v1/countdownCancelAll"] or proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_OK, err
    summary = json.loads(out[out.index("{") :])
    assert summary["orders"] > 0
    assert summary["open_orders_after_shutdown"] == 0
    assert sim.server.requests["POST /fapi/v1/countdownCancelAll"] >= 1
    assert (tmp_path / ".trader" / "journal-binance.db").exists()
    assert SIM_SECRET not in out + err


@pytest.mark.parametrize("symbol", ["DOGEUSDT", "SOLUSDT"])
def test_paper_altcoin_market_maker_is_sized_by_the_venue_filters(
    symbol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Quotes sized from the venue's lot/min-notional and kept inside its price band: the venue rejects
    none of them (a LOT_SIZE, NOTIONAL or PERCENT_PRICE_BY_SIDE failure would be a reject)."""
    assert (
        main(["paper", "--exchange=binance", "--sim", f"--symbol={symbol}", "--duration=3", "--json"])
        == EXIT_OK
    )
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0


def test_paper_refuses_a_symbol_the_simulator_does_not_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--exchange=binance", "--sim", "--symbol=NOPEUSDT", "--duration=1"]) != EXIT_OK
    assert "NOPEUSDT" in capsys.readouterr().err
