"""Configured cross-venue strategies ([strategies.X] kind = "xarb" / "basis"): planned, not refused, and
built on a session's connectors with each leg's default-tier fees (`trader live`'s path)."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from fractions import Fraction

import pytest

from trader.cli.crossvenue import FEES, kinds_of, live_cross
from trader.cli.plan import cross_plans, plan
from trader.config import parse_config
from trader.engine.engine import EngineConfig, VenueSetup
from trader.errors import ConfigError
from trader.strategies.basis import Basis
from trader.strategies.xarb import XArb
from trader.venues.base import InstrumentInfo

CONFIG = """
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

[venues.okx]
api_key = "env:K"
secret = "env:S"
passphrase = "env:P"

[symbols.BTC-USDT]
binance = "BTCUSDT"
binance-futures = "BTCUSDT"
okx = "BTC-USDT"

[strategies.arb]
kind = "xarb"
legs = ["binance:BTC-USDT", "okx:BTC-USDT"]
[strategies.arb.params]
qty = 0.004
min_edge_bps = 3
mode = "taker"

[strategies.carry]
kind = "basis"
legs = ["binance:BTC-USDT", "binance-futures:BTC-USDT"]
[strategies.carry.params]
entry_bps = 4
"""

VENUES = ["binance", "binance-futures", "okx"]


def test_plan_no_longer_refuses_cross_venue_strategies() -> None:
    cfg = parse_config(CONFIG)
    assert plan(cfg, VENUES) == []  # each venue is a leg of one: none trades a default beside them
    crosses = {c.label: c for c in cross_plans(cfg, VENUES)}
    assert crosses["arb"].kind == "xarb"
    assert crosses["arb"].legs == (("binance", "BTCUSDT"), ("okx", "BTC-USDT"))
    assert crosses["carry"].legs == (("binance", "BTCUSDT"), ("binance-futures", "BTCUSDT"))
    # a session without okx runs the basis, and okx's absence leaves the arbitrage out
    assert [c.label for c in cross_plans(cfg, ["binance", "binance-futures"])] == ["carry"]
    with_mm = parse_config(CONFIG + '[strategies.mm]\nkind = "mm"\nlegs = ["okx:BTC-USDT"]\n')
    assert [p.label for p in plan(with_mm, VENUES)] == ["mm"]  # beside the arbitrage on okx


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'kind = "xarb"\nlegs = ["binance:BTC-USDT", "okx:BTC-USDT"]\n[strategies.z.params]\nqty = "a"\n',
            "",
        ),
        (
            'kind = "xarb"\nlegs = ["binance:BTC-USDT", "okx:BTC-USDT"]\n[strategies.z.params]\nspread = 1\n',
            "[strategies.z] params: unknown spread",
        ),
        (
            'kind = "basis"\nlegs = ["binance:BTC-USDT", "okx:BTC-USDT", "binance-futures:BTC-USDT"]\n',
            "[strategies.z] kind = 'basis': two legs",
        ),
    ],
)
def test_a_cross_venue_table_that_cannot_work_is_refused_naming_it(table: str, message: str) -> None:
    cfg = parse_config(CONFIG + "[strategies.z]\n" + table)
    if not message:  # a parameter of the wrong type is refused when the strategy is built
        (z,) = [c for c in cross_plans(cfg, VENUES) if c.label == "z"]
        with pytest.raises(ConfigError, match=re.escape("[strategies.z] params: qty must be a number")):
            asyncio.run(live_cross(cfg, [z], _conns(), []))  # type: ignore[arg-type]
        return
    with pytest.raises(ConfigError, match=re.escape(message)):
        cross_plans(cfg, VENUES)


class _Referenced:
    def __init__(self, info: InstrumentInfo, mid: str) -> None:
        self.info, self.mid = info, Decimal(mid)

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        return self.info, self.mid


def _conns() -> dict[str, _Referenced]:
    spot = InstrumentInfo("BTCUSDT", "BTC", "USDT", "0.01", "0.00001", "0.00001", "5")
    fut = InstrumentInfo("BTCUSDT", "BTC", "USDT", "0.1", "0.001", "0.001", "100")
    okx = InstrumentInfo("BTC-USDT", "BTC", "USDT", "0.1", "0.00000001", "0.00001", "0")
    return {
        "binance": _Referenced(spot, "50000"),
        "binance-futures": _Referenced(fut, "50010"),
        "okx": _Referenced(okx, "50005"),
    }


def test_live_builds_them_on_the_connectors_with_each_venues_fees() -> None:
    cfg = parse_config(CONFIG)
    mm = VenueSetup(_conns()["okx"], EngineConfig(symbol="BTC-USDT", max_order_qty="0.001"), name="okx")  # type: ignore[arg-type]
    setups, strategies, services = asyncio.run(live_cross(cfg, cross_plans(cfg, VENUES), _conns(), [mm]))  # type: ignore[arg-type]
    by_label = {s.label: s for s in strategies}
    arb, carry = by_label["arb"].strategy, by_label["carry"].strategy
    assert isinstance(arb, XArb)
    assert isinstance(carry, Basis)
    assert by_label["arb"].legs == (("binance", "BTCUSDT"), ("okx", "BTC-USDT"))
    assert [(leg.venue, leg.maker_bps, leg.taker_bps) for leg in arb.params.legs] == [
        ("binance", *FEES["binance"]),
        ("okx", *FEES["okx"]),
    ]
    assert (arb.params.qty, arb.params.min_edge_bps) == (Fraction(1, 250), Fraction(3))
    assert arb.params.mode == "taker"
    assert carry.params.entry_bps == 4
    assert carry.params.perp.reduce_only
    assert not carry.params.spot.reduce_only
    assert carry.params.perp.taker_bps == 5  # USD-M futures' default tier
    assert carry.params.funding_interval_s == 8 * 3600  # live: the venue's own schedule
    limits = {s.venue: s.config for s in setups}
    assert set(limits) == {"okx", "binance", "binance-futures"}
    assert Decimal(limits["okx"].max_order_qty) == Decimal("0.008")  # widened for the legs' orders
    assert Decimal(limits["binance-futures"].max_position) >= Decimal("0.04")
    assert services == []  # Binance streams its funding


def test_paper_kinds_are_checked() -> None:
    assert kinds_of("mm,xarb,basis") == ["mm", "xarb", "basis"]
    with pytest.raises(ConfigError, match="name each of mm, xarb, basis once"):
        kinds_of("xarb,pairs")


PERP_VENUES = """
[venues.okx-swap]
api_key = "env:K"
secret = "env:S"
passphrase = "env:P"

