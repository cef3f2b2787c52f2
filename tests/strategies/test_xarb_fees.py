"""The fees the cross-venue strategies compute their edges with are the fees the simulators charge: each
venue's default (lowest-volume) tier, maker and taker."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from trader.cli.crossvenue import FEES
from trader.clock import SimClock
from trader.sim.binance import BinanceSimServer
from trader.sim.bybit.state import INSTRUMENTS, LINEAR
from trader.sim.coinbase import state as coinbase
from trader.sim.kraken import state as kraken
from trader.sim.okx import state as okx
from trader.venues import registry


def _bps(x: Decimal) -> Fraction:
    return Fraction(x) * 10_000


def test_binance_and_the_sim_venue_charge_binance_spots_default_tier() -> None:
    clock = SimClock(1_700_000_000_000_000_000)
    for server in (BinanceSimServer(seed=1, clock=clock), registry.simulator("sim", seed=1, clock=clock)):
        assert isinstance(server, BinanceSimServer)
        spot, futures = server.spot.engine, server.futures.engine
        assert (Fraction(spot.maker_fee_bps), Fraction(spot.taker_fee_bps)) == FEES["binance"] == FEES["sim"]
        assert (Fraction(futures.maker_fee_bps), Fraction(futures.taker_fee_bps)) == FEES["binance-futures"]
    assert FEES["binance"] == (Fraction(10), Fraction(10))  # 0.10 % / 0.10 %: not the 0 / 5 bps once charged


def test_the_other_simulators_charge_what_the_strategies_assume() -> None:
    assert (Fraction(coinbase.MAKER_BPS), Fraction(coinbase.TAKER_BPS)) == FEES["coinbase"]
    assert (Fraction(kraken.MAKER_BPS), Fraction(kraken.TAKER_BPS)) == FEES["kraken"]
    assert (_bps(okx.MAKER_FEE), _bps(okx.TAKER_FEE)) == FEES["okx"]
    assert (_bps(okx.MAKER_SWAP_FEE), _bps(okx.TAKER_SWAP_FEE)) == FEES["okx-swap"]
    spot, perp = INSTRUMENTS["BTCUSDT"], LINEAR["BTCUSDT"]
    assert (_bps(spot.maker_fee), _bps(spot.taker_fee)) == FEES["bybit"]
    assert (_bps(perp.maker_fee), _bps(perp.taker_fee)) == FEES["bybit-linear"]
