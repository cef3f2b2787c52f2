"""The simulated venue behind the connector contract, and the venue error family."""

import asyncio
from decimal import Decimal

import pytest

from trader.clock import SimClock
from trader.core import Approval, InstrumentSpec, RiskGate, Side
from trader.errors import (
    BannedError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    TraderError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine
from trader.venues.base import (
    BookUpdate,
    Connector,
    FillReport,
    OrderReport,
    OrderState,
    require_approval,
)
from trader.venues.sim import SimConnector

T0 = 1_700_000_000_000_000_000


def _setup() -> tuple[SimConnector, RiskGate, int, int, SimClock]:
    clock = SimClock(T0)
    eng = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(5), unit_notional=Decimal("0.00001"))
    mkt = BackgroundMarket(eng, MarketParams(mid=5_000_000, market_rate=20.0), seed=5)
    mkt.seed_book()
    conn = SimConnector(eng, mkt, "BTCUSDT", clock)
    gate = RiskGate(
        max_gross_notional="1000000",
        max_net_notional="1000000",
        max_open_orders=10,
        max_orders_per_sec=10,
        daily_loss_limit="1000",
    )
    v = gate.add_venue("sim", max_gross_notional="1000000", max_open_orders=10)
    s = gate.add_strategy("t", max_orders_per_sec=10)
    i = gate.add_instrument(
        v,
        "BTCUSDT",
        InstrumentSpec("0.01", "0.001"),
        max_order_qty="1",
        max_order_notional="100000",
        max_position="5",
        max_open_orders=5,
        collar_bps=100,
    )
    bid, ask = eng.best_bid(), eng.best_ask()
    assert bid is not None
    assert ask is not None
    gate.set_reference(i, bid, ask, T0)
    return conn, gate, s, i, clock


def _approve(
    gate: RiskGate, s: int, i: int, side: Side, price: int, qty: int, post_only: bool = False
) -> Approval:
    a = gate.check(s, i, side, price, qty, T0, post_only=post_only)
    assert isinstance(a, Approval), a
    return a


def test_is_a_connector_and_accepts_only_approvals() -> None:
    conn, *_ = _setup()
    assert isinstance(conn, Connector)
    assert conn.capabilities.needs_credentials is False
    with pytest.raises(TypeError, match="only risk-gate approvals"):
        require_approval(object())
    with pytest.raises(TypeError):
        asyncio.run(conn.submit(object(), "c-1", "BTCUSDT"))  # type: ignore[arg-type]


def test_lifecycle() -> None:
    async def run() -> None:
        conn, gate, s, i, clock = _setup()
        await conn.connect()
        bid = conn.engine.best_bid()
        assert bid is not None
        resting = _approve(gate, s, i, Side.BUY, bid + 1, 10, post_only=True)
        ack = await conn.submit(resting, "t-1", "BTCUSDT")
        assert ack.client_id == "t-1"
        report = await conn.query("t-1")
        assert report is not None
        assert report.state is OrderState.OPEN
        assert (report.ts_event, report.ts_recv) == (T0, T0)  # the simulator's clock is ours
        ask = conn.engine.best_ask()
        assert ask is not None
        with pytest.raises(InvalidOrderError, match="post-only") as e:
            await conn.submit(_approve(gate, s, i, Side.BUY, ask, 1, post_only=True), "t-2", "BTCUSDT")
        assert (e.value.venue, e.value.code, e.value.retryable) == ("sim", "REJECTED", False)
        fills: list[FillReport] = []
        for _ in range(500):
            clock.advance(10_000_000)
            conn.step(10_000_000)
        events = conn.events()
        while not conn._queue.empty():
            ev = await anext(events)
            assert T0 <= ev.ts_recv <= clock.now_ns()  # every event: our clock when it happened
            if isinstance(ev, FillReport):
                fills.append(ev)
            else:
                assert isinstance(ev, BookUpdate | OrderReport)
        assert sum(f.qty for f in fills if f.client_id == "t-1") == 10
        done = await conn.query("t-1")
        assert done is not None
        assert done.state is OrderState.FILLED
        assert done.ts_recv == clock.now_ns()  # read now
        assert done.ts_event == max(f.ts_event for f in fills if f.client_id == "t-1")  # its last fill
        assert (await conn.positions())["BTCUSDT"] == 10
        with pytest.raises(OrderNotFoundError):
            await conn.cancel("t-1")
        assert await conn.open_orders() == []
        assert await conn.query("nope") is None
        await conn.close()

    asyncio.run(run())


def test_venue_error_family() -> None:
    e = RateLimitError("too many requests", venue="binance", code="429", retry_after_ns=5)
    assert isinstance(e, VenueError)
    assert isinstance(e, TraderError)
    assert e.retryable
    assert e.retry_after_ns == 5
    assert str(e) == "binance: too many requests (code 429)"
    assert issubclass(BannedError, RateLimitError)
    assert VenueUnavailableError("down", venue="okx").retryable
    assert not UnknownOutcomeError("timeout", venue="okx").retryable, "never resend an unknown outcome"
    assert issubclass(OrderNotFoundError, LookupError)
