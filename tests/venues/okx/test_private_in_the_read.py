"""OKX's private events reach the engine in the read that brought them (issue 18, no hop): a fill of ours
on the `orders` channel is parsed and handed to the waiting engine in the transport's read callback
(outside any task), whichever way the order went (REST or the private WebSocket, spot or swap), and a
malformed private message is skipped there without ending the stream. Against the simulator, with a
stand-in pump."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import pytest

from tests.conformance.harness import until
from tests.conformance.harness_okx import OkxHarness
from tests.helpers import stand_in_pump
from trader.clock import LiveClock
from trader.core import Side
from trader.venues._ws import OnMessage
from trader.venues.base import FillReport, OrderReport, Stream


@pytest.mark.parametrize(("market", "entry"), [("spot", "ws"), ("swap", "ws"), ("swap", "rest")])
def test_a_fill_reaches_the_engine_in_the_read_that_brought_it(market: str, entry: str) -> None:
    h = OkxHarness(market)

    async def body() -> None:
        async with h.open(order_entry=entry) as live, AsyncExitStack() as stack:
            top = await h.top(live)
            seen = stand_in_pump(live.conn, stack)
            a = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live))
            await live.conn.submit(a, "inread1", live.symbol)

            def ours(kind: type[FillReport | OrderReport]) -> list[bool]:
                return [d for e, d in seen if isinstance(e, kind) and e.client_id == "inread1"]

            await until(lambda: bool(ours(FillReport)) and bool(ours(OrderReport)), 5, "our fill")
            assert ours(FillReport) == [True] * len(ours(FillReport)), "each fill handed over in the read"
            assert ours(OrderReport) == [True] * len(ours(OrderReport)), "each report handed over in the read"

    asyncio.run(LiveClock().wait_for(body(), 20))


JUNK = [
    b"{not json",
    b'{"arg": {"channel": "orders"}, "data": [{"instId": "BTC-USDT"}]}',
    b'{"arg": {"channel": "orders"}, "data": 5}',
    b'{"arg": {"channel": "account"}, "data": [{"details": [{"ccy": "USDT", "cashBal": "x"}]}]}',
]


def test_a_malformed_private_message_in_the_read_is_skipped_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = OkxHarness("spot")

    async def body() -> None:
        async with h.open() as live, AsyncExitStack() as stack:
            top = await h.top(live)
            seen = stand_in_pump(live.conn, stack)
            ws = live.conn._private_ws
            handler: OnMessage = ws.on_message
            taken: list[tuple[bytes, bool, bool]] = []  # (message, taken, in the read)

            def recording(raw: bytes, ts_recv: int) -> bool:
                took: bool = handler(raw, ts_recv)
                taken.append((raw, took, asyncio.current_task() is None))
                return took

            ws.on_message = recording
            balances = live.conn.stream_balances()
            for sock in list(live.server.order_subs):
                for raw in JUNK:
                    live.server.send_text(sock, raw)
            await until(lambda: len(taken) >= len(JUNK), 5, "the malformed messages")
            assert taken[: len(JUNK)] == [(raw, True, True) for raw in JUNK]  # skipped in the read
            assert not live.conn.health.is_down(Stream.PRIVATE)
            assert live.conn.stream_balances() == balances  # the malformed account push changed nothing
            a = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live))
            await live.conn.submit(a, "inread2", live.symbol)  # the stream goes on

            def fills() -> list[bool]:
                return [d for e, d in seen if isinstance(e, FillReport) and e.client_id == "inread2"]

            await until(lambda: bool(fills()), 5, "our fill")
            assert fills() == [True] * len(fills())

    with caplog.at_level(logging.WARNING, "trader.venues.okx"):
        asyncio.run(LiveClock().wait_for(body(), 20))
    assert sum("malformed" in r.getMessage() for r in caplog.records) >= len(JUNK), "each one logged"
