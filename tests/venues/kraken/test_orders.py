"""Kraken order entry beyond one order: AmendOrder (in place, the same txid), AddOrderBatch (a JSON body)
and their WebSocket v2 forms (`amend_order`, `batch_add`); Kraken's rate counters as the simulator keeps
them (`EAPI:Rate limit exceeded`, `EOrder:Rate limit exceeded`) and as the connector mirrors them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock, SimClock
from trader.core import Approval, Side
from trader.errors import InvalidOrderError, OrderNotFoundError, RateLimitError
from trader.sim.kraken import KrakenSimServer
from trader.venues.base import OrderReport, OrderState, SubmitAck
from trader.venues.kraken import KrakenConnector, loopback_connector
from trader.venues.kraken.ratelimit import Counters, amend_cost, cancel_cost

WALL = LiveClock()
XBT = "XBTUSD"


class JumpClock(LiveClock):
    """Wall time plus what the connector slept: its waits for the rate counters take no wall time."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def now_ns(self) -> int:
        return super().now_ns() + self.offset_ns

    async def sleep(self, seconds: float) -> None:
        self.offset_ns += int(seconds * 1e9)
        await super().sleep(0)


class SeesJumps(LiveClock):
    """The simulator's clock: the jumped time, real sleeps (its market steps in real time)."""

    def __init__(self, jump: JumpClock) -> None:
        self.jump = jump

    def now_ns(self) -> int:
        return self.jump.now_ns()


