"""The equity rules as the engine's pre-trade check: a broker order the rules refuse never reaches the
venue, and the strategy hears why."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from trader.clock import LiveClock, ShiftedClock
from trader.core import AlpacaSigner, Side
from trader.engine.engine import Engine, EngineConfig
from trader.engine.equity import EquityConfig, EquityGate, EquityRules
from trader.engine.journal import Journal
from trader.engine.summary import Summary
from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, AlpacaSimServer, eastern_ns
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place
from trader.venues.alpaca import AlpacaConnector, Endpoints

CLOCK = LiveClock()
MONDAY_11AM = eastern_ns(2026, 11, 30, 11, 0)
SATURDAY = eastern_ns(2026, 11, 28, 11, 0)


def gate(session_ns: int, allow_short: bool = False) -> EquityGate:
    return EquityGate(
        EquityRules(EquityConfig(allow_short=allow_short)), Decimal(100_000), ShiftedClock(session_ns, CLOCK)
    )


def test_equity_gate_reasons() -> None:
    marks = {"SPY": Decimal("600")}
    open_ = gate(MONDAY_11AM)
    assert open_.check("SPY", Side.BUY, "600.00", "1", 0, marks) is None
    assert open_.check("SPY", Side.SELL, "600.00", "1", 0, marks) == "SHORT_SALE"
    assert open_.check("SPY", Side.BUY, "600.00", "0.5", 0, marks) == "INVALID_ORDER"
    assert gate(SATURDAY).check("SPY", Side.BUY, "600.00", "1", 0, marks) == "MARKET_CLOSED"
    assert gate(MONDAY_11AM, allow_short=True).check("SPY", Side.SELL, "600.00", "1", 0, marks) is None
    open_.on_fill("SPY", Side.BUY, "2", 0)
    assert open_.check("SPY", Side.SELL, "600.00", "2", 0, marks) is None  # it holds 2 now
    # a sell still working (its cancel not yet confirmed) holds its shares: the broker refuses a second
    assert open_.check("SPY", Side.SELL, "600.00", "1", 0, marks, working_sell="1") is None
    assert open_.check("SPY", Side.SELL, "600.00", "1", 0, marks, working_sell="2") == "SHORT_SALE"
    assert open_.check("SPY", Side.BUY, "600.00", "1", 0, marks, working_sell="2") is None


async def trade_on_alpaca(strategy: Any, seconds: float) -> tuple[AlpacaSimServer, Summary]:
    """`strategy` trading SPY for `seconds` through the engine, with the equity rules as its pre-trade
    check, against the Alpaca simulator in a Monday session."""
    session = ShiftedClock(MONDAY_11AM, CLOCK)
    server = AlpacaSimServer(seed=3, clock=session)
    await server.start(port=0)
    conn = AlpacaConnector(
        symbols=["SPY"],
        signer=AlpacaSigner(DEMO_KEY, DEMO_SECRET),
        endpoints=Endpoints.loopback(server.url),
        clock=CLOCK,
    )
    engine = Engine(
        conn,
        strategy,
        journal=Journal(":memory:"),
        clock=CLOCK,
        config=EngineConfig(symbol="SPY", max_order_qty="5", max_position="5"),
        pre_trade=EquityGate(EquityRules(), Decimal(100_000), session),
    )
    try:
        return server, await engine.run(seconds)
    finally:
        await conn.close()
        await server.stop()


class SellFirst:
    """Offers 1 share at the ask without holding any, once; records what the engine tells it."""

    name = "sell-first"

    def __init__(self) -> None:
        self.denied: list[str] = []
        self.sent = False

    def on_book(self, top: BookTop) -> list[Intent]:
        if self.sent or top.ask is None:
            return []
        self.sent = True
        return [Place(top.instrument, Side.SELL, top.ask, 1, post_only=False)]

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        self.denied.append(reason)
        return []

    def on_order(self, order: OwnOrder) -> list[Intent]:
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        return []

    def on_trade(self, trade: Any) -> list[Intent]:
        return []

    def on_timer(self, now_ns: int) -> list[Intent]:
        return []


def test_a_short_sale_is_refused_before_the_risk_gate_and_never_sent() -> None:
    async def go() -> None:
        strategy = SellFirst()
        server, summary = await trade_on_alpaca(strategy, 1.5)
        assert strategy.sent
        assert strategy.denied == ["SHORT_SALE"]
        assert summary.denials == {"SHORT_SALE": 1}
        assert summary.orders == 0
        assert server.requests["POST /v2/orders"] == 0

    asyncio.run(go())


class SellTwice:
    """Buys one share, offers it, then replaces the offer in one breath (cancel, then a new sell): what a
    market maker requoting its ask does."""

    name = "sell-twice"

    def __init__(self) -> None:
        self.denied: list[str] = []
        self.bought = self.replaced = False
        self.seen: dict[str, int] = {}
        self.instrument = ""
        self.ask = 0

    def on_book(self, top: BookTop) -> list[Intent]:
        if self.bought or top.ask is None:
            return []
        self.bought, self.instrument, self.ask = True, top.instrument, top.ask
        return [Place(top.instrument, Side.BUY, top.ask, 1, post_only=False)]

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        if fill.side != Side.BUY:
            return []
        return [Place(self.instrument, Side.SELL, self.ask + 1_000, 1, post_only=False)]

    def on_order(self, order: OwnOrder) -> list[Intent]:
        if order.side != Side.SELL or not order.live or self.replaced:
            return []
        self.seen[order.client_id] = self.seen.get(order.client_id, 0) + 1
        if self.seen[order.client_id] < 2:  # placed; the next one is the broker's acknowledgement
            return []
        self.replaced = True
        return [Cancel(order.client_id), Place(self.instrument, Side.SELL, self.ask + 2_000, 1)]

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        self.denied.append(reason)
        return []

    def on_trade(self, trade: Any) -> list[Intent]:
        return []

    def on_timer(self, now_ns: int) -> list[Intent]:
        return []


def test_a_replacement_sell_waits_for_the_cancel_of_the_one_holding_the_shares() -> None:
    """The new sell is checked with the old one still working (its cancel is sent after it): the equity
    rules refuse it here, where the broker would reject it ("insufficient qty available")."""

    async def go() -> None:
        strategy = SellTwice()
        server, summary = await trade_on_alpaca(strategy, 2.0)
        assert strategy.replaced, "the first sell rested and was replaced"
        assert strategy.denied == ["SHORT_SALE"]
        assert summary.rejects == 0, "nothing reached the broker to be rejected"
        assert server.requests["POST /v2/orders"] == 2, "the buy and the first sell"

    asyncio.run(go())