[venues.bybit]
api_key = "env:K"
secret = "env:S"

[venues.bybit-linear]
api_key = "env:K"
secret = "env:S"

[symbols.BTC-USDT]
okx = "BTC-USDT"
okx-swap = "BTC-USDT-SWAP"
bybit = "BTCUSDT"
bybit-linear = "BTCUSDT"

[strategies.okx-carry]
kind = "basis"
legs = ["okx:BTC-USDT", "okx-swap:BTC-USDT"]

[strategies.bybit-carry]
kind = "basis"
legs = ["bybit:BTC-USDT", "bybit-linear:BTC-USDT"]
"""


def test_basis_runs_live_on_okx_and_bybit_perpetuals_as_venues_of_their_own() -> None:
    """`okx-swap` and `bybit-linear` are venues a config names (OKX's swap and Bybit's linear market),
    so `trader live` builds the spot/perpetual basis there too, each leg with its market's fees."""
    risk = CONFIG[: CONFIG.index("[venues.binance]")]
    okx_table = CONFIG[CONFIG.index("[venues.okx]") : CONFIG.index("[symbols.BTC-USDT]")]
    cfg = parse_config(risk + okx_table + PERP_VENUES)
    venues = ["okx", "okx-swap", "bybit", "bybit-linear"]
    assert cfg.venues["okx-swap"].options["market"] == "swap"
    assert cfg.venues["bybit-linear"].options["market"] == "linear"
    okx = InstrumentInfo("BTC-USDT", "BTC", "USDT", "0.1", "0.00000001", "0.00001", "0")
    swap = InstrumentInfo("BTC-USDT-SWAP", "BTC", "USDT", "0.1", "0.01", "0.01", "0")
    by = InstrumentInfo("BTCUSDT", "BTC", "USDT", "0.01", "0.000001", "0.000001", "5")
    conns = {
        "okx": _Referenced(okx, "50000"),
        "okx-swap": _Referenced(swap, "50020"),
        "bybit": _Referenced(by, "50000"),
        "bybit-linear": _Referenced(by, "50020"),
    }
    setups, strategies, services = asyncio.run(live_cross(cfg, cross_plans(cfg, venues), conns, []))  # type: ignore[arg-type]
    by_label = {s.label: s for s in strategies}
    assert by_label["okx-carry"].legs == (("okx", "BTC-USDT"), ("okx-swap", "BTC-USDT-SWAP"))
    assert by_label["bybit-carry"].legs == (("bybit", "BTCUSDT"), ("bybit-linear", "BTCUSDT"))
    for label, perp in (("okx-carry", "okx-swap"), ("bybit-carry", "bybit-linear")):
        carry = by_label[label].strategy
        assert isinstance(carry, Basis)
        assert (carry.params.perp.venue, carry.params.perp.reduce_only) == (perp, True)
        assert (carry.params.perp.maker_bps, carry.params.perp.taker_bps) == FEES[perp]
    assert {s.venue for s in setups} == set(venues)
    assert len(services) == 1, "Bybit's funding is asked for (its connector does not stream it)"
