"""The OKX `books` checksum: the core's check on recorded pushes (the docs' examples, in contracts on a swap
book), the simulator's own zlib computation agreeing with the docs, and the connector keeping its book on the
simulator's checksummed pushes and resyncing on a wrong one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from trader.clock import LiveClock
from trader.core import InstrumentSpec, ParseError
from trader.sim.okx import INSTRUMENTS, OkxSimServer
from trader.sim.okx.server import book_checksum
from trader.venues import registry
from trader.venues.base import BookInvalid, BookUpdate
from trader.venues.okx import OkxConnector
from trader.venues.okx.streams import SeqBook

FIX = Path(__file__).parent / "fixtures"
CLOCK = LiveClock()


def pushes() -> list[bytes]:
    return [orjson.dumps(m) for m in json.loads((FIX / "books_checksum.json").read_text())]


def seq_of(book: SeqBook) -> int | None:
    return book.seq


def test_recorded_pushes_with_checksums_in_contracts() -> None:
    """The docs' checksum examples as a swap book: levels in contracts on the wire (1 contract = 0.01
    base), the book in base units; the right checksums pass, a stale one invalidates the book."""
    book = SeqBook()
    book.configure(InstrumentSpec("0.1", "0.01"), Decimal("0.01"))  # base lot 0.01 = 1 contract
    snap, upd, beat, stale = pushes()
    assert book.apply_raw(snap, "BTC-USDT-SWAP") == "snapshot"
    top = book.top("BTC-USDT", 0, 0)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (33661, 7, 33668, 9)
    assert book.apply_raw(upd, "BTC-USDT-SWAP") == "update"
    assert book.apply_raw(beat, "BTC-USDT-SWAP") == "update"
    assert seq_of(book) == 15
    assert book.book is not None
    assert book.book.okx_book_checksum(book.wire) == 831078360
    assert book.apply_raw(stale, "BTC-USDT-SWAP") == "checksum"
    assert seq_of(book) is None
    assert book.top("BTC-USDT", 0, 0).bid is None  # nothing trades off it
    assert book.apply_raw(upd, "BTC-USDT-SWAP") == "waiting"  # until a snapshot
    assert book.apply_raw(snap, "BTC-USDT-SWAP") == "snapshot"
    assert book.apply_raw(snap, "ETH-USDT-SWAP") is None
    trades = {"arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"}, "data": [{"px": "1"}, {"px": "2"}]}
    assert book.apply_raw(orjson.dumps(trades), "BTC-USDT-SWAP") is None  # not a book: decoded elsewhere
    assert seq_of(book) == 10
    with pytest.raises(ParseError):
        book.apply_raw(snap[:-5], "BTC-USDT-SWAP")


def test_the_simulators_checksum_is_the_docs() -> None:
    """Computed with zlib over the simulator's own strings, independently of the core."""
    vectors = json.loads((Path(__file__).parents[2] / "vectors" / "okx_checksum.json").read_text())
    inst = INSTRUMENTS[0]  # tick 0.1; sizes below in lots of 0.0001
    for case in vectors["cases"]:
        bids = {int(Decimal(p) * 10): int(Decimal(q) * 10_000) for p, q in case["bids"]}
        asks = {int(Decimal(p) * 10): int(Decimal(q) * 10_000) for p, q in case["asks"]}
        assert book_checksum(inst, bids, asks) == case["checksum"]


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(CLOCK.wait_for(body(), 20))


async def collect(conn: OkxConnector, n: int, out: list[Any]) -> None:
    async for ev in conn.events():
        out.append(ev)
        if sum(isinstance(e, BookUpdate) for e in out) >= n:
            return


@pytest.mark.parametrize("market", ["spot", "swap"])
def test_the_connector_checks_the_simulators_checksums(market: str) -> None:
    async def body() -> None:
        server = OkxSimServer(seed=3, clock=CLOCK, step_ms=10)
        await server.start(port=0)
        conn = registry.loopback_connector(
            server.url, symbol="BTC-USDT", clock=CLOCK, venue="okx", market=market
        )
        seen: list[Any] = []
        try:
            await conn.connect()
            await CLOCK.wait_for(collect(conn, 30, seen), 10)
            assert not [e for e in seen if isinstance(e, BookInvalid)]
            assert conn.public is not None
            assert conn.public.book.seq is not None
            server.corrupt_checksum = True  # the next push states a wrong checksum
            snapshots = server.book_snapshots
            ev = await CLOCK.wait_for(_first_invalid(conn), 5)
            assert ev.reason == "checksum mismatch"
            seen.clear()
            await CLOCK.wait_for(collect(conn, 5, seen), 5)
            assert server.book_snapshots > snapshots  # resubscribed: a fresh snapshot
            assert conn.public.book.seq is not None
        finally:
            await conn.close()
            await server.stop()

    run(body)


async def _first_invalid(conn: OkxConnector) -> BookInvalid:
    async for ev in conn.events():
        if isinstance(ev, BookInvalid):
            return ev
    raise AssertionError("no BookInvalid")


def test_a_zero_checksum_is_not_checked() -> None:
    """OKX sends `checksum: 0` since it deprecated the field; the seqId chain alone then holds."""

    async def body() -> None:
        server = OkxSimServer(seed=3, clock=CLOCK, step_ms=10, book_checksum=False)
        await server.start(port=0)
        conn = registry.loopback_connector(server.url, symbol="BTC-USDT", clock=CLOCK, venue="okx")
        seen: list[Any] = []
        try:
            await conn.connect()
            server.corrupt_checksum = True  # no effect: no checksum is sent
            await CLOCK.wait_for(collect(conn, 20, seen), 10)
            assert not [e for e in seen if isinstance(e, BookInvalid)]
        finally:
            await conn.close()
            await server.stop()

    run(body)