@asynccontextmanager
async def venue(
    *, sim_options: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[tuple[KrakenSimServer, KrakenConnector]]:
    clock = options.pop("clock", WALL)
    sim = KrakenSimServer(seed=5, step_ms=20, clock=options.pop("sim_clock", clock), **(sim_options or {}))
    await sim.start(port=0)
    options.setdefault("market_data", False)
    options.setdefault("dead_man_s", 0)
    conn = loopback_connector(sim.url, symbols=[XBT, "ETHUSD"], clock=clock, **options)
    try:
        await conn.connect()
        yield sim, conn
    finally:
        await conn.close()
        await sim.stop()


def buy(conn: KrakenConnector, sim: KrakenSimServer, below: int, qty: int = 100_000) -> Approval:
    bid, _ = sim.top()
    return gate_approval(
        conn.spec(XBT), XBT, Side.BUY, bid - below, qty, bid=bid, ask=bid + 1, now_ns=WALL.now_ns()
    )


async def report(conn: KrakenConnector, match: Callable[[OrderReport], bool]) -> OrderReport:
    async def wait() -> OrderReport:
        async for ev in conn.events():
            if isinstance(ev, OrderReport) and match(ev):
                return ev
        raise AssertionError("stream ended")

    return await WALL.wait_for(wait(), 5.0)


async def until_refused(
    attempt: Callable[[int], Awaitable[Any]], most: int = 70
) -> tuple[int, RateLimitError]:
    """How many `attempt(n)` went through before one was refused for the rate, and that refusal."""
    for n in range(most):
        try:
            await attempt(n)
        except RateLimitError as e:
            return n, e
    raise AssertionError(f"{most} went through")


def run(body: Callable[[], Any]) -> None:
    asyncio.run(WALL.wait_for(body(), 20))


@pytest.mark.parametrize("ws_orders", [False, True])
def test_an_amend_keeps_the_order_id(ws_orders: bool) -> None:
    async def body() -> None:
        async with venue(ws_orders=ws_orders) as (sim, conn):
            ack = await conn.submit(buy(conn, sim, 500), "k-am", XBT)
            o = sim.orders[ack.venue_order_id]
            await conn.amend("k-am", qty=60_000)  # smaller, same price: keeps its place
            assert (o.txid, o.vol, o.status) == (ack.venue_order_id, 60_000, "open")
            seen = await report(conn, lambda r: r.client_id == "k-am" and r.qty == 60_000)
            assert (seen.venue_order_id, seen.state) == (ack.venue_order_id, OrderState.OPEN)
            price = o.price - 10 if o.price is not None else 0
            await conn.amend("k-am", price=price, qty=70_000)
            assert (o.price, o.vol) == (price, 70_000)
            r = await conn.query("k-am")
            assert r is not None
            assert (r.venue_order_id, r.price, r.qty) == (ack.venue_order_id, price, 70_000)
            paths = ("POST /0/private/AmendOrder", "POST /0/private/EditOrder", "POST /0/private/AddOrder")
            assert [sim.requests[p] for p in paths] == ([0, 0, 0] if ws_orders else [2, 0, 1])
            with pytest.raises(InvalidOrderError):
                await conn.amend("k-am")  # nothing to change: refused before sending
            with pytest.raises(InvalidOrderError, match="minimum"):
                await conn.amend("k-am", qty=10)  # under the pair's order minimum
            await conn.cancel("k-am")
            with pytest.raises(OrderNotFoundError):
                await conn.amend("k-am", qty=50_000)

    run(body)


@pytest.mark.parametrize("ws_orders", [False, True])
def test_a_batch_of_one_pair_in_one_request(ws_orders: bool) -> None:
    async def body() -> None:
        async with venue(ws_orders=ws_orders) as (sim, conn):
            orders = [(buy(conn, sim, 500 + i), f"k-b{i}", XBT) for i in range(3)]
            eth = conn.spec("ETHUSD")
            top = sim.top("ETHUSD")[0]
            lone = gate_approval(
                eth, "ETHUSD", Side.BUY, top - 500, 1_000_000, bid=top, ask=top + 1, now_ns=WALL.now_ns()
            )
            out = await conn.submit_batch([*orders, (lone, "k-eth", "ETHUSD")])
            assert [type(r) for r in out] == [SubmitAck] * 4
            acks = [r for r in out if isinstance(r, SubmitAck)]
            assert [a.client_id for a in acks] == ["k-b0", "k-b1", "k-b2", "k-eth"]
            for a in acks:
                assert sim.orders[a.venue_order_id].cl_ord_id == a.client_id
            rest = "POST /0/private/AddOrderBatch", "POST /0/private/AddOrder"
            assert [sim.requests[p] for p in rest] == ([0, 0] if ws_orders else [1, 1])
            # the engine refuses one order (post-only that would take): the others stand
            _, ask = sim.top()
            taker = gate_approval(
                conn.spec(XBT), XBT, Side.BUY, ask, 100_000, bid=ask - 1, ask=ask, now_ns=WALL.now_ns(),
                post_only=True,
            )  # fmt: skip
            mixed = await conn.submit_batch([(buy(conn, sim, 700), "k-ok", XBT), (taker, "k-post", XBT)])
            assert isinstance(mixed[0], SubmitAck)
            assert isinstance(mixed[1], InvalidOrderError)
            assert "Post only" in str(mixed[1])
            # one invalid order refuses the whole batch, nothing placed: k-b0 is open already
            before = len(sim.orders)
            with pytest.raises(InvalidOrderError, match="Duplicate"):
                await conn.submit_batch(
                    [(buy(conn, sim, 800), "k-x1", XBT), (buy(conn, sim, 801), "k-b0", XBT)]
                )
            assert len(sim.orders) == before
            with pytest.raises(InvalidOrderError, match="repeat"):
                await conn.submit_batch([orders[0], orders[0]])

    run(body)


def test_the_simulator_keeps_krakens_counters() -> None:
    """A client that does not count (no local counters) meets Kraken's refusals, typed."""

    async def body() -> None:
        async with venue(sim_options={"rate_tier": "starter"}, rate_tier=None) as (sim, conn):
            reads, rest = await until_refused(lambda _: conn.positions())
            assert reads == 13  # Balance: +1 each on a counter of 15, 2 spent connecting
            assert rest.code == "EAPI:Rate limit exceeded"
            placed, orders = await until_refused(
                lambda n: conn.submit(buy(conn, sim, 500 + n, 10_000), f"k-{n}", XBT)
            )
            assert orders.code == "EOrder:Rate limit exceeded"
            assert 60 <= placed <= 62  # the starter threshold, plus what decayed meanwhile
            with pytest.raises(RateLimitError, match="EOrder:Rate limit"):
                await conn.cancel("k-0")  # a young order's cancel costs 8: refused, not canceled
            assert sim.orders[conn._ids["k-0"]].status == "open"
            eth = await conn.public("/0/public/Time")  # public calls are not the key's counter
            assert eth["unixtime"] > 0

    run(body)


def test_the_connector_mirrors_the_counters_and_never_trips_them() -> None:
    async def body() -> None:
        clock = JumpClock()
        async with venue(
            sim_options={"rate_tier": "starter"}, rate_tier="starter", clock=clock, sim_clock=SeesJumps(clock)
        ) as (sim, conn):
            start = clock.now_ns()
            for _ in range(25):  # reads wait their turn (here: the clock jumps)
                await conn.positions()
            waited = (clock.now_ns() - start) / 1e9
            assert waited > (2 + 25 + 3 - 15) / 0.33 - 2  # what Kraken's counter needed to decay
            placed, refused = await until_refused(
                lambda n: conn.submit(buy(conn, sim, 500 + n, 10_000), f"k-{n}", XBT)
            )
            assert refused.code == "local"
            assert placed == 51  # 60 less the margin (1) and the room kept for a young order's cancel (8)
            assert sim.requests["POST /0/private/AddOrder"] == placed
            await conn.cancel("k-0")  # the room kept for a young order's cancel
            with pytest.raises(RateLimitError, match="local"):
                await conn.amend("k-1", qty=20_000)  # a young order's amend (+4) does not fit now
            clock.offset_ns += 60 * 1_000_000_000  # a minute later the counter has decayed
            await conn.amend("k-1", qty=20_000)
            assert sim.orders[conn._ids["k-1"]].vol == 20_000
            await conn.submit(buy(conn, sim, 300, 10_000), "k-later", XBT)

    run(body)


def test_the_order_costs_by_age() -> None:
    s = 1_000_000_000
    assert [cancel_cost(a * s) for a in (0, 5, 10, 14, 44, 89, 299, 300)] == [8, 6, 5, 5, 4, 2, 1, 0]
    assert [amend_cost(a * s) for a in (0, 5, 10, 15)] == [4, 3, 2, 1]
    clock = SimClock()
    c = Counters("starter", clock)
    for _ in range(51):  # 60 - 1 (margin) - 8 (a cancel's room)
        c.order(XBT, 1, "AddOrder")
    with pytest.raises(RateLimitError) as e:
        c.order(XBT, 1, "AddOrder")
    assert e.value.retry_after_ns == clock.now_ns() + 1_000_000_001
    c.order("ETHUSD", 1, "AddOrder")  # another pair, another counter
    c.cancel(XBT, "never-placed")  # unknown age: the dearest, and never refused
    assert c.trading[XBT].value(clock.now_ns()) == 59
    clock.advance(59 * s)
    assert c.trading[XBT].value(clock.now_ns()) == 0
    with pytest.raises(ValueError, match="rate_tier"):
        Counters("platinum", clock)


def test_an_order_whose_socket_answer_is_lost_is_unknown_and_not_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """WebSocket order entry: the venue placed the order and the socket dropped before its answer. The
    connector says it does not know (`UnknownOutcomeError`), sends nothing again, and the order is found
    by its client id."""
    from aiohttp import web

    from trader.errors import UnknownOutcomeError
    from trader.sim.kraken import ws as sim_ws

    answered = sim_ws._private_request

    async def lose_the_answer(sim: KrakenSimServer, ws: web.WebSocketResponse, msg: Any) -> None:
        if msg.get("method") != "add_order":
            await answered(sim, ws, msg)
            return
        key = sim.tokens[str(msg["params"]["token"])]
        sim.place(key, sim_ws._order_fields(msg["params"]))
        await ws.close()

    monkeypatch.setattr(sim_ws, "_private_request", lose_the_answer)

    async def body() -> None:
        async with venue(order_entry="ws") as (sim, conn):
            with pytest.raises(UnknownOutcomeError):
                await conn.submit(buy(conn, sim, 500), "k-lost", XBT)
            placed = [o for o in sim.orders.values() if o.cl_ord_id == "k-lost"]
            assert len(placed) == 1  # placed once, never resent
            r = await conn.query("k-lost")
            assert r is not None
            assert (r.venue_order_id, r.state) == (placed[0].txid, OrderState.OPEN)

    run(body)
