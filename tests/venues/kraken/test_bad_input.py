"""Bad input on Kraken's paths: a malformed book message (nothing changes), a checksum mismatch (the book
resyncs), an unknown pair (refused before sending), a nonce another client of the key took (signed
again, or a typed refusal) and garbage on the private socket: a typed error or a resync, never an order
sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Book, BookNotReadyError, BookState, ParseError, Side
from trader.errors import AuthenticationError, InvalidOrderError
from trader.sim.kraken import DEMO_KEY, KrakenSimServer
from trader.venues.base import OrderReport, OrderState
from trader.venues.kraken import KrakenConnector, loopback_connector, parse

WALL = LiveClock()
FIXTURE = (Path(__file__).parent / "fixtures" / "book_doc_example.json").read_bytes()
XBT = "XBTUSD"


class StoppedClock(LiveClock):
    """A host clock an hour back that does not move (real sleeps): the signer counts up from its last."""

    def __init__(self) -> None:
        self.at_ns = super().now_ns() - 3_600_000_000_000

    def now_ns(self) -> int:
        return self.at_ns


@asynccontextmanager
async def venue(**options: Any) -> AsyncIterator[tuple[KrakenSimServer, KrakenConnector]]:
    sim = KrakenSimServer(seed=5, step_ms=20)
    await sim.start(port=0)
    options.setdefault("market_data", False)
    options.setdefault("dead_man_s", 0)
    conn = loopback_connector(sim.url, symbols=[XBT], clock=options.pop("clock", WALL), **options)
    try:
        await conn.connect()
        yield sim, conn
    finally:
        await conn.close()
        await sim.stop()


def run(body: Callable[[], Any]) -> None:
    asyncio.run(WALL.wait_for(body(), 20))


def docs_book() -> tuple[Book, parse.PairInfo]:
    import json

    from tests.venues.kraken.test_parse import pair

    p = pair()
    book = Book(p.info.spec())
    assert json.loads(FIXTURE)["data"][0]["symbol"] == p.symbol
    return book, p


def test_a_malformed_book_message_changes_nothing_and_a_mismatch_resyncs() -> None:
    book, p = docs_book()
    r = book.apply_kraken_book(FIXTURE, p.symbol, 10, p.price_decimals, p.qty_decimals)
    assert r == (True, 20, 0, True)
    top = book.best_bid(), book.best_ask()
    for bad in (
        b"{not json",
        FIXTURE.replace(b',"checksum":3310070434', b""),  # no checksum
        FIXTURE.replace(b'"price":45283.5', b'"price":"x"'),
        FIXTURE.replace(b'"price":45283.5', b'"price":45283.55'),  # off the pair's tick
        FIXTURE.replace(b'"qty":0.10000000', b'"qty":-1', 1),
        FIXTURE[:-3],  # cut short
    ):
        with pytest.raises(ParseError):
            book.apply_kraken_book(bad, p.symbol, 10, p.price_decimals, p.qty_decimals)
        assert (book.best_bid(), book.best_ask(), book.state) == (*top, BookState.VALID)
    # another symbol's message, or another channel: not ours, nothing happens
    assert book.apply_kraken_book(FIXTURE, "ETH/USD", 10, 1, 8) is None
    assert book.apply_kraken_book(b'{"channel":"heartbeat"}', p.symbol, 10, 1, 8) is None
    wrong = FIXTURE.replace(b'"type":"snapshot"', b'"type":"update"').replace(b"3310070434", b"1")
    r = book.apply_kraken_book(wrong, p.symbol, 10, p.price_decimals, p.qty_decimals)
    assert r is not None
    assert r[3] is False
    assert book.state == BookState.RESYNCING  # nothing trades off it until a new snapshot
    update = FIXTURE.replace(b'"type":"snapshot"', b'"type":"update"')
    with pytest.raises(BookNotReadyError):
        book.apply_kraken_book(update, p.symbol, 10, p.price_decimals, p.qty_decimals)
    assert book.apply_kraken_book(FIXTURE, p.symbol, 10, p.price_decimals, p.qty_decimals) == (
        True,
        20,
        0,
        True,
    )  # a fresh snapshot
    assert book.state == BookState.VALID


def test_an_unknown_pair_is_refused_before_sending() -> None:
    async def body() -> None:
        async with venue() as (sim, conn):
            bid, _ = sim.top()
            a = gate_approval(
                conn.spec(XBT),
                "NOPEUSD",
                Side.BUY,
                bid - 500,
                100_000,
                bid=bid,
                ask=bid + 1,
                now_ns=WALL.now_ns(),
            )
            with pytest.raises(InvalidOrderError, match="unknown instrument NOPEUSD"):
                await conn.submit(a, "k-nope", "NOPEUSD")
            with pytest.raises(InvalidOrderError, match="unknown instrument NOPEUSD"):
                await conn.submit_batch([(a, "k-n1", "NOPEUSD"), (a, "k-n2", "NOPEUSD")])
            assert (
                sim.requests["POST /0/private/AddOrder"] == sim.requests["POST /0/private/AddOrderBatch"] == 0
            )

    run(body)


def test_a_nonce_another_client_took_is_signed_again_and_the_order_placed_once() -> None:
    """Kraken refuses a nonce not above the key's last before acting: signing again is safe, and the
    order is placed once. Here the clock is an hour back and stopped, so the signer counts up by one."""

    async def body() -> None:
        async with venue(clock=StoppedClock()) as (sim, conn):
            sim.accounts[DEMO_KEY].last_nonce = conn.last_nonce + 2  # another client signed two ahead
            bid, _ = sim.top()
            a = gate_approval(
                conn.spec(XBT), XBT, Side.BUY, bid - 500, 100_000, bid=bid, ask=bid + 1, now_ns=WALL.now_ns()
            )
            ack = await conn.submit(a, "k-once", XBT)
            assert sim.requests["POST /0/private/AddOrder"] == 3  # two refused (nothing done), one placed
            placed = [o for o in sim.orders.values() if o.cl_ord_id == "k-once"]
            assert [o.txid for o in placed] == [ack.venue_order_id]

    run(body)


def test_a_nonce_far_ahead_is_a_typed_refusal_and_nothing_is_placed() -> None:
    async def body() -> None:
        async with venue() as (sim, conn):
            sim.accounts[DEMO_KEY].last_nonce = conn.last_nonce + 10_000_000  # hours ahead
            bid, _ = sim.top()
            a = gate_approval(
                conn.spec(XBT), XBT, Side.BUY, bid - 500, 100_000, bid=bid, ask=bid + 1, now_ns=WALL.now_ns()
            )
            with pytest.raises(AuthenticationError, match="Invalid nonce") as e:
                await conn.submit(a, "k-never", XBT)
            assert e.value.code == "EAPI:Invalid nonce"
            assert sim.requests["POST /0/private/AddOrder"] == 4  # the first and three more, each refused
            assert [o for o in sim.orders.values() if o.cl_ord_id == "k-never"] == []

    run(body)


def test_garbage_on_the_private_socket_is_skipped() -> None:
    async def body() -> None:
        async with venue() as (sim, conn):
            for ws in list(sim.private):
                sim.send(ws, b"{not json")
                sim.send(ws, b'{"channel":"executions","type":"update","data":[{"symbol":"BTC/USD"}]}')
                sim.send(
                    ws,
                    b'{"channel":"executions","type":"update","data":[{"order_id":"O1","symbol":"BTC/USD",'
                    b'"order_qty":"x","side":"buy","exec_type":"new"}]}',
                )
            bid, _ = sim.top()
            a = gate_approval(
                conn.spec(XBT), XBT, Side.BUY, bid - 500, 100_000, bid=bid, ask=bid + 1, now_ns=WALL.now_ns()
            )
            await conn.submit(a, "k-after", XBT)

            async def seen() -> OrderReport:
                async for ev in conn.events():
                    if isinstance(ev, OrderReport) and ev.client_id == "k-after":
                        return ev
                raise AssertionError("stream ended")

            r = await WALL.wait_for(seen(), 5.0)  # the stream carried on
            assert r.state is OrderState.OPEN

    run(body)
