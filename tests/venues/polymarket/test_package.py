"""The venue package contract (trader/venues/profile.py) for Polymarket: PROFILE, build, loopback,
simulator, and the connector's venue_time."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from trader.clock import SimClock
from trader.config import SecretRef, VenueConfig
from trader.errors import ConfigError
from trader.venues import polymarket
from trader.venues.base import Tier
from trader.venues.polymarket import PolymarketConnector
from trader.venues.profile import VenueTime

T0 = 1_800_000_000 * 10**9  # a chosen instant (2027-01-15), not today


def test_profile() -> None:
    p = polymarket.PROFILE
    assert (p.name, p.tier, p.environments) == ("polymarket", Tier.PREDICTION, ("live", "sim"))
    assert (p.default_symbol, p.strategies) == ("{condition_id}:YES", ("binary-mm", "rewards", "event"))
    assert p.built
    assert "heartbeat" in p.notes
    caps = p.capabilities[p.markets[0]]
    assert (caps.dead_man_switch, caps.max_batch, caps.paper_environment) == (True, 15, False)


def test_build_checks_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimClock(T0)
    monkeypatch.setenv("PM_TEST_KEY", "0x" + secrets.token_hex(32))
    key = {"private_key": SecretRef("env", "PM_TEST_KEY")}
    with pytest.raises(ConfigError, match="condition_id"):
        polymarket.build(VenueConfig("polymarket", "live", key), symbol="", clock=clock)
    with pytest.raises(ConfigError, match="private_key"):
        polymarket.build(
            VenueConfig("polymarket", "live", {}, {"condition_id": "0x01"}), symbol="", clock=clock
        )
    with pytest.raises(ConfigError, match="url"):
        polymarket.build(
            VenueConfig("polymarket", "sim", key, {"condition_id": "0x01"}), symbol="", clock=clock
        )
    testnet = VenueConfig("polymarket", "testnet", key, {"condition_id": "0x01"})
    with pytest.raises(ConfigError, match="no testnet"):
        polymarket.build(testnet, symbol="", clock=clock)
    cfg = VenueConfig("polymarket", "sim", key, {"condition_id": "0x01", "url": "http://127.0.0.1:1"})
    conn = polymarket.build(cfg, symbol="", clock=clock)
    assert isinstance(conn, PolymarketConnector)
    assert (conn.condition_id, conn.endpoints.rest) == ("0x01", "http://127.0.0.1:1")
    live = polymarket.build(
        VenueConfig("polymarket", "live", key, {"condition_id": "0x01"}), symbol="", clock=clock
    )
    assert live.endpoints == polymarket.ENDPOINTS["live"]


def test_loopback_to_the_simulator_and_its_clock() -> None:
    async def t() -> None:
        clock = SimClock(T0)
        server = polymarket.simulator(seed=3, clock=clock, background=False)
        await server.start(port=0)
        try:
            market = next(iter(server.markets.values()))
            with pytest.raises(ConfigError, match="condition_id"):
                polymarket.loopback(server.url, symbol="", clock=clock)
            conn = polymarket.loopback(server.url, symbol=f"{market.condition_id}:YES", clock=clock)
            other = polymarket.loopback(server.url, symbol="", clock=clock, condition_id=market.condition_id)
            assert conn.address != other.address, "a fresh wallet each"
            assert await conn.venue_time() == VenueTime(T0 // 10**9 * 10**9, 1_000_000_000)
            clock.advance(2_500_000_000)
            assert (await conn.venue_time()).ts_ns == (T0 + 2_500_000_000) // 10**9 * 10**9
            await conn.close()
            await other.close()
        finally:
            await server.stop()

    asyncio.run(t())
