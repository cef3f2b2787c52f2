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
from trader.venues.base import FillReport


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
