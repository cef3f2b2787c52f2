"""The venue package contract (`trader.venues.profile`) for the two brokers: PROFILE, `simulator()`,
`loopback()` to it, `build()` from a config section, and `venue_time()` on the connector."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from trader.clock import LiveClock, ShiftedClock
from trader.config import SecretRef, VenueConfig
from trader.errors import ConfigError
from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, eastern_ns
from trader.sim.ibkr import DEFAULT_ACCOUNT
from trader.venues import alpaca, ibkr, registry
from trader.venues.base import Connector, Tier
from trader.venues.profile import VenuePackage, VenueTime

SECOND = 1_000_000_000
OPEN = eastern_ns(2024, 1, 9, 10, 0)  # a Tuesday, 10:00 in New York


@pytest.mark.parametrize(("package", "strategies"), [(ibkr, ("mm", "pairs")), (alpaca, ("mm",))])
def test_profiles(package: Any, strategies: tuple[str, ...]) -> None:
    pkg: VenuePackage = package
    p = pkg.PROFILE
    assert p.name == package.__name__.rsplit(".", 1)[1]
    assert p.tier is Tier.BROKER
    assert p.environments == ("live", "paper", "sim")
    assert (p.default_symbol, p.strategies, p.markets, p.built) == ("SPY", strategies, ("spot",), True)
    assert p.capabilities["spot"] is package.CAPABILITIES
    assert registry.profile(p.name) is p


def test_ibkr_simulator_loopback_and_venue_time() -> None:
    async def go() -> None:
        clock = LiveClock()
        server = ibkr.simulator(seed=3, clock=clock, step_ms=0)
        await server.start(port=0)
        assert server.url == f"tcp://127.0.0.1:{server.port}"
        conn = ibkr.loopback(server.url, symbol="SPY", clock=clock, client_id=21)
        try:
            assert isinstance(conn, Connector)
            await conn.connect()
            assert conn.account == DEFAULT_ACCOUNT
            t = await conn.venue_time()
            assert isinstance(t, VenueTime)
            assert t.resolution_ns == SECOND
            assert t.ts_ns % SECOND == 0
            assert abs(t.ts_ns - clock.now_ns()) < 2 * SECOND
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(LiveClock().wait_for(go(), 20))


def test_alpaca_simulator_loopback_and_venue_time() -> None:
    async def go() -> None:
        clock = ShiftedClock(OPEN)
        server = alpaca.simulator(seed=9, clock=clock, step_ms=20)
        await server.start(port=0)
        conn = alpaca.loopback(server.url, symbol="SPY", clock=clock, market_data=False)
        try:
            await conn.connect()
            t = await conn.venue_time()
            assert t.resolution_ns == 1  # the simulator writes nanoseconds
            assert abs(t.ts_ns - clock.now_ns()) < 2 * SECOND
            assert t.ts_ns >= OPEN
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(LiveClock().wait_for(go(), 20))


def test_build_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = LiveClock()
    ib = ibkr.build(
        VenueConfig("ibkr", "paper", options={"port": 4102, "client_id": 3}), symbol="SPY", clock=clock
    )
    assert (ib.host, ib.port, ib.client_id, ib.paper) == ("127.0.0.1", 4102, 3, True)
    live = ibkr.build(VenueConfig("ibkr", "live"), symbol="SPY", clock=clock)
    assert (live.port, live.paper) == (ibkr.LIVE_GATEWAY_PORT, False)
    sim = ibkr.build(
        VenueConfig("ibkr", "sim", options={"url": "tcp://127.0.0.1:4999"}), symbol="QQQ", clock=clock
    )
    assert (sim.host, sim.port, list(sim.instruments)) == ("127.0.0.1", 4999, ["QQQ"])
    with pytest.raises(ConfigError, match="tcp://"):
        ibkr.build(VenueConfig("ibkr", "sim", options={"url": "127.0.0.1"}), symbol="SPY", clock=clock)
    monkeypatch.setenv("ALPACA_KEY", DEMO_KEY)
    monkeypatch.setenv("ALPACA_SECRET", DEMO_SECRET)
    secrets = {"api_key": SecretRef("env", "ALPACA_KEY"), "secret": SecretRef("env", "ALPACA_SECRET")}
    paper = alpaca.build(VenueConfig("alpaca", "paper", secrets=secrets), symbol="spy", clock=clock)
    assert (paper.endpoints, paper.symbols) == (alpaca.ENDPOINTS["paper"], ("SPY",))
    looped = alpaca.build(
        VenueConfig("alpaca", "sim", secrets=secrets, options={"url": "http://127.0.0.1:9"}),
        symbol="SPY",
        clock=clock,
    )
    assert looped.endpoints == alpaca.Endpoints.loopback("http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="needs url"):
        alpaca.build(VenueConfig("alpaca", "sim", secrets=secrets), symbol="SPY", clock=clock)
    with pytest.raises(ConfigError, match="api_key"):
        alpaca.build(VenueConfig("alpaca", "paper"), symbol="SPY", clock=clock)
    with pytest.raises(ConfigError, match="feed"):
        alpaca.build(
            VenueConfig("alpaca", "paper", secrets=secrets, options={"feed": "otc"}),
            symbol="SPY",
            clock=clock,
        )
    via_registry = registry.build_connector(VenueConfig("ibkr", "paper"), symbol="SPY", clock=clock)
    assert isinstance(via_registry, ibkr.IbkrConnector)
