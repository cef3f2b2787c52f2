"""The OKX swap market over loopback: BTC-USDT-SWAP sizes in contracts on the wire and in base here, the net
position, reduce-only, and funding settled on the position (events and `funding_since`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import BIG, gate_approval
from trader.clock import LiveClock
from trader.core import Approval, RiskGate, Side, TimeInForce
from trader.errors import InvalidOrderError
from trader.sim.okx import OkxSimServer
from trader.venues import registry
from trader.venues.base import BookUpdate, FillReport, FundingPayment
from trader.venues.okx import PROFILE, OkxConnector, parse

CLOCK = LiveClock()


async def first(conn: OkxConnector, match: Callable[[Any], bool], timeout: float = 5) -> Any:
    async def wait() -> Any:
        async for ev in conn.events():
            if match(ev):
                return ev
        return None

    return await CLOCK.wait_for(wait(), timeout)


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(CLOCK.wait_for(body(), 20))


def test_contracts_are_base_quantities_inside() -> None:
    row = {
        "instType": "SWAP",
        "instId": "BTC-USDT-SWAP",
        "ctVal": "0.01",
        "ctValCcy": "BTC",
        "settleCcy": "USDT",
        "tickSz": "0.1",
        "lotSz": "0.01",
        "minSz": "0.01",
        "maxLmtSz": "100000",
    }
    info = parse.instrument_info(row)
    assert (info.base, info.quote, info.lot_size, info.min_qty, info.max_qty) == (
        "BTC",
        "USDT",
        "0.0001",
        "0.0001",
        "1000",
    )
    spec, ct = info.spec(), parse.contract_value(row)
    assert parse.size_units("1.5", spec, ct) == 150  # 1.5 contracts = 0.015 BTC
    assert parse.size_text(150, spec, ct) == "1.5"
    assert parse.size_text(100, spec, ct) == "1"
    assert PROFILE.capabilities["swap"].reduce_only
    assert not PROFILE.capabilities["spot"].reduce_only


def test_position_reduce_only_and_funding() -> None:
    async def body() -> None:
        server = OkxSimServer(seed=5, clock=CLOCK, step_ms=20, funding_interval_ms=400)
        await server.start(port=0)
        conn = registry.loopback_connector(
            server.url,
            symbol="BTC-USDT",
            clock=CLOCK,
            venue="okx",
            market="swap",
            funding_delay_s=0.05,
            leverage=5,
        )
        try:
            await conn.connect()
            assert conn.inst_id == "BTC-USDT-SWAP"
            assert server.state()["levers"] == {"BTC-USDT-SWAP": "5"}
            assert await conn.set_leverage(20) == 20
            info = await conn.instrument_info("BTC-USDT")
            assert info.lot_size == "0.0001"
            top: BookUpdate = await first(conn, lambda e: isinstance(e, BookUpdate) and bool(e.bid and e.ask))
            assert top.ask is not None
            assert top.bid is not None
            assert (await conn.positions()) == {"BTC-USDT": 0}
            buy = gate_approval(
                conn.spec,
                "BTC-USDT",
                Side.BUY,
                top.ask + 50,
                100,
                bid=top.bid,
                ask=top.ask,
                now_ns=CLOCK.now_ns(),
                tif=TimeInForce.IOC,
            )
            await conn.submit(buy, "long1", "BTC-USDT")
            fill: FillReport = await first(
                conn, lambda e: isinstance(e, FillReport) and e.client_id == "long1"
            )
            assert fill.instrument == "BTC-USDT"
            assert fill.fee > 0  # the swap taker fee, in USDT
            held = (await conn.positions())["BTC-USDT"]
            assert 0 < held <= 100
            paid: FundingPayment = await first(conn, lambda e: isinstance(e, FundingPayment), timeout=5)
            assert paid.instrument == "BTC-USDT"
            assert paid.amount < 0  # a long pays a positive rate
            assert paid.funding_id in {p.funding_id for p in await conn.funding_since(0)}
            too_much = _approve(conn, Side.SELL, top.bid - 50, held + 100, top, position=held + 100)
            with pytest.raises(InvalidOrderError):  # more than the venue's position: 51169
                await conn.submit(too_much, "ro1", "BTC-USDT")
            close = _approve(conn, Side.SELL, top.bid - 500, held, top, position=held)
            await conn.submit(close, "ro2", "BTC-USDT")
            await first(conn, lambda e: isinstance(e, FillReport) and e.client_id == "ro2")
            assert (await conn.positions())["BTC-USDT"] < held
            assert Decimal(server.state()["balances"]["USDT"]) != Decimal(1_000_000)  # fees, PnL, funding
        finally:
            await conn.close()
            await server.stop()

    run(body)


def _approve(
    conn: OkxConnector, side: Side, price: int, qty: int, top: BookUpdate, position: int
) -> Approval:
    """A reduce-only IOC approved by a gate that knows the position (`gate_approval` has no reduce-only)."""
    assert top.bid is not None
    assert top.ask is not None
    gate = RiskGate(
        max_gross_notional=BIG,
        max_net_notional=BIG,
        max_open_orders=100,
        max_orders_per_sec=10_000,
        daily_loss_limit=BIG,
    )
    v = gate.add_venue("venue", max_gross_notional=BIG, max_open_orders=100)
    s = gate.add_strategy("test", max_orders_per_sec=10_000)
    i = gate.add_instrument(
        v,
        "BTC-USDT",
        conn.spec,
        max_order_qty=BIG,
        max_order_notional=BIG,
        max_position=BIG,
        max_open_orders=100,
        collar_bps=5000,
    )
    now = CLOCK.now_ns()
    gate.set_reference(i, top.bid, top.ask, now)
    gate.set_position(i, position, top.bid)
    a = gate.check(s, i, side, price, qty, now, tif=TimeInForce.IOC, reduce_only=True)
    assert isinstance(a, Approval), a
    return a
