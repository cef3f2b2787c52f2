"""Kraken's private events reach the engine in the read that brought them (issue 18, no hop): a fill of
ours on the `executions` socket is parsed and handed to the waiting engine in the transport's read
callback (outside any task), whether the order went by REST or on that socket; malformed private
messages met in the read are skipped and the stream goes on; the REST catch-up after a reconnect is a
task started from the read that brought the subscription's acknowledgement (and cancelled when the
stream ends). Against the simulator, with a stand-in engine."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.helpers import calls_in_read, gate_approval, stand_in_engine
from tests.venues.kraken.test_connector import WALL, run, venue
from trader.core import Side, TimeInForce
from trader.sim.kraken import KrakenSimServer
from trader.venues.base import FillReport, OrderReport, OrderState, Stream, StreamStatus
from trader.venues.kraken import KrakenConnector

XBT = "XBTUSD"


async def take(sim: KrakenSimServer, conn: KrakenConnector, client_id: str) -> None:
    """A taking IOC buy of 0.0005 XBT."""
    bid, ask = sim.top()
    a = gate_approval(
        conn.spec(XBT),
        XBT,
        Side.BUY,
        ask + 100,
        50_000,
        bid=bid,
        ask=ask,
        now_ns=WALL.now_ns(),
        tif=TimeInForce.IOC,
    )
    await conn.submit(a, client_id, XBT)


def fills(seen: list[tuple[Any, bool]], client_id: str) -> list[bool]:
    """Per fill of `client_id`: handed over in the read (True) or through the queue."""
    return [d for e, d in seen if isinstance(e, FillReport) and e.client_id == client_id]


@pytest.mark.parametrize("order_entry", ["rest", "ws"])
def test_a_fill_reaches_the_engine_in_the_read_that_brought_it(order_entry: str) -> None:
    async def body() -> None:
        options: dict[str, Any] = {"market_data": False, "dead_man_s": 0, "order_entry": order_entry}
        async with venue(**options) as (sim, conn), stand_in_engine(conn) as eng:
            await take(sim, conn, "k-in-read")
            await eng.until(lambda: bool(fills(eng.seen, "k-in-read")))
            assert fills(eng.seen, "k-in-read") == [True], "the fill handed over in the read"
            reports = [(e.state, d) for e, d in eng.seen if isinstance(e, OrderReport)]
            assert (OrderState.FILLED, True) in reports  # its order's report too

    run(body)


def test_malformed_private_messages_in_the_read_are_skipped_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=0) as (sim, conn):
            stream = conn.executions
            assert stream is not None
            in_read = calls_in_read(stream, "message")
            async with stand_in_engine(conn) as eng:
                (ws,) = list(sim.private)
                for bad in (
                    b"[1,2]",
                    b'{"channel":"executions","type":"update","data":[{"symbol":"BTC/USD"}]}',
                    b'{"channel":"executions","type":"update","data":[{"order_id":"O1","symbol":"BTC/USD",'
                    b'"order_qty":"x","side":"buy","exec_type":"new"}]}',
                    b'{"channel":"executions","data":7}',
                ):
                    sim.send(ws, bad)
                await eng.until(lambda: len(in_read) >= 4)
                assert in_read[:4] == [True] * 4  # met in the read callback, not in the stream's task
                await take(sim, conn, "k-after-bad")
                await eng.until(lambda: bool(fills(eng.seen, "k-after-bad")))
                assert fills(eng.seen, "k-after-bad") == [True]  # the stream went on, in the read
                assert all(not t.done() for t in conn._tasks)
        skipped = [r for r in caplog.records if "malformed execution skipped" in r.getMessage()]
        assert len(skipped) == 4

    with caplog.at_level(logging.WARNING, logger="trader.venues.kraken"):
        run(body)


def test_the_catch_up_after_a_reconnect_starts_from_the_read_and_brings_a_fill_missed() -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=0) as (sim, conn):
            stream = conn.executions
            assert stream is not None
            started = calls_in_read(stream, "catch_up")
            gate = asyncio.Event()  # the new connection subscribes once our order filled
            token = conn.ws_token

            async def held() -> str:
                await gate.wait()
                return await token()

            conn.ws_token = held  # type: ignore[method-assign]
            async with stand_in_engine(conn) as eng:

                def status() -> list[bool]:
                    return [
                        e.up
                        for e, _ in eng.seen
                        if isinstance(e, StreamStatus) and e.stream is Stream.PRIVATE
                    ]

                assert sim.drop_streams("/ws-auth/v2") == 1
                await eng.until(lambda: status() == [False])
                await take(sim, conn, "k-missed")  # filled while no executions socket listens
                gate.set()
                await eng.until(lambda: status() == [False, True] and bool(fills(eng.seen, "k-missed")))
                assert started == [True]  # started in the read that brought the acknowledgement
                assert len(fills(eng.seen, "k-missed")) == 1  # by REST: the stream never carried it
                assert not stream.catch_ups  # done and forgotten

    run(body)


def test_a_catch_up_still_running_is_cancelled_when_the_stream_ends() -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=0) as (_, conn):
            stream = conn.executions
            assert stream is not None
            began = asyncio.Event()

            async def forever() -> None:
                began.set()
                await asyncio.Event().wait()

            conn.catch_up = forever  # type: ignore[method-assign]
            stream.catch_up()
            (task,) = stream.catch_ups
            await began.wait()
            await conn.close()
            assert task.cancelled()

    run(body)
