"""Binance's private events reach the engine in the read that brought them (issue 18, no hop): a fill of
ours, from the WebSocket API's user-data subscription (spot) and from a listen key's connection
(futures), is parsed and handed to the waiting engine in the transport's read callback (outside any
task), not queued for the reader's task. Against the simulator, with a stand-in pump."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from tests.conformance.harness import BinanceHarness, until
from tests.helpers import stand_in_pump
from trader.clock import LiveClock
from trader.core import Side
from trader.venues.base import FillReport, Quote, TradeTick


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_a_fill_reaches_the_engine_in_the_read_that_brought_it(market: str) -> None:
    h = BinanceHarness(market)

    async def body() -> None:
        async with h.open() as live, AsyncExitStack() as stack:
            top = await h.top(live)
            seen = stand_in_pump(live.conn, stack)
            a = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live))
            await live.conn.submit(a, "in-read-1", live.symbol)

            def fills() -> list[bool]:
                return [d for e, d in seen if isinstance(e, FillReport) and e.client_id == "in-read-1"]

            await until(lambda: bool(fills()), 5, "our fill")
            assert fills() == [True] * len(fills()), "each fill handed over in the read"

    asyncio.run(LiveClock().wait_for(body(), 20))


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_prints_and_book_tickers_reach_the_engine_in_the_read_that_brought_them(market: str) -> None:
    """The trade (spot) / aggTrade (futures) and book-ticker streams, like the depth: handed over in the
    transport's read callback, never queued for their reader's task."""
    h = BinanceHarness(market)

    async def body() -> None:
        async with h.open() as live, AsyncExitStack() as stack:
            top = await h.top(live)
            seen = stand_in_pump(live.conn, stack)
            a = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live))
            await live.conn.submit(a, "print-1", live.symbol)  # a print of ours, whatever the market does
            start = len(seen)  # what came before the stand-in first waited was queued, as it would be

            def kinds(kind: type[TradeTick | Quote]) -> list[bool]:
                return [d for e, d in seen[start:] if isinstance(e, kind)]

            await until(lambda: bool(kinds(TradeTick)) and bool(kinds(Quote)), 10, "a print and a ticker")
            assert kinds(TradeTick) == [True] * len(kinds(TradeTick)), "each print handed over in the read"
            assert kinds(Quote) == [True] * len(kinds(Quote)), "each book ticker handed over in the read"

    asyncio.run(LiveClock().wait_for(body(), 20))
