"""What a session trades, chosen by the venue's tier, and the clock a simulated broker runs on."""

from __future__ import annotations

import argparse

import pytest

from trader.cli.rigs import _price_tick, strategies
from trader.cli.run import connector_options, session_clock
from trader.clock import SimClock
from trader.engine.equity import Session, session
from trader.sim.alpaca import eastern_ns
from trader.venues import registry
from trader.venues.base import InstrumentInfo


def test_a_simulated_broker_runs_inside_a_regular_session_whatever_the_hour() -> None:
    prof = registry.profile("alpaca")
    friday_evening = SimClock(eastern_ns(2026, 11, 27, 19, 0))
    assert session(session_clock(prof, friday_evening).now_ns()) is Session.REGULAR
    assert session_clock(registry.profile("binance"), friday_evening) is friday_evening


def test_past_the_known_calendar_a_rehearsal_uses_its_last_year() -> None:
    later = SimClock(eastern_ns(2029, 3, 5, 12, 0))
    t = session_clock(registry.profile("ibkr"), later).now_ns()
    assert session(t) is Session.REGULAR


def test_price_tick_in_the_connectors_units() -> None:
    cents = InstrumentInfo("SPY", "SPY", "USD", "0.01", "1", "1", "0", price_unit="0.0001")
    assert _price_tick(cents) == 100
    assert _price_tick(InstrumentInfo("SPY", "SPY", "USD", "0.01", "1", "1", "0")) == 1


def test_strategies_come_from_the_profile() -> None:
    assert strategies(registry.profile("polymarket"))[0] == "binary-mm"
    assert "pairs" in strategies(registry.profile("ibkr"))
    assert strategies(registry.profile("sim")) == ("mm",)


@pytest.mark.parametrize(
    ("given", "options"),
    [({}, {}), ({"market": "futures", "order_entry": "ws"}, {"market": "futures", "order_entry": "ws"})],
)
def test_only_the_options_given_reach_the_venue(given: dict[str, str], options: dict[str, str]) -> None:
    args = argparse.Namespace(**{"market": None, "order_entry": None, **given})
    assert connector_options(args) == options


def test_a_broker_rig_uses_the_accounts_equity_and_the_venues_clock() -> None:
    import asyncio

    from trader.cli.rigs import RigRequest, rig
    from trader.clock import LiveClock, ShiftedClock
    from trader.engine.engine import DEFAULT_RISK
    from trader.engine.equity import EquityGate

    async def go() -> None:
        clock = LiveClock()
        monday = eastern_ns(2026, 11, 30, 11, 0)
        server = registry.simulator("alpaca", seed=2, clock=ShiftedClock(monday, clock))
        await server.start(port=0)
        conn = registry.loopback_connector(server.url, symbol="SPY", clock=clock, venue="alpaca")
        try:
            r = await rig(registry.profile("alpaca"), conn, RigRequest("mm", "SPY", DEFAULT_RISK), clock)
            assert isinstance(r.pre_trade, EquityGate)
            assert r.pre_trade.equity == (await conn.account()).equity
            assert r.pre_trade.session_clock is not None
            assert abs(r.pre_trade.session_clock.now_ns() - monday) < 60_000_000_000
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())
