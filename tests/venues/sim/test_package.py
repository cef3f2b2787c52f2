"""The built-in `sim` venue package answers the contract of `trader.venues.profile`."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from trader.clock import SimClock
from trader.config import parse_config
from trader.core import BinanceSigner
from trader.errors import ConfigError, InvalidOrderError, OrderNotFoundError
from trader.sim.binance import BinanceSimServer
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine
from trader.venues import registry, sim
from trader.venues.base import Tier
from trader.venues.binance import SIM_API_KEY, SIM_SECRET, BinanceConnector
from trader.venues.profile import VenuePackage
from trader.venues.sim import PROFILE, SimConnector
from trader.venues.sim.errors import NOT_FOUND, REJECTED, error_from

CLOCK = SimClock(1_764_892_800_000_000_000)


def test_profile() -> None:
    pkg: VenuePackage = sim  # a module checked against the Protocol
    assert pkg.PROFILE is PROFILE
    assert (PROFILE.name, PROFILE.tier, PROFILE.environments) == ("sim", Tier.SIMULATED, ("sim",))
    assert (PROFILE.default_symbol, PROFILE.strategies) == ("BTCUSDT", ("mm",))
    assert PROFILE.summary == registry.profile("sim").summary
    assert PROFILE.capabilities["spot"].needs_credentials is False


def test_build_loopback_and_simulator_are_named_sim() -> None:
    cfg = parse_config('[venues.sim]\nenvironment = "sim"\nurl = "http://127.0.0.1:9"\n').venues["sim"]
    conn = sim.build(cfg, symbol="BTCUSDT", clock=CLOCK)
    assert isinstance(conn, BinanceConnector)
    assert (conn.venue, conn.endpoints.rest) == ("sim", "http://127.0.0.1:9")
    demo = BinanceSigner(SIM_API_KEY, SIM_SECRET)
    assert conn._signer.ws_params([], 1, None) == demo.ws_params([], 1, None)  # the demo account
    assert sim.loopback("http://127.0.0.1:9", symbol="BTCUSDT", clock=CLOCK).venue == "sim"
    server = sim.simulator(seed=1, clock=CLOCK)
    assert isinstance(server, BinanceSimServer)
    assert server.venue == "sim"
    with pytest.raises(ConfigError, match="url"):
        sim.build(parse_config('[venues.sim]\nenvironment = "sim"\n').venues["sim"], symbol="X", clock=CLOCK)


def test_error_table() -> None:
    assert type(error_from("sim", NOT_FOUND, "gone")) is OrderNotFoundError
    assert type(error_from("sim", REJECTED, "would take")) is InvalidOrderError
    assert error_from("sim", "ANY", "x").code == "ANY"


def test_venue_time_is_the_simulated_clock() -> None:
    eng = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(5), unit_notional=Decimal("0.00001"))
    conn = SimConnector(eng, BackgroundMarket(eng, MarketParams(mid=5_000_000), seed=1), "BTCUSDT", CLOCK)
    t = asyncio.run(conn.venue_time())
    assert (t.ts_ns, t.resolution_ns) == (CLOCK.now_ns(), 1)
