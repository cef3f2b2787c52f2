"""The Binance venue package answers the contract of `trader.venues.profile`."""

from __future__ import annotations

import asyncio

import pytest

from trader.clock import LiveClock, SimClock
from trader.config import parse_config
from trader.errors import ConfigError
from trader.venues import binance, registry
from trader.venues.base import Tier
from trader.venues.binance import PROFILE, BinanceConnector, Market
from trader.venues.profile import VenuePackage

CLOCK = LiveClock()


def test_profile() -> None:
    pkg: VenuePackage = binance  # a module checked against the Protocol
    assert pkg.PROFILE is PROFILE
    assert (PROFILE.name, PROFILE.tier, PROFILE.default_symbol) == ("binance", Tier.CRYPTO, "BTCUSDT")
    assert PROFILE.environments == ("live", "paper", "testnet", "demo", "sim")
    assert PROFILE.markets == ("spot", "futures", "margin")
    assert PROFILE.strategies == ("mm",)
    assert PROFILE.summary == registry.profile("binance").summary
    futures, margin = PROFILE.capabilities["futures"], PROFILE.capabilities["margin"]
    assert (futures.dead_man_switch, futures.reduce_only, futures.paper_environment) == (True, True, True)
    assert (margin.paper_environment, margin.ws_order_entry, margin.reduce_only) == (False, False, False)
    assert not PROFILE.capabilities["spot"].dead_man_switch


def test_build_and_registry_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BK", "k")
    monkeypatch.setenv("BS", "s")
    cfg = parse_config(
        '[venues.binance]\napi_key = "env:BK"\nsecret = "env:BS"\nenvironment = "sim"\n'
        'url = "http://127.0.0.1:9"\nmarket = "futures"\n'
    ).venues["binance"]
    for conn in (
        binance.build(cfg, symbol="BTCUSDT", clock=CLOCK),
        registry.build_connector(cfg, symbol="BTCUSDT", clock=CLOCK),
    ):
        assert isinstance(conn, BinanceConnector)
        assert (conn.venue, conn.market, conn.endpoints.futures_rest) == (
            "binance",
            Market.FUTURES,
            "http://127.0.0.1:9",
        )
    bad = parse_config('[venues.binance]\napi_key = "env:BK"\nsecret = "env:BS"\nkey_type = "rsa"\n')
    with pytest.raises(ConfigError, match="key_type"):
        binance.build(bad.venues["binance"], symbol="BTCUSDT", clock=CLOCK)


def test_loopback_is_the_registrys() -> None:
    a = binance.loopback("http://127.0.0.1:9", symbol="BTCUSDT", clock=CLOCK, market="margin")
    b = registry.loopback_connector(
        "http://127.0.0.1:9", symbol="BTCUSDT", clock=CLOCK, venue="binance", market="margin"
    )
    assert (a.venue, a.market, a.endpoints) == ("binance", b.market, b.endpoints)
    assert b.venue == "binance"
    s = registry.loopback_connector("http://127.0.0.1:9", symbol="BTCUSDT", clock=CLOCK, market="margin")
    assert (s.venue, s.endpoints) == ("sim", a.endpoints)  # the built-in venue speaks the same protocol
    assert a.endpoints.ws_api == "ws://127.0.0.1:9/ws-api/v3"
    assert binance.SIM_API_KEY == registry.SIM_API_KEY


def test_venue_time_from_the_simulator() -> None:
    clock = SimClock(1_764_892_800_000_000_000)

    async def go() -> None:
        server = binance.simulator(seed=3, clock=clock)
        await server.start(port=0)
        try:
            conn = binance.loopback(server.url, symbol="BTCUSDT", clock=clock, venue="binance")
            try:
                t = await conn.venue_time()
            finally:
                await conn.close()
        finally:
            await server.stop()
        assert (t.ts_ns, t.resolution_ns) == (1_764_892_800_000_000_000, 1_000_000)

    asyncio.run(go())
