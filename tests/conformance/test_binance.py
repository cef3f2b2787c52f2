"""What only Binance has, against its simulator: the contract over both order paths (REST and the
WebSocket API) per market, the futures countdownCancelAll details, margin borrow/repay, futures
leverage and margin type, trades and bookTicker, Ed25519 keys, and a spot restart net of fees withheld
in the bought asset. The cases every venue runs (faults, streams, restart, order paths) are in
test_orders.py, test_faults.py, test_streams.py and test_restart.py, parametrized by venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from tests.conformance.engine_kit import Idle, TakeOnce
from tests.venues.test_binance_connector import approve, next_of
from trader.clock import LiveClock
from trader.core import Side, TimeInForce
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.sim.binance import BinanceSimServer
from trader.sim.faults import Faults
from trader.venues.base import (
    BookUpdate,
    Connector,
    FillReport,
    OrderReport,
    OrderState,
    Quote,
    TradeTick,
)
from trader.venues.binance import BinanceConnector
from trader.venues.registry import loopback_connector

CLOCK = LiveClock()
MARKETS = ["spot", "futures", "margin"]
ORDER_PATH = {"spot": "/api/v3/order", "futures": "/fapi/v1/order", "margin": "/sapi/v1/margin/order"}
TIME_PATH = {"spot": "/api/v3/time", "futures": "/fapi/v1/time", "margin": "/api/v3/time"}


@asynccontextmanager
async def venue(
    market: str, order_entry: str = "rest", clock: Any = CLOCK, **kw: Any
) -> AsyncIterator[tuple[BinanceSimServer, BinanceConnector]]:
    server = BinanceSimServer(seed=11, step_ms=20)
    await server.start(port=0)
    conn = loopback_connector(
        server.url, symbol="BTCUSDT", clock=clock, market=market, order_entry=order_entry, **kw
    )
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


def faults(market: str, **kw: Any) -> Faults:
    return Faults(paths=(f"POST {ORDER_PATH[market]}",), **kw)


async def first_book(conn: BinanceConnector) -> BookUpdate:
    while True:
        ev = await next_of(conn, BookUpdate)
        assert isinstance(ev, BookUpdate)
        if ev.bid is not None and ev.ask is not None:
            return ev


async def wait_for(conn: BinanceConnector, pred: Any, timeout: float = 5.0) -> Any:
    async def go() -> Any:
        async for ev in conn.events():
            if pred(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(go(), timeout)


# ---- the contract, per market and order path -------------------------------------------------------


@pytest.mark.parametrize(
    ("market", "order_entry"),
    [("spot", "rest"), ("spot", "ws"), ("futures", "rest"), ("futures", "ws"), ("margin", "rest")],
)
def test_contract(market: str, order_entry: str) -> None:
    async def go() -> None:
        async with venue(market, order_entry) as (_server, conn):
            assert isinstance(conn, Connector)
            assert conn.capabilities.ws_order_entry is (order_entry == "ws")
            spec = conn.trading_spec()
            top = await first_book(conn)
            assert top.bid is not None
            assert top.ask is not None
            before = (await conn.positions())["BTCUSDT"]

            # a resting post-only bid far from the touch: ack, open on the private stream, query, cancel
            far = top.bid - 50 * spec.tick
            await conn.submit(approve(spec, Side.BUY, far, spec.lot * 10), "conf-rest", "BTCUSDT")
            opened = await wait_for(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "conf-rest")
            assert opened.state is OrderState.OPEN
            assert opened.price == far
            seen = await conn.query("conf-rest")
            assert seen is not None
            assert seen.state is OrderState.OPEN
            assert [o.client_id for o in await conn.open_orders()] == ["conf-rest"]
            await conn.cancel("conf-rest")
            closed = await conn.query("conf-rest")
            assert closed is not None
            assert closed.state is OrderState.CANCELED
            assert await conn.query("never-sent") is None

            # a marketable IOC buy: a fill on the private stream, the same trade id by REST, the position
            a = approve(
                spec, Side.BUY, top.ask + 20 * spec.tick, spec.lot * 5, post_only=False, tif=TimeInForce.IOC
            )
            await conn.submit(a, "conf-take", "BTCUSDT")
            fill = await wait_for(conn, lambda e: isinstance(e, FillReport) and e.client_id == "conf-take")
            assert fill.side is Side.BUY
            assert fill.maker is False
            assert fill.fee > 0
            rest = [f for f in await conn.fills_since(0) if f.client_id == "conf-take"]
            assert fill.trade_id in {f.trade_id for f in rest}
            filled = sum(f.qty for f in rest)
            assert 0 < filled <= spec.lot * 5
            assert (await conn.positions())["BTCUSDT"] == before + filled

            # cancel all: everything resting goes, in one request
            for k in range(2):
                px = top.bid - (60 + k) * spec.tick
                await conn.submit(approve(spec, Side.BUY, px, spec.lot * 10), f"conf-all-{k}", "BTCUSDT")
            assert await conn.cancel_all("BTCUSDT") == 2
            assert await conn.open_orders() == []

    asyncio.run(go())


# ---- the futures dead-man switch ---------------------------------------------------------------


def armed(conn: BinanceConnector) -> bool:
    return conn._dead_man_armed


def test_futures_dead_man_switch_is_armed_while_orders_rest() -> None:
    async def go() -> None:
        async with venue("futures", dead_man_ms=5000) as (server, conn):
            spec = conn.trading_spec()
            top = await first_book(conn)
            await conn.arm_dead_man_now()
            assert server.requests["POST /fapi/v1/countdownCancelAll"] == 1
            assert not armed(conn)  # nothing rests: disarmed
            a = approve(spec, Side.BUY, (top.bid or 0) - 40 * spec.tick, spec.lot * 10)
            await conn.submit(a, "dms-1", "BTCUSDT")
            await conn.arm_dead_man_now()
            assert armed(conn)
            countdown = server.state()["sim-demo-key"]["futures"]["countdown"]
            assert countdown["armed"]
            assert countdown["countdownTime"] == 5000
            await conn.cancel("dms-1")
            await conn.arm_dead_man_now()
            assert not armed(conn)
            assert not server.state()["sim-demo-key"]["futures"]["countdown"]["armed"]

    asyncio.run(go())


def test_margin_orders_have_no_websocket_api() -> None:
    """Binance's WebSocket API trades spot only: margin over it is refused when configured, not at the
    first order."""
    with pytest.raises(ValueError, match="margin"):
        loopback_connector(
            "http://127.0.0.1:9", symbol="BTCUSDT", clock=CLOCK, market="margin", order_entry="ws"
        )


def test_margin_borrow_repay_and_margin_level() -> None:
    async def go() -> None:
        async with venue("margin") as (_server, conn):
            level0 = await conn.margin_level()
            await conn.borrow("USDT", Decimal(1000))
            level1 = await conn.margin_level()
            assert level1 < level0
            await conn.repay("USDT", Decimal(1000))
            assert await conn.margin_level() > level1

    asyncio.run(go())


def test_futures_leverage_and_margin_type() -> None:
    async def go() -> None:
        async with venue("futures", leverage=5, margin_type="ISOLATED") as (_server, conn):
            assert await conn.set_leverage(3) == 3
            await conn.set_margin_type("ISOLATED")  # already: not an error
            pos = await conn.futures_position()
            assert pos["symbol"] == "BTCUSDT"

    asyncio.run(go())


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_trades_and_book_ticker_arrive(market: str) -> None:
    async def go() -> None:
        async with venue(market) as (_server, conn):
            trade = await wait_for(conn, lambda e: isinstance(e, TradeTick), timeout=10)
            quote = await wait_for(conn, lambda e: isinstance(e, Quote), timeout=10)
            assert trade.instrument == quote.instrument == "BTCUSDT"
            assert trade.qty > 0
            assert quote.bid < quote.ask

    asyncio.run(go())


def test_an_ed25519_key_trades_end_to_end() -> None:
    """An Ed25519 API key (PKCS#8 PEM, signed in the core): the venue verifies it with `cryptography`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trader.core import BinanceSigner
    from trader.venues.binance import Endpoints

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    async def go() -> None:
        server = BinanceSimServer(seed=11, step_ms=20, ed25519_accounts={"ed-key": public})
        await server.start(port=0)
        conn = BinanceConnector(
            symbol="BTCUSDT",
            signer=BinanceSigner.ed25519("ed-key", pem),
            endpoints=Endpoints.loopback(server.url),
            clock=CLOCK,
        )
        try:
            await conn.connect()
            spec = conn.trading_spec()
            top = await first_book(conn)
            await conn.submit(
                approve(spec, Side.BUY, (top.bid or 0) - 40 * spec.tick, spec.lot * 10), "ed-1", "BTCUSDT"
            )
            opened = await wait_for(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "ed-1")
            assert opened.state is OrderState.OPEN  # the private stream authenticated with the same key
            await conn.cancel("ed-1")
            assert server.state()["ed-key"]["submissions"] == {"ed-1": 1}
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())


