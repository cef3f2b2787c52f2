"""Alpaca's trade_updates stream handled in the read (issue 18, no hop): with the engine waiting
(`_events.DIRECT`), a fill of ours and its order report reach it in the call that read them (outside any
task); a malformed frame met there is skipped and the stream goes on; a `listening` answer met there
starts the REST catch-up as a task after a reconnect (never on the first connect); a refused login met
there still ends the stream."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

import pytest

from tests.helpers import Seen, stand_in_pump
from tests.venues.alpaca.test_direct import until
from tests.venues.test_alpaca_connector import approve, venue
from trader.clock import LiveClock
from trader.core import OrderType, Side
from trader.sim.alpaca import AlpacaSimServer
from trader.venues.alpaca import AlpacaConnector
from trader.venues.base import FillReport, OrderReport, OrderState

CLOCK = LiveClock()


def inject(server: AlpacaSimServer, *frames: bytes) -> None:
    """Raw frames on every trade_updates socket, as the venue would send them (binary JSON)."""
    for ws in list(server.trade_subs):
        for f in frames:
            server.send(ws, f)


def fills(seen: Seen, client_id: str) -> list[tuple[FillReport, bool]]:
    return [(e, d) for e, d in seen if isinstance(e, FillReport) and e.client_id == client_id]


def reports(seen: Seen, client_id: str) -> list[tuple[OrderReport, bool]]:
    return [(e, d) for e, d in seen if isinstance(e, OrderReport) and e.client_id == client_id]


async def buy(conn: AlpacaConnector, seen: Seen, client_id: str, qty: int) -> None:
    """A market buy (it takes), until its fills reached the stand-in pump."""
    await conn.submit(approve(conn, "SPY", Side.BUY, 0, qty, order_type=OrderType.MARKET), client_id, "SPY")
    await until(lambda: sum(f.qty for f, _ in fills(seen, client_id)) == qty)


async def take(
    server: AlpacaSimServer, conn: AlpacaConnector, stack: AsyncExitStack, client_id: str, qty: int
) -> Seen:
    """Once the trade stream listens, a market buy with a stand-in pump waiting; what the pump got."""
    await until(lambda: server.trade_subs)
    seen = stand_in_pump(conn, stack)
    await CLOCK.sleep(0)  # the engine waits
    await buy(conn, seen, client_id, qty)
    return seen


def test_a_fill_and_its_order_report_reach_the_engine_in_the_read() -> None:
    async def go() -> None:
        async with venue(market_data=False) as (server, conn), AsyncExitStack() as stack:
            seen = await take(server, conn, stack, "in-read-1", 2)
            assert [d for _, d in fills(seen, "in-read-1")] == [True] * len(fills(seen, "in-read-1"))
            await until(lambda: any(r.state is OrderState.FILLED for r, _ in reports(seen, "in-read-1")))
            filled = [(r, d) for r, d in reports(seen, "in-read-1") if r.state is OrderState.FILLED]
            assert [(r.filled, d) for r, d in filled] == [(2, True)]

    asyncio.run(LiveClock().wait_for(go(), 20))


def test_malformed_trade_stream_frames_in_the_read_are_skipped_and_fills_keep_coming(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def go() -> None:
        async with venue(market_data=False) as (server, conn), AsyncExitStack() as stack:
            seen = await take(server, conn, stack, "in-read-1", 1)
            inject(
                server,
                b"not json",
                b"[1, 2]",
                b'{"stream": "trade_updates", "data": [1]}',
                b'{"stream": "trade_updates", "data": {"event": "fill"}}',
                b'{"stream": "trade_updates", "data": {"event": "fill", "order": "x"}}',
                b'{"stream": "trade_updates", "data": {"event": "fill", "order": {"symbol": "SPY"},'
                b' "timestamp": "never"}}',
            )
            await buy(conn, seen, "in-read-2", 1)
            assert [d for _, d in fills(seen, "in-read-2")] == [True], "the next fill, in the read"
            assert conn.trade_stream is not None
            assert (conn.trade_stream.connects, conn.trade_stream.closed()) == (1, False)
            skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
            assert sum("malformed trade stream message" in m for m in skipped) >= 3
            assert sum("malformed trade update" in m for m in skipped) >= 3

    with caplog.at_level(logging.WARNING, logger="trader.venues.alpaca"):
        asyncio.run(LiveClock().wait_for(go(), 20))


def test_a_catch_up_is_started_from_the_read_after_a_reconnect_only(monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> None:
        async with venue(market_data=False) as (server, conn), AsyncExitStack() as stack:
            catch_ups: list[None] = []
            catch_up = conn._catch_up

            def counted() -> object:
                catch_ups.append(None)
                return catch_up()

            monkeypatch.setattr(conn, "_catch_up", counted)
            seen = await take(server, conn, stack, "c-1", 1)
            inject(server, b'{"stream": "listening", "data": {"streams": ["trade_updates"]}}')
            await CLOCK.sleep(0.1)
            assert catch_ups == [], "listening on the first connection: nothing to catch up"
            n, activities = len(seen), server.requests["GET /v2/account/activities/FILL"]
            assert server.drop_streams("/stream") == 1
            assert conn.trade_stream is not None
            await until(lambda: conn.trade_stream is not None and conn.trade_stream.connects == 2)
            await until(lambda: server.requests["GET /v2/account/activities/FILL"] > activities)
            task = conn._catch_up_task
            assert task is not None
            await task
            assert catch_ups == [None], "one catch-up, when the stream listened again"
            caught = [d for e, d in seen[n:] if isinstance(e, FillReport) and e.client_id == "c-1"]
            assert caught, "the fill again, by REST"
            assert not any(caught), "the catch-up's fills come from its task"

    asyncio.run(LiveClock().wait_for(go(), 20))


def test_a_refused_login_met_in_the_read_ends_the_stream() -> None:
    async def go() -> None:
        async with venue(market_data=False) as (server, conn), AsyncExitStack() as stack:
            seen = await take(server, conn, stack, "c-1", 1)
            ws = conn.trade_stream
            assert ws is not None
            inject(server, b'{"stream": "authorization", "data": {"status": "unauthorized"}}')
            await until(ws.closed)
            assert ws.connects == 1
            await conn.submit(approve(conn, "SPY", Side.BUY, 0, 1, order_type=OrderType.MARKET), "c-2", "SPY")
            await CLOCK.sleep(0.2)  # several of the simulator's steps
            assert not fills(seen, "c-2"), "the stream ended: no fill is read from it any more"
            assert server.requests["GET /v2/account/activities/FILL"] == 0, "and no catch-up"

    asyncio.run(LiveClock().wait_for(go(), 20))
