"""`trader live --exchange=binance,binance-futures,binance-margin`: three venues (one exchange, three
markets, one account each) under one engine, against the Binance simulator; SIGKILLed with orders resting
on all three, restarted: every venue reconciles from the one journal and no client id is sent twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import intents_per_venue, wait_until
from trader.cli import EXIT_OK
from trader.sim.binance import BinanceSimServer
from trader.sim.server import SimThread
from trader.venues.registry import SIM_API_KEY, SIM_SECRET

VENUES = ("binance", "binance-futures", "binance-margin")
MARKETS = {"binance": "spot", "binance-futures": "futures", "binance-margin": "margin"}

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL and /proc: Linux")


@pytest.fixture
def sim() -> Iterator[SimThread]:
    s = SimThread(BinanceSimServer(seed=5))
    yield s
    s.close()


def _config(tmp_path: Path, url: str) -> Path:
    venues = "".join(
        f"""
[venues.{name}]
api_key = "env:SIM_BINANCE_KEY"
secret = "env:SIM_BINANCE_SECRET"
environment = "sim"
url = "{url}"
orders_per_second = 10

[venues.{name}.risk]
max_gross_notional = "60000"
max_open_orders = 8
daily_loss_limit = "200"

[venues.{name}.kill]
max_unknown = 5
max_disconnected_s = 60
"""
        for name in VENUES
    )
    path = tmp_path / "config.toml"
    path.write_text(
        """
[risk]
max_gross_notional = "200000"
max_net_notional = "100000"
max_open_orders = 30
orders_per_second = 50
daily_loss_limit = "500"

[risk.assets.BTC]
max_net_notional = "90000"

[symbols.BTC-USDT]
binance = "BTCUSDT"
binance-futures = "BTCUSDT"
binance-margin = "BTCUSDT"

[strategies.mm-spot]
kind = "mm"
legs = ["binance:BTC-USDT"]
orders_per_second = 5

[strategies.mm-spot.params]
min_spread_bps = 20
"""
        + venues
    )
    return path


def _state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/sim/state", timeout=10) as r:  # noqa: S310 - loopback simulator
        state: dict[str, Any] = json.loads(r.read())[SIM_API_KEY]
    return state


def _resting(url: str) -> dict[str, int]:
    """Our open orders at the simulator, per market."""
    s = _state(url)
    live = ("NEW", "PARTIALLY_FILLED")
    margin = [o for w in s.get("margin", {}).values() for o in w.get("orders", [])]
    return {
        "spot": sum(o["status"] in live for o in s["orders"]),
        "futures": sum(o["status"] in live for o in s["futures"]["orders"]),
        "margin": sum(o["status"] in live for o in margin),
    }


def _submissions(url: str) -> dict[str, int]:
    """How many times each client id reached the venue, over every market."""
    s = _state(url)
    out: dict[str, int] = {}
    wallets = [s, s["futures"], *s.get("margin", {}).values()]
    for w in wallets:
        for cid, n in w.get("submissions", {}).items():
            out[cid] = out.get(cid, 0) + n
    return out


def test_sigkill_with_orders_on_three_venues_then_restart_reconciles_each(
    sim: SimThread, tmp_path: Path
) -> None:
    url = sim.server.url
    cfg = _config(tmp_path, url)
    env = {
        **os.environ,
        "SIM_BINANCE_KEY": SIM_API_KEY,
        "SIM_BINANCE_SECRET": SIM_SECRET,
        "HOME": str(tmp_path),
    }
    cmd = [
        sys.executable,
        "-m",
        "trader",
        "live",
        f"--exchange={','.join(VENUES)}",
        "--confirm",
        f"--config={cfg}",
    ]
    journal = tmp_path / ".trader" / f"journal-{'+'.join(VENUES)}.db"

    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        ok = wait_until(lambda: all(n > 0 for n in _resting(url).values()) or first.poll() is not None, 60)
        assert ok
        assert first.poll() is None, first.communicate()[1][-3000:]
        resting = _resting(url)
        assert all(resting.values()), resting
        first.send_signal(signal.SIGKILL)  # no shutdown: the orders stay at the venue
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert all(n > 0 for n in _resting(url).values()), "the orders outlived the process"
    before = intents_per_venue(journal)
    assert set(before) == set(VENUES)

    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        traded = wait_until(lambda: all(intents_per_venue(journal).get(v, 0) > before[v] for v in VENUES), 60)
        assert traded, "the restarted engine does not trade on every venue"
    finally:
        second.send_signal(signal.SIGINT)
        out, err = second.communicate(timeout=90)
    assert second.returncode == EXIT_OK, err[-3000:]
    summary = json.loads(out[out.index("{") :])
    assert summary["reconciled_at_start"] >= sum(resting.values())
    assert summary["open_orders_after_shutdown"] == 0
    for v in VENUES:
        assert summary["venues"][v]["state"] == "ACTIVE", summary["venues"][v]
        assert summary["venues"][v]["orders"] > 0
    assert set(summary["strategies"]) == {"mm-spot", "mm@binance-futures", "mm@binance-margin"}
    assert summary["strategies"]["mm-spot"]["orders"] == summary["venues"]["binance"]["orders"]
    assert _resting(url) == {"spot": 0, "futures": 0, "margin": 0}
    sent = _submissions(url)
    assert sent, "the simulator saw our orders"
    assert max(sent.values()) == 1, [c for c, n in sent.items() if n > 1]
    assert SIM_SECRET not in out + err
