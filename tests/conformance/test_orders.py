"""The connector contract, for every venue against its simulator: each order path the venue offers (a
resting limit, post-only, a marketable IOC with a fill, a market order), cancel and cancel-all, query by
client order id (None for an id never sent), open orders, fills_since and positions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.harness import Harness, Need, next_event
from trader.core import OrderType, Side, TimeInForce
from trader.errors import InsufficientFundsError, InvalidOrderError, VenueError
from trader.venues.base import Connector, FillReport, OrderReport, OrderState, VenueEvent


def report_of(client_id: str, state: OrderState | None = None) -> Callable[[VenueEvent], bool]:
    return lambda e: (
        isinstance(e, OrderReport) and e.client_id == client_id and (state is None or e.state is state)
    )


def fill_of(client_id: str) -> Callable[[VenueEvent], bool]:
    return lambda e: isinstance(e, FillReport) and e.client_id == client_id


# ---- a resting limit: ack, private stream, query, open orders, cancel -------------------------------


async def resting_limit(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        assert isinstance(conn, Connector)
        top = await h.top(live)
        assert top[0] < top[1]
        price = h.rest_price(live, top)
        ack = await conn.submit(h.approve(live, Side.BUY, price, h.rest_qty(live)), "conf-rest", live.symbol)
        assert ack.client_id == "conf-rest"
        opened = await next_event(conn, report_of("conf-rest"))
        assert (opened.state, opened.price, opened.qty, opened.filled) == (
            OrderState.OPEN,
            price,
            h.rest_qty(live),
            0,
        )
        assert opened.venue_order_id == ack.venue_order_id
        seen = await conn.query("conf-rest")
        assert seen is not None
        assert seen.state is OrderState.OPEN
        assert [o.client_id for o in await conn.open_orders()] == ["conf-rest"]
        await conn.cancel("conf-rest")
        closed = await conn.query("conf-rest")
        assert closed is not None
        assert closed.state is OrderState.CANCELED
        assert await conn.query("never-sent") is None
        assert await conn.open_orders() == []


@pytest.mark.parametrize("case", venues(Need.LIMIT))
def test_resting_limit_is_acked_reported_queried_and_canceled(case: Case) -> None:
    case.run(resting_limit)


# ---- post-only: rests away from the touch, refused when it would take --------------------------------


async def post_only(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        far = h.rest_price(live, top)
        a = h.approve(live, Side.BUY, far, h.rest_qty(live), post_only=True)
        await conn.submit(a, "conf-po", live.symbol)
        opened = await next_event(conn, report_of("conf-po"))
        assert opened.state is OrderState.OPEN
        await h.provide_liquidity(live, top)
        crossing = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live), post_only=True)
        sent = h.order_requests(live)
        with pytest.raises(InvalidOrderError):
            await conn.submit(crossing, "conf-po-x", live.symbol)
        assert h.order_requests(live) == sent + 1  # the venue's own refusal
        refused = await conn.query("conf-po-x")
        assert refused is None or refused.state in (OrderState.REJECTED, OrderState.EXPIRED)
        assert refused is None or refused.filled == 0
        assert [o.client_id for o in await conn.open_orders()] == ["conf-po"]
        await conn.cancel("conf-po")


@pytest.mark.parametrize("case", venues(Need.LIMIT, Need.POST_ONLY))
def test_post_only_rests_and_is_refused_when_it_would_take(case: Case) -> None:
    case.run(post_only)


# ---- a marketable IOC: a fill on the stream and by REST, the position moves -----------------------------


async def marketable_ioc(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        before = await h.position(live)
        await h.provide_liquidity(live, top)
        qty = h.take_qty(live)
        limit = h.take_price(live, top)
        a = h.approve(live, Side.BUY, limit, qty, tif=TimeInForce.IOC)
        await conn.submit(a, "conf-take", live.symbol)
        fill = await next_event(conn, fill_of("conf-take"))
        assert (fill.side, fill.maker, fill.instrument) == (Side.BUY, False, live.symbol)
        assert fill.fee >= 0
        assert fill.ts_recv > 0
        rest = [f for f in await conn.fills_since(0) if f.client_id == "conf-take"]
        assert fill.trade_id in {f.trade_id for f in rest}
        filled = sum(f.qty for f in rest)
        assert 0 < filled <= h.max_buy_fill(qty, limit, [f.price for f in rest])
        assert all(f.price <= limit for f in rest)
        done = await conn.query("conf-take")
        assert done is not None
        assert done.filled == filled
        assert done.state in (OrderState.FILLED, OrderState.EXPIRED, OrderState.CANCELED)
        assert await h.position(live) == before + filled
        assert await conn.open_orders() == []


@pytest.mark.parametrize("case", venues(Need.IOC))
def test_marketable_ioc_fills_and_moves_the_position(case: Case) -> None:
    case.run(marketable_ioc)


# ---- a market order ------------------------------------------------------------------------------------


async def market_order(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        before = await h.position(live)
        await h.provide_liquidity(live, top)
        a = h.approve(live, Side.BUY, 0, h.take_qty(live), ref=top, order_type=OrderType.MARKET)
        await conn.submit(a, "conf-mkt", live.symbol)
        fill = await next_event(conn, fill_of("conf-mkt"))
        assert (fill.side, fill.maker) == (Side.BUY, False)
        fills = [f for f in await conn.fills_since(0) if f.client_id == "conf-mkt"]
        assert fill.trade_id in {f.trade_id for f in fills}
        filled = sum(f.qty for f in fills)
        assert filled > 0
        assert await h.position(live) == before + filled
        assert await conn.open_orders() == []


@pytest.mark.parametrize("case", venues(Need.MARKET))
def test_market_order_fills_and_moves_the_position(case: Case) -> None:
    case.run(market_order)


# ---- cancel-all --------------------------------------------------------------------------------------


async def cancel_all(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        assert await conn.cancel_all(live.symbol) == 0
        for k in range(2):
            price = h.rest_price(live, top, k + 1)
            a = h.approve(live, Side.BUY, price, h.rest_qty(live))
            await conn.submit(a, f"conf-all-{k}", live.symbol)
        assert sorted(o.client_id for o in await conn.open_orders()) == ["conf-all-0", "conf-all-1"]
        assert await conn.cancel_all(live.symbol) == 2
        assert await conn.open_orders() == []
        for k in range(2):
            gone = await conn.query(f"conf-all-{k}")
            assert gone is not None
            assert gone.state is OrderState.CANCELED


@pytest.mark.parametrize("case", venues(Need.LIMIT, Need.CANCEL_ALL))
def test_cancel_all_cancels_every_resting_order(case: Case) -> None:
    case.run(cancel_all)


# ---- a definitive refusal ----------------------------------------------------------------------------


async def refused(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        before = await h.position(live)
        a = await h.refused_order(live, top)
        with pytest.raises(VenueError) as e:
            await conn.submit(a, "rej-1", live.symbol)
        assert isinstance(e.value, InvalidOrderError | InsufficientFundsError), repr(e.value)
        assert not e.value.retryable
        report = await conn.query("rej-1")
        assert report is None or (report.state, report.filled) == (OrderState.REJECTED, 0)
        assert "rej-1" not in {o.client_id for o in await conn.open_orders()}
        assert await h.position(live) == before


@pytest.mark.parametrize("case", venues(Need.LIMIT))
def test_a_definitive_refusal_is_typed_and_nothing_rests(case: Case) -> None:
    case.run(refused)