def test_restart_reconciles_a_spot_position_net_of_base_asset_fees(tmp_path: Any) -> None:
    """On Binance spot a buyer pays its commission in the bought asset (unless with BNB): the balance
    grows by less than the fills. A restart on the same journal still reconciles, by the fees the
    venue reports withheld; anything beyond them is still a mismatch."""
    from trader.errors import ReconciliationError

    async def go() -> None:
        server = BinanceSimServer(seed=11, step_ms=20, buyer_fee_in_base=True)
        await server.start(port=0)
        path = tmp_path / "journal.db"
        try:
            conn = loopback_connector(server.url, symbol="BTCUSDT", clock=CLOCK)
            journal = Journal(path)
            try:
                await conn.connect()
                spec = conn.trading_spec()
                before = (await conn.balances())["BTC"]
                engine = Engine(  # 2 BTC: a taker fee (5 bps) of a whole lot or more
                    conn,
                    TakeOnce("BTCUSDT", spec.lot * 2000, 5000 * spec.tick),
                    journal=journal,
                    clock=CLOCK,
                    config=EngineConfig(
                        symbol="BTCUSDT",
                        collar_bps=500,
                        max_order_qty="3",
                        max_position="3",
                        max_order_notional="300000",
                        venue_max_gross_notional="300000",
                    ),
                )
                await engine.run(1.5)
                after = (await conn.balances())["BTC"]
                filled = sum(f.qty for f in await conn.fills_since(0)) * Decimal(spec.qty_unit)
                assert filled >= 1
                assert after - before <= filled - Decimal(spec.qty_unit)  # a lot of fee came out of it
            finally:
                await conn.close()
                journal.close()
            conn2 = loopback_connector(server.url, symbol="BTCUSDT", clock=CLOCK)
            journal2 = Journal(path)
            try:
                second = Engine(  # it only restarts and reconciles
                    conn2, Idle(), journal=journal2, clock=CLOCK, config=EngineConfig()
                )
                await second.start()
                assert second.summary.reconciled_at_start >= 0
            finally:
                await conn2.close()
                journal2.close()
            # a real discrepancy (1 BTC more than fills and fees explain) is still refused
            server.accounts["sim-demo-key"].balances["BTC"][0] += Decimal(1)
            conn3 = loopback_connector(server.url, symbol="BTCUSDT", clock=CLOCK)
            journal3 = Journal(path)
            try:
                third = Engine(conn3, Idle(), journal=journal3, clock=CLOCK, config=EngineConfig())
                with pytest.raises(ReconciliationError, match="position"):
                    await third.start()
            finally:
                await conn3.close()
                journal3.close()
        finally:
            await server.stop()

    asyncio.run(go())
