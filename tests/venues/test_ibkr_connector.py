"""The IBKR connector (ib_async) against the loopback IB Gateway simulator: contracts, orders, fills,
positions, global cancel, connectivity notices (1100/1101/1102), a dropped socket, pacing and the paper
guard."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from ib_async import AccountValue

from tests.venues.ibkr.harness import (
    ACCOUNT,
    CLOCK,
    approve,
    cents,
    collect,
    has,
    next_of,
    orders_at,
    run,
    until,
    venue,
)
from trader.clock import LiveClock
from trader.core import (
    OrderType,
    Side,
    TimeInForce,
)
from trader.engine.engine import Engine
from trader.engine.journal import Journal
from trader.engine.paper import sized_market_maker
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueUnavailableError,
)
from trader.sim.faults import Faults
from trader.sim.ibkr import CENT, FAULT_PATHS, IbkrSimServer
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Connector,
    FillReport,
    InstrumentInfo,
    OrderReport,
    OrderState,
)
from trader.venues.ibkr import (
    LIVE_GATEWAY_PORT,
    AmbiguousContractError,
    IbExecution,
    IbkrConnector,
    StockSpec,
    UnknownContractError,
    base_currency_values,
)

# ---- contract, orders, fills ---------------------------------------------------------------------------


def test_reads_keyed_by_name_at_the_same_time_share_one_request() -> None:
    """ib_async keys `reqOpenOrders` by name: a second one open at once takes the first's answer. Reads at
    the same time (the engine asking while a resync runs) share one request; the first used to wait out
    its whole timeout (30 s here) and ask again."""

    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 25, 3), "k-1", "SPY")
        reads = await CLOCK.wait_for(asyncio.gather(*(conn.open_orders() for _ in range(3))), 10)
        assert [[r.client_id for r in got] for got in reads] == [["k-1"]] * 3
        assert [r.client_id for r in await conn.open_orders()] == ["k-1"], "a later read asks anew"
        await conn.cancel("k-1")

    run(test, timeout_s=30.0)


def test_contract_and_a_resting_order_lifecycle() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        assert isinstance(conn, Connector)
        assert conn.account == ACCOUNT
        info = await conn.instrument_info("SPY")
        assert (info.tick_size, info.lot_size, info.min_qty, info.quote) == ("0.01", "1", "1", "USD")
        spec = conn.trading_spec("SPY")
        bid, ask = server.top("SPY")
        top = await next_of(conn, BookUpdate, lambda e: e.instrument == "SPY")
        assert (top.bid, top.ask) == (cents(bid), cents(ask))
        assert top.bid_qty > 0
        price = cents(bid) - 25
        ack = await conn.submit(approve(spec, "SPY", Side.BUY, price, 30), "c-1", "SPY")
        assert int(ack.venue_order_id) > 0
        report = await next_of(conn, OrderReport, lambda r: r.client_id == "c-1")
        assert (report.state, report.price, report.qty, report.filled) == (OrderState.OPEN, price, 30, 0)
        assert report.venue_order_id == ack.venue_order_id
        [at_venue] = orders_at(server)
        assert (at_venue["orderRef"], at_venue["price"], at_venue["qty"]) == (
            "c-1",
            f"{bid - Decimal('0.25')}",
            30,
        )
        q = await conn.query("c-1")
        assert q is not None
        assert q.state is OrderState.OPEN
        assert [r.client_id for r in await conn.open_orders()] == ["c-1"]
        await conn.cancel("c-1")
        done = await next_of(
            conn, OrderReport, lambda r: r.client_id == "c-1" and r.state is not OrderState.OPEN
        )
        assert done.state is OrderState.CANCELED
        assert orders_at(server)[0]["status"] == "Cancelled"
        with pytest.raises(OrderNotFoundError):
            await conn.cancel("c-1")
        assert await conn.query("never-sent") is None
        with pytest.raises(InvalidOrderError, match="already used"):
            await conn.submit(approve(spec, "SPY", Side.BUY, price, 30), "c-1", "SPY")

    run(test)


def test_a_marketable_order_fills_and_moves_the_position() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        _, ask = server.top("SPY")
        a = approve(spec, "SPY", Side.BUY, cents(ask) + 10, 40, tif=TimeInForce.IOC)
        await conn.submit(a, "c-2", "SPY")
        fill = await next_of(conn, FillReport)
        assert (fill.client_id, fill.instrument, fill.side, fill.price, fill.qty) == (
            "c-2",
            "SPY",
            Side.BUY,
            cents(ask),
            40,
        )
        assert fill.fee == Decimal("1.0")  # IBKR fixed: USD 1.00 minimum
        assert not fill.maker
        report = await next_of(conn, OrderReport, lambda r: r.state is OrderState.FILLED)
        assert (report.client_id, report.filled) == ("c-2", 40)
        assert await conn.positions() == {"SPY": 40, "QQQ": 0}
        [again] = [f for f in await conn.fills_since(0) if f.client_id == "c-2"]
        assert (again.trade_id, again.fee, again.price) == (fill.trade_id, fill.fee, fill.price)
        # a market order closes it
        m = approve(spec, "SPY", Side.SELL, cents(ask), 40, order_type=OrderType.MARKET)
        await conn.submit(m, "c-3", "SPY")
        sold = await next_of(conn, FillReport, lambda f: f.client_id == "c-3")
        assert sold.side is Side.SELL
        assert sold.qty == 40
        assert (await conn.positions())["SPY"] == 0
        assert [o["type"] for o in orders_at(server)] == ["LMT", "MKT"]

    run(test)


def test_an_unfilled_ioc_expires() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("QQQ")
        bid, _ = server.top("QQQ")
        await conn.submit(
            approve(spec, "QQQ", Side.BUY, cents(bid) - 50, 5, tif=TimeInForce.IOC), "c-4", "QQQ"
        )
        report = await next_of(conn, OrderReport, lambda r: r.state is not OrderState.OPEN)
        assert (report.client_id, report.state, report.filled) == ("c-4", OrderState.EXPIRED, 0)

    run(test)


def test_a_resting_order_filled_later_is_reported_as_a_maker_fill() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 3, 25), "c-5", "SPY")
        server.hit("SPY", "SELL", 100_000, price=bid - Decimal("0.03"))
        fill = await next_of(conn, FillReport)
        assert (fill.client_id, fill.price, fill.qty, fill.maker) == ("c-5", cents(bid) - 3, 25, True)

    run(test)


# ---- refusals before anything is sent -------------------------------------------------------------------


def test_an_ambiguous_or_unknown_contract_is_refused_and_nothing_is_sent() -> None:
    async def go() -> None:
        server = IbkrSimServer(seed=3, step_ms=0)
        await server.start()
        instruments = {"SPY": StockSpec("SPY"), "AAPL-ANY": StockSpec("AAPL", exchange="")}
        conn = IbkrConnector(
            instruments=instruments, clock=CLOCK, port=server.port, client_id=12, timeout_s=2
        )
        try:
            with pytest.raises(AmbiguousContractError) as e:
                await conn.connect()
            assert len(e.value.candidates) > 1
            assert all("#265598" in c for c in e.value.candidates)
            spec = conn.trading_spec("SPY")
            a = approve(spec, "AAPL-ANY", Side.BUY, 20_000, 1)
            with pytest.raises(AmbiguousContractError):
                await conn.submit(a, "c-6", "AAPL-ANY")
            with pytest.raises(UnknownContractError):
                await conn.submit(a, "c-7", "NOT-CONFIGURED")
            assert orders_at(server) == []
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(LiveClock().wait_for(go(), 10))


def test_unsupported_order_options_are_refused_locally() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        with pytest.raises(InvalidOrderError, match="not supported"):
            await conn.submit(
                approve(spec, "SPY", Side.BUY, cents(bid), 1, tif=TimeInForce.FOK), "c-8", "SPY"
            )
        with pytest.raises(InvalidOrderError, match="post-only"):
            await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 5, 1, post_only=True), "c-9", "SPY")
        assert orders_at(server) == []

    run(test)


def test_a_gateway_rejection_is_a_typed_error() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        for n in range(20):  # IB: at most 20 active orders per contract, side and account
            await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 100 - n, 1), f"r-{n}", "SPY")
        with pytest.raises(InvalidOrderError) as e:
            await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 200, 1), "r-20", "SPY")
        assert e.value.code == "201"
        q = await conn.query("r-20")
        assert q is not None
        assert q.state is OrderState.REJECTED
        assert "201" in q.reason

    run(test)


def test_paper_guard_and_account_checks() -> None:
    with pytest.raises(ConfigError, match="live trading port"):
        IbkrConnector(instruments=["SPY"], clock=CLOCK, port=LIVE_GATEWAY_PORT)

    async def refused(server_kw: dict[str, Any], **kw: Any) -> None:
        with pytest.raises(AuthenticationError):
            async with venue(server_kw, **kw):
                pass

    async def go() -> None:
        await refused({"accounts": ("U7654321",)})  # a live account id on a paper connector
        await refused({}, account_id="DU0000001", timeout_s=0.5)  # not managed by this login
        await refused({"accounts": ("DU1", "DU2")})  # several accounts and none chosen
        async with venue({"accounts": ("DU1", "DU2")}, account_id="DU2") as (_, conn):
            assert conn.account == "DU2"

    asyncio.run(LiveClock().wait_for(go(), 15))


# ---- cancel all ---------------------------------------------------------------------------------------


def test_cancel_all_is_a_global_cancel_and_per_instrument_cancels_only_that_one() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spy, qqq = conn.trading_spec("SPY"), conn.trading_spec("QQQ")
        sb, _ = server.top("SPY")
        qb, _ = server.top("QQQ")
        for n in range(2):
            await conn.submit(approve(spy, "SPY", Side.BUY, cents(sb) - 10 - n, 1), f"s-{n}", "SPY")
        await conn.submit(approve(qqq, "QQQ", Side.BUY, cents(qb) - 10, 1), "q-0", "QQQ")
        assert await conn.cancel_all("SPY") == 2
        assert sorted((o["orderRef"], o["status"]) for o in orders_at(server)) == [
            ("q-0", "Submitted"),
            ("s-0", "Cancelled"),
            ("s-1", "Cancelled"),
        ]
        await conn.submit(approve(spy, "SPY", Side.BUY, cents(sb) - 12, 1), "s-2", "SPY")
        assert await conn.cancel_all() == 2
        assert {o["status"] for o in orders_at(server)} == {"Cancelled"}
        assert await conn.open_orders() == []

    run(test)


# ---- connectivity -------------------------------------------------------------------------------------


def test_1100_pauses_orders_and_invalidates_books_1101_resubscribes_and_reconciles() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        await next_of(conn, BookUpdate, lambda e: e.instrument == "SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 5, 10), "k-1", "SPY")
        await next_of(conn, OrderReport, lambda r: r.client_id == "k-1")
        server.drop_farm()
        invalid = await next_of(conn, BookInvalid)
        assert invalid.reason.startswith("1100")
        with pytest.raises(VenueUnavailableError):
            await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 6, 10), "k-2", "SPY")
        assert [o["orderRef"] for o in orders_at(server)] == ["k-1"]  # nothing sent while paused
        server.restore_farm(data_lost=True)
        # market data subscribed again (the Gateway forgot it) and the open order reported again
        evs = await collect(
            conn, lambda evs: has(evs, OrderReport) is not None and has(evs, BookUpdate) is not None
        )
        again = has(evs, OrderReport)
        assert (again.client_id, again.state) == ("k-1", OrderState.OPEN)
        top = has(evs, BookUpdate, lambda e: e.instrument == "SPY")
        assert top.bid == cents(server.top("SPY")[0])
        [c] = [c for c in server.conns if c.client_id == 11]
        assert len(c.mkt) == 2
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 6, 10), "k-2", "SPY")

    run(test)


def test_1102_refreshes_the_book_and_reports_what_happened_meanwhile() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 2, 10), "m-1", "SPY")
        server.drop_farm()
        await next_of(conn, BookInvalid)
        server.restore_farm(data_lost=False)
        evs = await collect(
            conn,
            lambda evs: (
                has(evs, OrderReport) is not None
                and has(evs, BookUpdate, lambda e: e.instrument == "QQQ") is not None
            ),
        )
        assert (has(evs, OrderReport).client_id, has(evs, OrderReport).state) == ("m-1", OrderState.OPEN)
        [c] = [c for c in server.conns if c.client_id == 11]
        assert len(c.mkt) == 2  # one subscription per instrument, not two
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 3, 10), "m-2", "SPY")

    run(test)


def test_a_dropped_socket_reconnects_and_reports_fills_that_happened_meanwhile() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 4, 15), "d-1", "SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 30, 15), "d-2", "SPY")
        await server.drop_connections()
        await next_of(conn, BookInvalid, lambda e: "dropped" in e.reason)
        server.hit("SPY", "SELL", 100_000, price=bid - Decimal("0.04"))  # fills d-1 while nobody listens
        evs = await collect(
            conn,
            lambda evs: (
                has(evs, OrderReport, lambda r: r.state is OrderState.FILLED) is not None
                and has(evs, BookUpdate) is not None
            ),
        )
        fill = has(evs, FillReport)
        assert (fill.client_id, fill.qty, fill.price) == ("d-1", 15, cents(bid) - 4)
        filled = has(evs, OrderReport, lambda r: r.state is OrderState.FILLED)
        assert (filled.client_id, filled.filled) == ("d-1", 15)
        assert evs.index(fill) < evs.index(filled)  # the fill (with its fee) before the order's end
        q = await conn.query("d-2")
        assert q is not None
        assert q.state is OrderState.OPEN
        assert server.state()["clients"] == [11]
        await conn.cancel("d-2")

    run(test, reconnect_delay_s=0.05)


def test_no_answer_to_an_order_is_an_unknown_outcome() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        server._dispatch[3] = lambda c, f: None  # the Gateway swallows the order
        with pytest.raises(UnknownOutcomeError):
            await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 5, 1), "u-1", "SPY")
        assert orders_at(server) == []
        assert await conn.query("u-1") is None  # resolved: the venue never saw it

    run(test, timeout_s=0.3)


def test_an_order_processed_but_unanswered_is_an_unknown_outcome_then_found() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        server.faults = Faults(drop_response_rate=1.0, paths=FAULT_PATHS)  # the socket drops after it
        with pytest.raises(UnknownOutcomeError, match="session lost"):
            await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 5, 1), "u-2", "SPY")
        server.faults = Faults()
        assert [o["orderRef"] for o in orders_at(server)] == ["u-2"]  # the Gateway has it

        async def found() -> bool:
            try:
                r = await conn.query("u-2")
            except VenueUnavailableError:
                return False  # still reconnecting
            return r is not None and r.state is OrderState.OPEN

        await until(found)

    run(test)


# ---- pacing -------------------------------------------------------------------------------------------


def test_requests_are_paced_below_the_gateway_limit() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        sent, refused = 0, None
        for n in range(10):
            try:
                await conn.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 10 - n, 1), f"p-{n}", "SPY")
            except RateLimitError as e:
                refused = e
                break
            sent += 1
        assert 0 < sent < 5
        assert refused is not None
        assert refused.retry_after_ns is not None
        assert refused.retry_after_ns > CLOCK.now_ns()
        assert len(orders_at(server)) == sent
        assert server.dropped_messages == 0
        await conn.cancel("p-0")  # cancels may use the reserve
        assert (await conn.query("p-0")) is not None

    run(test, instruments=["SPY"], market_data=False, max_messages_per_second=5)


# ---- a later session, and the engine -------------------------------------------------------------------


def test_a_new_session_of_the_same_client_id_sees_earlier_orders_and_fills() -> None:
    async def go() -> None:
        server = IbkrSimServer(seed=3, step_ms=0)
        await server.start()
        first = IbkrConnector(instruments=["SPY"], clock=CLOCK, port=server.port, client_id=21, timeout_s=2)
        second = IbkrConnector(instruments=["SPY"], clock=CLOCK, port=server.port, client_id=21, timeout_s=2)
        try:
            await first.connect()
            spec = first.trading_spec("SPY")
            bid, ask = server.top("SPY")
            await first.submit(
                approve(spec, "SPY", Side.BUY, cents(ask), 7, tif=TimeInForce.IOC), "e-1", "SPY"
            )
            await first.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 9, 3), "e-2", "SPY")
            await next_of(first, FillReport)
            await first.close()
            await second.connect()
            done = await second.query("e-1")
            assert done is not None
            assert (done.state, done.filled, done.qty) == (OrderState.FILLED, 7, 7)
            assert [r.client_id for r in await second.open_orders()] == ["e-2"]
            [fill] = await second.fills_since(0)
            assert (fill.client_id, fill.qty, fill.fee) == ("e-1", 7, Decimal("1.0"))
            assert await second.positions() == {"SPY": 7}
            with pytest.raises(InvalidOrderError, match="already used"):
                await second.submit(approve(spec, "SPY", Side.BUY, cents(bid) - 9, 3), "e-2", "SPY")
        finally:
            await first.close()
            await second.close()
            await server.stop()

    asyncio.run(LiveClock().wait_for(go(), 10))


def test_the_engine_trades_through_the_gateway_and_shuts_down_clean() -> None:
    async def go() -> None:
        server = IbkrSimServer(seed=4, step_ms=20)
        await server.start()
        conn = IbkrConnector(instruments=["SPY"], clock=CLOCK, port=server.port, client_id=31, timeout_s=2)
        bid, ask = server.top("SPY")
        info = InstrumentInfo("SPY", "SPY", "USD", "0.01", "1", "1", "0")
        strategy, config = sized_market_maker(info, (bid + ask) / 2, min_spread_bps=1.0)
        engine = Engine(conn, strategy, journal=Journal(":memory:"), clock=CLOCK, config=config)
        try:
            summary = await engine.run(1.5)
        finally:
            await conn.close()
            await server.stop()
        assert summary.orders > 0
        assert summary.open_orders_after_shutdown == 0
        orders = orders_at(server)
        refs = [o["orderRef"] for o in orders]
        assert len(refs) == len(set(refs)), "no client order id sent twice"
        assert [o for o in orders if o["status"] == "Submitted"] == []
        for o in orders:  # journal and venue agree
            assert engine.ledger.orders[o["orderRef"]].filled == o["filled"]

    asyncio.run(LiveClock().wait_for(go(), 15))


# ---- account values and executions --------------------------------------------------------------------


def test_account_values_follow_a_fill() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        before = await conn.account_values()
        assert before["TotalCashValue"] == before["NetLiquidation"] == Decimal(1_000_000)
        assert before["BuyingPower"] == Decimal(4_000_000)
        assert before["GrossPositionValue"] == 0
        assert "AccountType" not in before  # text values are not numbers
        spec = conn.trading_spec("SPY")
        _, ask = server.top("SPY")
        await conn.submit(approve(spec, "SPY", Side.BUY, cents(ask), 40, tif=TimeInForce.IOC), "v-1", "SPY")
        fill = await next_of(conn, FillReport)
        assert (fill.qty, fill.price) == (40, cents(ask))
        cash: Decimal = Decimal(1_000_000) - 40 * ask - fill.fee  # notional and commission

        async def settled() -> bool:
            return (await conn.account_values())["TotalCashValue"] == cash

        await until(settled)
        values = await conn.account_values()
        assert values["TotalCashValue"] == Decimal(server.state()["accounts"][ACCOUNT]["cash"])
        at_sim = server.account_values(server.accounts[ACCOUNT])
        for tag in (
            "NetLiquidation",
            "GrossPositionValue",
            "BuyingPower",
            "AvailableFunds",
            "ExcessLiquidity",
        ):
            assert values[tag] == at_sim[tag].quantize(CENT), tag
        bid, ask_now = server.top("SPY")
        assert values["GrossPositionValue"] == (40 * (bid + ask_now) / 2).quantize(CENT)
        assert values["NetLiquidation"] == cash + values["GrossPositionValue"]

    run(test)


def test_account_values_are_the_base_currency_ones() -> None:
    def av(tag: str, value: str, currency: str) -> AccountValue:
        return AccountValue(ACCOUNT, tag, value, currency, "")

    values = base_currency_values(
        [
            av("AccountType", "INDIVIDUAL", ""),
            av("NetLiquidation", "1050.25", "USD"),
            av("TotalCashBalance", "900.00", "USD"),  # the USD cash alone ...
            av("TotalCashBalance", "1000.50", "BASE"),  # ... and every currency's, in the base one
            av("TotalCashBalance", "90.00", "EUR"),
            av("BuyingPower", "4201", "USD"),
            av("Cushion", "0.95", ""),
        ]
    )
    assert values == {
        "NetLiquidation": Decimal("1050.25"),
        "TotalCashBalance": Decimal("1000.50"),
        "BuyingPower": Decimal(4201),
    }


def test_executions_carry_our_order_ref_and_the_commission() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        t0 = CLOCK.now_ns()
        spec = conn.trading_spec("SPY")
        _, ask = server.top("SPY")
        await conn.submit(
            approve(spec, "SPY", Side.BUY, cents(ask) + 5, 700, tif=TimeInForce.IOC), "x-1", "SPY"
        )
        await conn.submit(approve(spec, "SPY", Side.SELL, cents(ask) + 40, 20), "x-2", "SPY")
        server.hit("SPY", "BUY", 100_000, price=ask + Decimal("0.40"))  # takes x-2 as a maker
        await next_of(conn, FillReport, lambda f: f.client_id == "x-2")
        at_sim = server.state()["accounts"][ACCOUNT]["executions"]
        assert len(at_sim) >= 2
        execs = await conn.executions()
        assert all(isinstance(x, IbExecution) for x in execs)
        assert [
            (x.exec_id, x.order_ref, x.symbol, x.side, x.shares, x.price, x.commission) for x in execs
        ] == [
            (
                e["execId"],
                e["orderRef"],
                e["symbol"],
                Side.BUY if e["side"] == "BOT" else Side.SELL,
                Decimal(e["shares"]),
                Decimal(e["price"]),
                Decimal(e["commission"]),
            )
            for e in at_sim
        ]
        assert {x.order_ref for x in execs} == {"x-1", "x-2"}
        [x1] = [o for o in orders_at(server) if o["orderRef"] == "x-1"]
        assert sum(x.shares for x in execs if x.order_ref == "x-1") == x1["filled"] > 0
        assert all(x.commission_currency == "USD" for x in execs)
        assert any(x.commission != Decimal(1) for x in execs)  # not only the minimum
        now = CLOCK.now_ns()
        assert all(t0 - 1_000_000_000 <= x.time_ns <= now for x in execs)
        assert all(x.perm_id > 0 for x in execs)
        assert await conn.executions(since_ns=now + 2_000_000_000) == []
        assert await conn.executions(since_ns=t0) == execs
        fills = {f.trade_id: f for f in await conn.fills_since(0)}
        for x in execs:
            assert (fills[x.exec_id].fee, fills[x.exec_id].qty) == (x.commission, int(x.shares))

    run(test)
