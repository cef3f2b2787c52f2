"""The loopback IB Gateway (TWS API socket protocol), driven by the unmodified official-community SDKs
ib_async and ib_insync: startup sync, contract qualification, orders, fills, positions, account values,
market data, connectivity notices and pacing.

Both SDKs swallow decoding errors into their loggers; an autouse fixture fails a test if any message the
simulator sent could not be decoded, so a wrong field layout cannot pass silently.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from trader.clock import LiveClock
from trader.sim.faults import Faults
from trader.sim.ibkr import FAULT_PATHS, SERVER_VERSION, IbkrSimServer, commission

CLOCK = LiveClock()
LIBS = ["ib_async", "ib_insync"]


@pytest.fixture(autouse=True)
def no_decode_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.ERROR)
    yield
    bad = [
        r.getMessage()
        for r in caplog.records
        if r.name.endswith(".Decoder")
        or "No order found" in r.getMessage()
        or "Unknown reqId" in r.getMessage()
    ]
    assert not bad, bad


@pytest.fixture(params=LIBS)
def sdk(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


@asynccontextmanager
async def gateway(**kw: Any) -> AsyncIterator[IbkrSimServer]:
    server = IbkrSimServer(seed=5, step_ms=kw.pop("step_ms", 0), **kw)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def client(sdk: ModuleType, server: IbkrSimServer, client_id: int = 7) -> AsyncIterator[Any]:
    ib = sdk.IB()
    await ib.connectAsync("127.0.0.1", server.port, clientId=client_id, timeout=2)
    try:
        yield ib
    finally:
        ib.disconnect()
        await LiveClock().sleep(0)


def run(test: Callable[[IbkrSimServer, Any], Awaitable[None]], sdk: ModuleType, **kw: Any) -> None:
    async def go() -> None:
        async with gateway(**kw) as server, client(sdk, server) as ib:
            await test(server, ib)

    asyncio.run(LiveClock().wait_for(go(), 10))


async def until(cond: Callable[[], object], timeout: float = 2.0) -> None:
    deadline = CLOCK.monotonic_ns() + int(timeout * 1e9)
    while not cond():
        if CLOCK.monotonic_ns() > deadline:
            raise AssertionError("condition not reached in time")
        await LiveClock().sleep(0.005)


def errors_of(ib: Any) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, *rest: seen.append((req_id, code, text))
    return seen


async def spy(sdk: ModuleType, ib: Any) -> Any:
    c = sdk.Stock("SPY", "SMART", "USD")
    await ib.qualifyContractsAsync(c)
    assert c.conId == 756733
    return c


# ---- connect and contracts ---------------------------------------------------------------------------


def test_connect_completes_the_startup_sync_promptly(sdk: ModuleType) -> None:
    async def go() -> None:
        async with gateway() as server:
            ib = sdk.IB()
            t0 = CLOCK.monotonic_ns()
            await ib.connectAsync("127.0.0.1", server.port, clientId=7, timeout=2)
            elapsed = (CLOCK.monotonic_ns() - t0) / 1e9
            try:
                assert elapsed < 1.5  # a missing start-up answer makes ib_async wait out its 2 s timeout
                assert ib.client.serverVersion() == SERVER_VERSION
                assert ib.managedAccounts() == ["DU1234567"]
                values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
                assert values["NetLiquidation"] == "1000000.00"
                assert values["TotalCashValue"] == "1000000.00"
                assert values["AvailableFunds"] == "1000000.00"
                assert values["BuyingPower"] == "4000000.00"
                assert ib.positions() == []
                assert ib.openTrades() == []
                assert server.state()["clients"] == [7]
                summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
                assert summary["NetLiquidation"] == "1000000.00"
                assert summary["AccountType"] == "INDIVIDUAL"
            finally:
                ib.disconnect()

    asyncio.run(go())


def test_qualify_contracts(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        spy_c = sdk.Stock("SPY", "SMART", "USD")
        qqq = sdk.Stock("QQQ", "NASDAQ", "USD")
        by_id = sdk.Contract(conId=265598)
        await ib.qualifyContractsAsync(spy_c, qqq, by_id)
        assert (spy_c.conId, spy_c.primaryExchange, spy_c.exchange) == (756733, "ARCA", "SMART")
        assert (qqq.conId, qqq.exchange, qqq.primaryExchange) == (320227571, "NASDAQ", "NASDAQ")
        assert (by_id.symbol, by_id.secType, by_id.exchange) == ("AAPL", "STK", "SMART")
        [details] = await ib.reqContractDetailsAsync(spy_c)
        assert details.minTick == 0.01
        assert details.longName == "SPDR S&P 500 ETF TRUST"
        assert "LMT" in details.orderTypes.split(",")
        assert "ARCA" in details.validExchanges.split(",")
        unknown = sdk.Stock("ZZZZ", "SMART", "USD")
        await ib.qualifyContractsAsync(unknown)
        assert unknown.conId == 0

    run(test, sdk)


def test_an_ambiguous_contract_is_not_qualified(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        aapl = sdk.Stock("AAPL", "", "USD")  # no exchange: one detail per exchange
        details = await ib.reqContractDetailsAsync(aapl)
        assert len(details) > 1
        assert {d.contract.conId for d in details} == {265598}
        result = await ib.qualifyContractsAsync(aapl)
        assert [r for r in result if r is not None] == []
        assert aapl.conId == 0
        # an unqualified order for it is refused by the gateway
        seen = errors_of(ib)
        trade = ib.placeOrder(sdk.Stock("AAPL", "", "USD"), sdk.LimitOrder("BUY", 1, 100.0))
        await until(lambda: (trade.order.orderId, 321) in [(r, code) for r, code, _ in seen])
        assert trade.fills == []
        assert server.state()["accounts"]["DU1234567"]["orders"] == []

    run(test, sdk)


# ---- orders ------------------------------------------------------------------------------------------


def test_a_marketable_order_fills_at_the_touch(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        _bid, ask = server.top("SPY")
        order = sdk.LimitOrder("BUY", 100, float(ask + Decimal("0.50")), orderRef="strat-1")
        trade = ib.placeOrder(c, order)
        await until(lambda: trade.orderStatus.status == "Filled" and trade.fills)
        await until(lambda: trade.fills[-1].commissionReport.commission > 0)
        assert sum(f.execution.shares for f in trade.fills) == 100
        assert trade.fills[0].execution.price == float(ask)
        assert trade.fills[0].execution.side == "BOT"
        assert trade.fills[0].execution.orderRef == "strat-1"
        assert trade.fills[0].execution.lastLiquidity == 2  # removed liquidity
        fee = sum(f.commissionReport.commission for f in trade.fills)
        assert fee == pytest.approx(
            float(sum(commission(int(f.execution.shares), int(ask * 100)) for f in trade.fills))
        )
        await until(lambda: any(p.position == 100 for p in ib.positions()))
        [pos] = ib.positions()
        assert pos.contract.conId == 756733
        assert pos.account == "DU1234567"
        state = server.state()["accounts"]["DU1234567"]
        assert state["positions"]["SPY"]["qty"] == 100
        assert [o["status"] for o in state["orders"]] == ["Filled"]
        assert state["executions"][0]["orderRef"] == "strat-1"
        # the fill is also what reqExecutions answers
        fills = await ib.reqExecutionsAsync()
        assert [f.execution.execId for f in fills] == [f.execution.execId for f in trade.fills]
        # and the account values moved: cash paid for 100 shares and the commission
        await until(
            lambda: any(v.tag == "TotalCashValue" and v.value != "1000000.00" for v in ib.accountValues())
        )
        cash = {v.tag: Decimal(v.value) for v in ib.accountValues() if v.currency == "USD"}["TotalCashValue"]
        assert cash == Decimal(1_000_000) - 100 * ask - Decimal(str(fee))

        # closing the position realizes PnL, reported with the commission
        sell = ib.placeOrder(c, sdk.MarketOrder("SELL", 100))
        await until(lambda: sell.orderStatus.status == "Filled" and sell.fills)
        await until(lambda: sell.fills[-1].commissionReport.execId != "")
        await until(lambda: ib.positions() == [] or all(p.position == 0 for p in ib.positions()))
        realized = sum(f.commissionReport.realizedPNL for f in sell.fills)
        assert realized == pytest.approx(float(server.state()["accounts"]["DU1234567"]["realized"]), abs=0.01)
        assert realized < 0  # bought at the ask, sold at the bid, paid twice

    run(test, sdk)


def test_a_resting_limit_order_fills_when_the_market_crosses_it(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        bid, _ = server.top("SPY")
        limit = bid - Decimal("0.05")
        trade = ib.placeOrder(c, sdk.LimitOrder("BUY", 50, float(limit), tif="GTC"))
        await until(lambda: trade.orderStatus.status == "Submitted")
        assert trade.fills == []
        assert trade.orderStatus.remaining == 50
        server.hit("SPY", "SELL", 100_000, price=limit)  # someone sells down through our bid
        await until(lambda: trade.orderStatus.status == "Filled")
        await until(lambda: bool(trade.fills))
        assert trade.fills[0].execution.price == float(limit)
        assert trade.fills[0].execution.lastLiquidity == 1  # added liquidity
        assert trade.orderStatus.avgFillPrice == float(limit)

    run(test, sdk)


def test_ioc_remainder_is_canceled_and_a_modify_moves_a_resting_order(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        bid, ask = server.top("SPY")
        ioc = ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(bid - 1), tif="IOC"))
        await until(lambda: ioc.orderStatus.status == "Cancelled")
        assert ioc.fills == []
        order = sdk.LimitOrder("SELL", 20, float(ask + 1))
        trade = ib.placeOrder(c, order)
        await until(lambda: trade.orderStatus.status == "Submitted")
        order.lmtPrice = float(ask + 2)
        ib.placeOrder(c, order)  # same order id: a modification
        await until(
            lambda: server.state()["accounts"]["DU1234567"]["orders"][-1]["price"] == f"{ask + 2:.2f}"
        )
        assert len(server.state()["accounts"]["DU1234567"]["orders"]) == 2

    run(test, sdk)


def test_place_and_cancel_a_resting_order(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        seen = errors_of(ib)
        bid, _ = server.top("SPY")
        trade = ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(bid - 5)))
        await until(lambda: trade.orderStatus.status == "Submitted")
        assert [t.order.orderId for t in ib.openTrades()] == [trade.order.orderId]
        ib.cancelOrder(trade.order)
        await until(lambda: trade.orderStatus.status == "Cancelled")
        await until(lambda: any(code == 202 for _, code, _ in seen))
        assert ib.openTrades() == []
        assert server.state()["accounts"]["DU1234567"]["orders"][0]["status"] == "Cancelled"
        ib.cancelOrder(trade.order)  # again: the gateway says it cannot
        await until(lambda: any(code == 10148 for _, code, _ in seen))
        ib.client.cancelOrder(999_999)
        await until(lambda: any(code == 10147 for _, code, _ in seen))

    run(test, sdk)


def test_injected_faults_apply_to_order_messages_and_the_feed(sdk: ModuleType) -> None:
    """The base server's faults: a processed order whose answer never comes (the socket drops), latency,
    and a stale feed (sockets open, no market data); each API message is counted."""

    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        bid, _ = server.top("SPY")
        assert server.requests["TWS 9"] >= 1  # reqContractDetails
        server.faults = Faults(stale_feed=True, latency_ms=50, drop_response_rate=1.0, paths=FAULT_PATHS)
        ticker = ib.reqMktData(c)
        await LiveClock().sleep(0.2)
        server.hit("SPY", "SELL", 5_000)  # the market trades through several levels
        await LiveClock().sleep(0.2)
        assert ticker.bid != ticker.bid or ticker.bid <= 0  # nothing was published: still NaN / unset
        t0 = CLOCK.monotonic_ns()
        ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(bid - 5), orderRef="lost-answer"))
        await until(lambda: not ib.isConnected())
        assert CLOCK.monotonic_ns() - t0 >= 50_000_000  # the latency came first
        orders = server.state()["accounts"]["DU1234567"]["orders"]
        assert [(o["orderRef"], o["status"]) for o in orders] == [("lost-answer", "Submitted")]  # processed
        assert server.requests["TWS 3"] == 1

    run(test, sdk)


def test_global_cancel_cancels_every_open_order_of_every_client(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        qqq = sdk.Stock("QQQ", "SMART", "USD")
        await ib.qualifyContractsAsync(qqq)
        bid, _ = server.top("SPY")
        qbid, _ = server.top("QQQ")
        trades = [
            ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(bid - 3))),
            ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(bid - 4))),
            ib.placeOrder(qqq, sdk.LimitOrder("BUY", 10, float(qbid - 3))),
        ]
        async with client(sdk, server, client_id=8) as other:
            theirs = other.placeOrder(c, sdk.LimitOrder("BUY", 5, float(bid - 6)))
            await until(lambda: all(t.orderStatus.status == "Submitted" for t in [*trades, theirs]))
            ib.reqGlobalCancel()
            await until(lambda: all(t.orderStatus.status == "Cancelled" for t in [*trades, theirs]))
        orders = server.state()["accounts"]["DU1234567"]["orders"]
        assert len(orders) == 4
        assert {o["status"] for o in orders} == {"Cancelled"}

    run(test, sdk)


def test_rejections_carry_ib_error_codes(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        seen = errors_of(ib)
        bad_tick = ib.placeOrder(c, sdk.LimitOrder("BUY", 1, 100.005))
        stop = ib.placeOrder(c, sdk.StopOrder("BUY", 1, 700.0))
        fractional = ib.placeOrder(c, sdk.LimitOrder("BUY", 0.5, 100.0))
        unknown = ib.placeOrder(sdk.Stock("ZZZZ", "SMART", "USD"), sdk.LimitOrder("BUY", 1, 100.0))
        await until(lambda: len(seen) >= 4)
        codes = {req_id: code for req_id, code, _ in seen}
        assert codes[bad_tick.order.orderId] == 110
        assert codes[stop.order.orderId] == 387
        assert codes[fractional.order.orderId] == 10243
        assert codes[unknown.order.orderId] == 200
        # (ib_insync treats 110 as a warning and leaves that trade pending; the gateway has no order)
        assert all(t.orderStatus.status != "Submitted" for t in (bad_tick, stop, fractional, unknown))
        assert server.state()["accounts"]["DU1234567"]["orders"] == []

    run(test, sdk)


def test_a_reconnecting_client_gets_its_open_orders_completed_orders_and_executions(sdk: ModuleType) -> None:
    async def go() -> None:
        async with gateway() as server:
            async with client(sdk, server) as ib:
                c = await spy(sdk, ib)
                bid, ask = server.top("SPY")
                rest = ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(bid - 2), orderRef="keep"))
                done = ib.placeOrder(c, sdk.LimitOrder("BUY", 10, float(ask), orderRef="done"))
                await until(
                    lambda: rest.orderStatus.status == "Submitted" and done.orderStatus.status == "Filled"
                )
                first_id = rest.order.orderId
            async with client(sdk, server) as ib:
                [open_trade] = ib.openTrades()
                assert open_trade.order.orderId == first_id
                assert open_trade.order.orderRef == "keep"
                assert open_trade.orderStatus.status == "Submitted"
                [fill] = ib.fills()
                assert fill.execution.orderRef == "done"
                assert fill.execution.shares == 10
                completed = [t for t in ib.trades() if t.orderStatus.status == "Filled"]
                assert [t.order.orderRef for t in completed] == ["done"]
                # order ids keep increasing across sessions of one client id
                assert ib.client.getReqId() > first_id

    asyncio.run(LiveClock().wait_for(go(), 10))


def test_a_second_connection_with_the_same_client_id_is_refused(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        other = sdk.IB()
        refused = errors_of(other)
        with pytest.raises((ConnectionError, asyncio.TimeoutError)):
            await other.connectAsync("127.0.0.1", server.port, clientId=7, timeout=0.3)
        other.disconnect()
        assert [code for _, code, _ in refused] == [326]
        assert ib.isConnected()
        assert server.state()["clients"] == [7]

    run(test, sdk)


# ---- market data -------------------------------------------------------------------------------------


def test_market_data_and_depth_follow_the_book(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        ticker = ib.reqMktData(c)
        bid, ask = server.top("SPY")
        await until(lambda: ticker.bid == float(bid) and ticker.ask == float(ask))
        assert ticker.bidSize > 0
        assert ticker.askSize > 0
        server.hit("SPY", "BUY", 100_000, price=ask + Decimal("0.02"))  # lifts the offers up to +2 cents
        _, new_ask = server.top("SPY")
        assert new_ask > ask
        await until(lambda: ticker.ask == float(new_ask) and ticker.last == float(ask + Decimal("0.02")))
        assert ticker.volume > 0
        depth = ib.reqMktDepth(c, numRows=5)
        book = server.books[756733].engine.depth(5)
        await until(lambda: [(d.price, d.size) for d in depth.domBids] == [(p / 100, q) for p, q in book[0]])
        assert [(d.price, d.size) for d in depth.domAsks] == [(p / 100, q) for p, q in book[1]]
        server.step(2_000_000_000)
        book = server.books[756733].engine.depth(5)
        await until(lambda: [(d.price, d.size) for d in depth.domAsks] == [(p / 100, q) for p, q in book[1]])
        assert [(d.price, d.size) for d in depth.domBids] == [(p / 100, q) for p, q in book[0]]

    run(test, sdk)


def test_the_background_market_streams_ticks_and_smart_depth(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        qqq = sdk.Stock("QQQ", "SMART", "USD")
        await ib.qualifyContractsAsync(qqq)
        ticker = ib.reqMktData(qqq)
        depth = ib.reqMktDepth(qqq, numRows=3, isSmartDepth=True)
        await until(lambda: ticker.bid > 0 and len(depth.domBids) == 3)
        await until(lambda: ticker.volume > 0)  # other participants trade on their own
        assert {d.marketMaker for d in depth.domBids} == {"NASDAQ"}
        await LiveClock().sleep(0.1)
        assert 0 < ticker.bid < ticker.ask
        assert depth.domBids[0].price <= ticker.bid + 0.05

    run(test, sdk, step_ms=10)


def test_a_depth_reset_is_error_317_then_every_row_again(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        seen = errors_of(ib)
        depth = ib.reqMktDepth(c, numRows=4, isSmartDepth=True)

        def rows() -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
            return [(d.price, d.size) for d in depth.domBids], [(d.price, d.size) for d in depth.domAsks]

        def want() -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
            bids, asks = server.books[756733].engine.depth(4)
            return [(p / 100, q) for p, q in bids], [(p / 100, q) for p, q in asks]

        await until(lambda: rows() == want())
        inserts: list[tuple[int, int]] = []
        depth.updateEvent += lambda t: inserts.extend(
            (x.side, x.position) for x in t.domTicks if not x.operation
        )
        assert server.reset_depth("QQQ") == 0  # nobody asked for QQQ's depth
        assert server.reset_depth("SPY") == 1
        await until(lambda: len(inserts) >= 8)
        [(req_id, _, text)] = [e for e in seen if e[1] == 317]
        assert req_id > 0
        assert text.startswith("Market depth data has been RESET")
        assert sorted(inserts) == [(side, pos) for side in (0, 1) for pos in range(4)]  # every row again
        assert rows() == want()

    run(test, sdk)


def test_connectivity_lost_then_restored_reaches_the_client(sdk: ModuleType) -> None:
    async def test(server: IbkrSimServer, ib: Any) -> None:
        c = await spy(sdk, ib)
        seen = errors_of(ib)
        ticker = ib.reqMktData(c)
        await until(lambda: ticker.bid > 0)
        server.drop_farm()
        await until(lambda: any(code == 1100 for _, code, _ in seen))
        trade = ib.placeOrder(c, sdk.LimitOrder("BUY", 1, float(server.top("SPY")[0])))
        await until(lambda: trade.orderStatus.status == "Cancelled")  # refused while the farm is down
        assert (trade.order.orderId, 201) in [(r, code) for r, code, _ in seen]
        server.restore_farm()
        await until(lambda: any(code == 1102 for _, code, _ in seen))
        server.drop_farm()
        server.restore_farm(data_lost=True)
        await until(lambda: any(code == 1101 for _, code, _ in seen))
        codes = [code for req_id, code, _ in seen if req_id == -1]
        assert codes == [1100, 2103, 1102, 2104, 1100, 2103, 1101, 2104]
        # data lost: the subscription is gone until the client asks again
        ticks_before = ticker.volume
        server.hit("SPY", "BUY", 100_000, price=server.top("SPY")[1] + Decimal("0.02"))
        await LiveClock().sleep(0.05)
        assert ticker.volume == ticks_before
        ib.cancelMktData(c)
        again = ib.reqMktData(c)
        await until(lambda: again.volume > ticks_before)

    run(test, sdk)


# ---- pacing ------------------------------------------------------------------------------------------


def test_with_paceapi_the_gateway_delays_instead_of_dropping() -> None:
    ib_async = importlib.import_module("ib_async")

    async def go() -> None:
        async with gateway() as server:
            ib = ib_async.IB()
            ib.client.setConnectOptions("+PACEAPI")
            await ib.connectAsync("127.0.0.1", server.port, clientId=7, timeout=2)
            try:
                seen = errors_of(ib)
                answers: list[int] = []
                ib.wrapper.currentTime = answers.append  # count the answers as they are decoded
                ib.client.MaxRequests = 0  # the SDK's own throttle off
                t0 = CLOCK.monotonic_ns()
                for _ in range(60):
                    ib.client.reqCurrentTime()
                await until(lambda: len(answers) == 60, timeout=3)
                assert CLOCK.monotonic_ns() - t0 > 100_000_000  # some had to wait for the window
                assert not any(code == 100 for _, code, _ in seen)
                assert server.dropped_messages == 0
            finally:
                ib.disconnect()

    asyncio.run(LiveClock().wait_for(go(), 10))


def test_more_than_50_messages_a_second_get_error_100_then_a_disconnect() -> None:
    ib_async = importlib.import_module("ib_async")

    async def test(server: IbkrSimServer, ib: Any) -> None:
        seen = errors_of(ib)
        ib.client.MaxRequests = 0  # the SDK's own throttle off
        for _ in range(60):
            ib.client.reqCurrentTime()
        await until(lambda: any(code == 100 for _, code, _ in seen))
        text = next(t for _, code, t in seen if code == 100)
        assert text.startswith("Max rate of messages per second has been exceeded")
        assert 5 <= server.dropped_messages <= 30
        rec = int(text.split("rec=")[1].split()[0])
        assert rec > 50
        for _ in range(120):  # over the limit even if a new second has begun
            ib.client.reqCurrentTime()
        await until(lambda: not ib.isConnected())

    run(test, ib_async, pacing_disconnect_after=30)


def test_the_handshake_and_framing_on_a_raw_socket() -> None:
    async def go() -> None:
        async with gateway() as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)

            def send(*fields: object) -> None:
                payload = "".join(f"{f}\0" for f in fields).encode()
                writer.write(struct.pack(">I", len(payload)) + payload)

            async def recv() -> list[str]:
                (n,) = struct.unpack(">I", await reader.readexactly(4))
                return (await reader.readexactly(n)).decode().split("\0")[:-1]

            hello = b"v100..187"
            writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
            version, conn_time = await recv()
            assert version == "176"
            assert conn_time.endswith(" UTC")
            send(71, 2, 3, "")
            got = [await recv() for _ in range(5)]
            assert ["15", "1", "DU1234567"] in got
            assert ["9", "1", "1"] in got
            assert ["4", "2", "-1", "2104", "Market data farm connection is OK:usfarm", ""] in got
            send(49, 1)
            assert (await recv())[:2] == ["49", "1"]
            writer.close()
            await writer.wait_closed()

            # a client that cannot speak version 176 is not served
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            old = b"v100..151"
            writer.write(b"API\0" + struct.pack(">I", len(old)) + old)
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()

    asyncio.run(LiveClock().wait_for(go(), 10))
