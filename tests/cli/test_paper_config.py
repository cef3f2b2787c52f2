"""`trader paper --config`: the config's `[strategies]` trade as `trader live` would trade them (unless
`--strategy` names another); a cross-venue table it does not run is said, and `--fast` refuses a
configured strategy rather than trade another."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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

[venues.okx]
api_key = "env:K"
secret = "env:S"
passphrase = "env:P"
environment = "sim"
url = "http://127.0.0.1:1"
"""


def _trader(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trader", "paper", "--sim", "--duration=4", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
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


def test_several_venues_each_trade_the_config_and_a_cross_table_is_said(tmp_path: Path) -> None:
    out = _trader("--exchange=binance,okx", _config(tmp_path, CONFIG + CROSS))
    assert out.returncode == 0, out.stderr[-2000:]
    names = [ln.split()[0] for ln in out.stdout.splitlines() if ln.startswith("    ") and "halted" in ln]
    assert names == ["tight", "mm@okx"]
    assert "[strategies.arb] (xarb on binance, okx) is not run by paper --config" in out.stdout


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
