"""`trader paper --config`: the config's `[strategies]` trade as `trader live` would trade them (unless
`--strategy` names another): the single-venue ones on each venue; with `--sim` the cross-venue ones too,
on the exchanges' simulators under one fair price; without it those are said not to run. `--fast` refuses
a configured strategy rather than trade another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trader.sim.binance import BinanceSimServer
from trader.sim.server import SimThread
from trader.venues.registry import SIM_API_KEY, SIM_SECRET

CONFIG = """
[risk]
max_gross_notional = "200000"
max_net_notional = "100000"
max_open_orders = 30
orders_per_second = 50
daily_loss_limit = "500"

[symbols.BTC-USDT]
binance = "BTCUSDT"
okx = "BTC-USDT"

[strategies.tight]
kind = "mm"
legs = ["binance:BTC-USDT"]
orders_per_second = 3

[strategies.tight.params]
min_spread_bps = 5

[venues.binance]
api_key = "env:SIM_BINANCE_KEY"
secret = "env:SIM_BINANCE_SECRET"
environment = "sim"
url = "http://127.0.0.1:1"
"""

CROSS = """
[strategies.arb]
kind = "xarb"
legs = ["binance:BTC-USDT", "okx:BTC-USDT"]

[strategies.arb.params]
min_edge_bps = 1

[venues.okx]
api_key = "env:K"
secret = "env:S"
passphrase = "env:P"
environment = "sim"
url = "http://127.0.0.1:1"
"""

BASIS = """
[strategies.carry]
kind = "basis"
legs = ["binance:BTC-USDT", "binance-futures:BTC-USDT"]

[venues.binance-futures]
api_key = "env:SIM_BINANCE_KEY"
secret = "env:SIM_BINANCE_SECRET"
environment = "sim"
url = "http://127.0.0.1:1"
"""


def _trader(
    *args: str, sim: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trader", "paper", *(["--sim"] if sim else []), "--duration=4", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=env,
    )


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return f"--config={path}"


def test_the_configured_strategy_trades_under_its_name_and_rate(tmp_path: Path) -> None:
    out = _trader("--exchange=binance", "--json", _config(tmp_path, CONFIG))
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout)
    assert list(s["strategies"]) == ["tight"]  # the default would be "mm"
    assert 0 < s["orders"] <= 3 * 4 + 3  # its orders_per_second (the default mm sends about 5 a second)


def test_strategy_flag_wins_over_the_config(tmp_path: Path) -> None:
    out = _trader("--exchange=binance", "--json", "--strategy=mm", _config(tmp_path, CONFIG))
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(json.loads(out.stdout)["strategies"]) == ["mm"]


def test_with_sim_the_cross_venue_tables_trade_beside_the_single_venue_ones(tmp_path: Path) -> None:
    text = (CONFIG + CROSS + BASIS).replace(
        'binance = "BTCUSDT"', 'binance = "BTCUSDT"\nbinance-futures = "BTCUSDT"'
    )
    out = _trader("--exchange=binance,okx,binance-futures", "--json", _config(tmp_path, text))
    assert out.returncode == 0, out.stderr[-2000:]
    s = json.loads(out.stdout)
    assert set(s["strategies"]) == {"tight", "arb", "carry"}  # okx trades only the arbitrage, as live
    assert s["strategies"]["tight"]["orders"] > 0
    assert s["open_orders_after_shutdown"] == 0


def test_a_basis_across_two_exchanges_is_refused_before_anything_starts(tmp_path: Path) -> None:
    across = """
[strategies.carry]
kind = "basis"
legs = ["binance:BTC-USDT", "okx-swap:BTC-USDT"]

[venues.okx-swap]
api_key = "env:K"
secret = "env:S"
passphrase = "env:P"
environment = "sim"
url = "http://127.0.0.1:1"
"""
    text = (CONFIG + across).replace('okx = "BTC-USDT"', 'okx-swap = "BTC-USDT-SWAP"')
    out = _trader("--exchange=binance,okx,okx-swap", _config(tmp_path, text))
    assert out.returncode == 2, out.stdout[-2000:]
    assert "a rehearsal pairs a spot leg with its own exchange's perpetual" in out.stderr
    alone = _trader("--exchange=binance,okx-swap", _config(tmp_path, text))
    assert alone.returncode == 2, alone.stdout[-2000:]
    assert "okx-swap is rehearsed on its exchange's simulator: add okx to --exchange" in alone.stderr


def test_without_sim_a_cross_table_is_said_not_to_run(tmp_path: Path) -> None:
    """The paper accounts of the config (here two markets of one running simulator): each venue trades
    its single-venue strategy, and the basis is named as not run."""
    venue = SimThread(BinanceSimServer(seed=5))
    try:
        text = (CONFIG + BASIS).replace("http://127.0.0.1:1", venue.server.url)
        text = text.replace('binance = "BTCUSDT"', 'binance = "BTCUSDT"\nbinance-futures = "BTCUSDT"')
        env = {**os.environ, "SIM_BINANCE_KEY": SIM_API_KEY, "SIM_BINANCE_SECRET": SIM_SECRET}
        out = _trader("--exchange=binance,binance-futures", _config(tmp_path, text), sim=False, env=env)
    finally:
        venue.close()
    assert out.returncode == 0, out.stderr[-2000:]
    assert "[strategies.carry] (basis on binance, binance-futures) is not run here" in out.stdout
    names = [ln.split()[0] for ln in out.stdout.splitlines() if ln.startswith("    ") and "halted" in ln]
    assert names == ["tight", "mm@binance-futures"]


def test_fast_refuses_a_configured_strategy(tmp_path: Path) -> None:
    text = (
        CONFIG.replace('legs = ["binance:BTC-USDT"]', 'legs = ["sim:BTC-USDT"]').replace(
            'binance = "BTCUSDT"', 'binance = "BTCUSDT"\nsim = "BTCUSDT"'
        )
        + '[venues.sim]\nenvironment = "sim"\nurl = "http://127.0.0.1:1"\n'
    )
    out = _trader("--exchange=sim", "--fast", _config(tmp_path, text))
    assert out.returncode == 2, out.stdout[-2000:]
    assert "--fast runs the built-in market maker, not [strategies.tight]" in out.stderr
