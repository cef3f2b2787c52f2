"""IBKR's order rehearsal (issue 18, `trader.venues.base.Rehearses`) against the loopback IB Gateway: what it
builds is what `submit` then hands to ib_async (the qualified `Contract` and the `Order`, field for field,
as ib_async received them), and rehearsing sends no message, takes no order id from ib_async, uses no
pacing quota and remembers nothing. There are no request bytes to compare: ib_async builds the TWS message
inside `placeOrder` and sends it in the same call."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import pytest
from ib_async import Contract, Order

from tests.venues.ibkr.harness import approve, cents, orders_at, run
from trader.core import OrderType, Side, TimeInForce
from trader.errors import InvalidOrderError
from trader.sim.ibkr import IbkrSimServer
from trader.venues.base import Rehearses
from trader.venues.ibkr import IbkrConnector, orders
from trader.venues.ibkr.orders import fields_set


def spy_placements(conn: IbkrConnector, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, Contract, Order]]:
    """What ib_async's client is asked to place: (order id, contract, order), copied at the call (ib_async
    and the Gateway's answers change the objects afterwards)."""
    placed: list[tuple[int, Contract, Order]] = []
    place = conn.ib.client.placeOrder

    def spy(order_id: int, contract: Contract, order: Order) -> Any:
        placed.append((order_id, copy.deepcopy(contract), copy.deepcopy(order)))
        return place(order_id, contract, order)  # type: ignore[no-untyped-call]  # ib_async 2.1: unannotated

    monkeypatch.setattr(conn.ib.client, "placeOrder", spy)
    return placed


def spy_rehearsals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Contract, Order]]:
    """The contract and order each rehearsal built (as it measured them), copied."""
    built: list[tuple[Contract, Order]] = []
    measure = orders.fields_set

    def spy(contract: Contract, order: Order) -> int:
        built.append((copy.deepcopy(contract), copy.deepcopy(order)))
        return measure(contract, order)

    monkeypatch.setattr(orders, "fields_set", spy)
    return built


@pytest.mark.parametrize("kind", ["limit", "market"])
def test_ibkr_rehearses_the_very_contract_and_order_it_then_places(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        assert isinstance(conn, Rehearses)
        spec = conn.trading_spec("SPY")
        bid, _ = server.top("SPY")
        if kind == "limit":
            action, a = "BUY", approve(spec, "SPY", Side.BUY, cents(bid) - 25, 7)
        else:
            mkt, ioc = OrderType.MARKET, TimeInForce.IOC
            action, a = "SELL", approve(spec, "SPY", Side.SELL, cents(bid), 7, order_type=mkt, tif=ioc)
        built = spy_rehearsals(monkeypatch)
        placed = spy_placements(conn, monkeypatch)
        next_id = conn.ib.client._reqIdSeq
        size = conn.rehearse(a, "r-1", "SPY")
        assert conn.ib.client._reqIdSeq == next_id, "no order id taken"
        assert not placed
        assert not orders_at(server)
        await conn.submit(a, "r-1", "SPY")
        [(rehearsed_contract, rehearsed_order)] = built
        [(order_id, contract, order)] = placed
        assert order_id == next_id, "the order placed took the id the rehearsal left"
        assert dataclasses.asdict(rehearsed_contract) == dataclasses.asdict(contract)
        assert dataclasses.asdict(rehearsed_order) == dataclasses.asdict(order)
        assert (order.orderRef, order.action, order.totalQuantity) == ("r-1", action, 7)
        assert size == fields_set(contract, order) > 0

    run(test)


def test_ibkr_rehearsals_send_take_and_remember_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Five hundred rehearsals: no TWS message written, no order id taken, no pacing quota used, no trade
    tracked, nothing logged. Then the order is placed once under the client id the rehearsals used, and
    rehearsing it again (the engine rehearses the order it last sent) works while a second submit of
    that id is refused."""

    def state(conn: IbkrConnector, now: int) -> tuple[Any, ...]:
        c = conn.ib.client
        usage = conn._limiter.usage(conn._quota, now)
        return c.conn.numMsgSent, c._reqIdSeq, usage, dict(conn._trades), dict(conn._order_errors)

    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        spec = conn.trading_spec("QQQ")
        bid, _ = server.top("QQQ")
        a = approve(spec, "QQQ", Side.BUY, cents(bid) - 40, 3)
        now = conn.clock.now_ns()
        before = state(conn, now)
        with caplog.at_level(logging.DEBUG):
            sizes = {conn.rehearse(a, "r-2", "QQQ") for _ in range(500)}
        assert not caplog.records, "a rehearsal logs nothing"
        assert len(sizes) == 1
        assert sizes.pop() > 0
        assert state(conn, now) == before
        assert not orders_at(server)
        await conn.submit(a, "r-2", "QQQ")
        assert [o["orderRef"] for o in orders_at(server)] == ["r-2"]
        assert conn.rehearse(a, "r-2", "QQQ") > 0, "a used client id: rehearsed all the same"
        with pytest.raises(InvalidOrderError, match="already used"):
            await conn.submit(a, "r-2", "QQQ")
        assert len(orders_at(server)) == 1

    run(test)
