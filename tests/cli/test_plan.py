"""Configured strategies ([strategies.NAME]) as what each venue of a session trades."""

from __future__ import annotations

import re

import pytest

from trader.cli.plan import plan
from trader.config import parse_config
from trader.errors import ConfigError

BASE = """
[risk]
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 20
orders_per_second = 20
daily_loss_limit = "500"

[venues.binance]
api_key = "env:K"
secret = "env:S"

[venues.binance-futures]
api_key = "env:K"
secret = "env:S"

[symbols.BTC-USDT]
binance = "BTCUSDT"
binance-futures = "BTCUSDT"
"""


def test_a_configured_strategy_runs_on_its_venue_and_the_rest_trade_their_default() -> None:
    cfg = parse_config(
        BASE
        + """
[strategies.mm-btc]
kind = "mm"
legs = ["binance:BTC-USDT"]
orders_per_second = 4
[strategies.mm-btc.params]
min_spread_bps = 15
"""
    )
    plans = {p.venue: p for p in plan(cfg, ["binance", "binance-futures"])}
    assert plans["binance"].label == "mm-btc"
    assert plans["binance"].request.symbol == "BTCUSDT"
    assert plans["binance"].request.min_spread_bps == 15.0
    assert plans["binance"].orders_per_second == 4
    assert plans["binance-futures"].label == "mm@binance-futures"
    # a session on the other venue alone does not take the binance strategy
    assert [p.label for p in plan(cfg, ["binance-futures"])] == ["mm@binance-futures"]


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            '[strategies.arb]\nkind = "xarb"\nlegs = ["binance:BTC-USDT", "binance-futures:BTC-USDT"]\n'
            "[strategies.arb.params]\ngamma = 2\n",
            "[strategies.arb] params: unknown gamma",
        ),
        (
            '[strategies.a]\nkind = "mm"\nlegs = ["binance:BTC-USDT"]\n'
            '[strategies.b]\nkind = "mm"\nlegs = ["binance:BTC-USDT"]\n',
            "one strategy per venue",
        ),
        (
            '[strategies.a]\nkind = "mm"\nlegs = ["binance:BTC-USDT"]\n[strategies.a.params]\ngamma = 2\n',
            "params: unknown gamma",
        ),
        ('[strategies.a]\nkind = "binary-mm"\nlegs = ["binance:BTC-USDT"]\n', "not available on binance"),
    ],
)
def test_a_strategy_that_cannot_run_is_refused_naming_its_table(tables: str, message: str) -> None:
    cfg = parse_config(BASE + tables)
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan(cfg, ["binance", "binance-futures"])
