"""Coinbase's private events reach the engine in the read that brought them (issue 18, no hop): the user
channel's messages are handled in the transport's read callback. A fill the channel tells exactly (one
execution of an order whose liquidity the order itself states) is handed to the waiting engine there,
with no REST read; a fill only REST can tell (a plain limit order filled at its limit: maker or taker?)
still goes out as REST lists it, from a task. Malformed user messages met in the read are skipped and the
stream goes on; the REST catch-up (after a reconnect, after a lost message) is a task started from the
read. Against the simulator, with a stand-in engine."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from tests.helpers import calls_in_read, stand_in_engine
from tests.venues.coinbase.test_connector import CLOCK, SYMBOL, approve, opened
from trader.core import Side, TimeInForce
from trader.sim.coinbase import CoinbaseSimServer
from trader.sim.coinbase import ws as sim_ws
from trader.venues.base import FillReport, OrderReport, OrderState, Stream, StreamStatus
from trader.venues.coinbase import CoinbaseConnector, streams

FILLS = "GET /api/v3/brokerage/orders/historical/fills"


def fills(seen: list[tuple[Any, bool]], client_id: str) -> list[tuple[FillReport, bool]]:
    """Each fill of `client_id` the engine got, with whether it was handed over in a read."""
    return [(e, d) for e, d in seen if isinstance(e, FillReport) and e.client_id == client_id]


def user_socket(server: CoinbaseSimServer) -> web.WebSocketResponse:
    (ws,) = [ws for ws, c in server.ws_conns.items() if c.subs["user"]]
    return ws


async def listening(server: CoinbaseSimServer) -> None:
    """Until the user channel is subscribed (`connect` does not wait for it)."""

    async def wait() -> None:
        while not any(c.subs["user"] for c in server.ws_conns.values()):
            await CLOCK.sleep(0.005)

    await CLOCK.wait_for(wait(), 5.0)


async def take(server: CoinbaseSimServer, conn: CoinbaseConnector, client_id: str, tif: TimeInForce) -> None:
    """A taking buy of 0.0005 BTC, limited 50 ticks through the ask (its fills are better than its limit)."""
    bid, ask = server.top(SYMBOL)
    await conn.submit(approve(conn, Side.BUY, ask + 50, 50_000, (bid, ask), tif=tif), client_id, SYMBOL)


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.GTC])
def test_a_taking_fill_reaches_the_engine_in_the_read_with_no_rest_read(tif: TimeInForce) -> None:
    async def go() -> None:
        async with opened(market_data=False) as (server, conn), stand_in_engine(conn) as eng:
            await listening(server)
            await take(server, conn, "cb-in-read", tif)
            await eng.until(lambda: sum(f.qty for f, _ in fills(eng.seen, "cb-in-read")) == 50_000)
            got = fills(eng.seen, "cb-in-read")
            assert [d for _, d in got] == [True] * len(got)  # each handed over in the read
            assert server.requests[FILLS] == 0  # the channel told them exactly: no REST read
            assert not any(f.maker for f, _ in got)
            reports = [(e.state, d) for e, d in eng.seen if isinstance(e, OrderReport)]
            assert (OrderState.FILLED, True) in reports
            listed = await conn.fills_since(CLOCK.now_ns() - 60_000_000_000)
            assert [(f.trade_id, f.qty, f.price, f.fee, f.maker) for f in listed] == [
                (f.trade_id, f.qty, f.price, f.fee, f.maker) for f, _ in got
            ]  # the very fills REST lists: one execution each, heard both ways as one

    asyncio.run(go())


def test_a_fill_only_rest_can_tell_goes_out_as_rest_lists_it() -> None:
    async def go() -> None:
        async with opened(market_data=False) as (server, conn), stand_in_engine(conn) as eng:
            await listening(server)
            bid, ask = server.top(SYMBOL)
            assert ask - bid >= 2  # room inside the spread: our bid is alone at the top
            await conn.submit(approve(conn, Side.BUY, bid + 1, 100_000, (bid, ask)), "cb-rest", SYMBOL)
            await eng.until(
                lambda: any(isinstance(e, OrderReport) and e.client_id == "cb-rest" for e, _ in eng.seen)
            )
            hit = approve(conn, Side.SELL, bid + 1, 100_000, (bid, ask), tif=TimeInForce.IOC)
            await conn.submit(hit, "cb-hit", SYMBOL)  # it trades with our own bid, at the bid's limit
            await eng.until(lambda: sum(f.qty for f, _ in fills(eng.seen, "cb-rest")) == 100_000)
            await eng.until(lambda: sum(f.qty for f, _ in fills(eng.seen, "cb-hit")) == 100_000)
            assert all(f.maker and not d for f, d in fills(eng.seen, "cb-rest"))  # REST's word, from its task
            assert all(not f.maker and d for f, d in fills(eng.seen, "cb-hit"))  # an IOC took: in the read
            assert server.requests[FILLS] >= 1

    asyncio.run(go())


def test_malformed_user_messages_in_the_read_are_skipped_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def go() -> None:
        async with opened(market_data=False) as (server, conn):
            user = conn.user
            assert user is not None
            in_read = calls_in_read(user, "message")
            async with stand_in_engine(conn) as eng:
                await listening(server)
                ws = user_socket(server)
                for bad in (
                    b"[1,2]",
                    b'{"channel":"user","timestamp":"yesterday","events":[]}',
                    b'{"channel":"user","events":[{"type":"update","orders":[{"product_id":"BTC-USD"}]}]}',
                    b'{"channel":"user","events":7}',
                ):
                    server.send(ws, bad)
                server.send(ws, b"{not json")
                await eng.until(lambda: len(in_read) >= 4)
                assert in_read[:4] == [True] * 4  # met in the read callback, not in the stream's task
                await take(server, conn, "cb-after-bad", TimeInForce.IOC)
                await eng.until(lambda: sum(f.qty for f, _ in fills(eng.seen, "cb-after-bad")) == 50_000)
                assert all(d for _, d in fills(eng.seen, "cb-after-bad"))  # the stream went on, in the read
                assert all(not t.done() for t in conn._tasks)
                assert conn._catch_up_task is None  # garbage is no lost message
        skipped = [r for r in caplog.records if "malformed user message skipped" in r.getMessage()]
        assert len(skipped) == 5

    with caplog.at_level(logging.WARNING, logger="trader.venues.coinbase"):
        asyncio.run(go())


def test_a_lost_user_message_starts_the_catch_up_from_the_read() -> None:
    async def go() -> None:
        async with opened(market_data=False) as (server, conn):
            user = conn.user
            assert user is not None
            started = calls_in_read(user, "_catch_up")
            async with stand_in_engine(conn) as eng:
                await listening(server)
                ws = user_socket(server)
                server.ws_conns[ws].seq += 1  # one user message lost on the way
                sim_ws.send(server, ws, "user", [])
                await eng.until(lambda: bool(started))
                assert started == [True]
                task = conn._catch_up_task
                assert task is not None
                await eng.until(task.done)
                assert not task.cancelled()
                assert task.exception() is None  # it ran its course

    asyncio.run(go())


def test_the_catch_up_after_a_reconnect_starts_from_the_read_and_brings_a_fill_missed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = asyncio.Event()  # the new connection subscribes once our order filled
    login = streams.UserStream.login
    logins = 0

    async def held(conn: CoinbaseConnector, ws: Any) -> None:
        nonlocal logins
        logins += 1
        if logins > 1:
            await gate.wait()
        await login(conn, ws)

    monkeypatch.setattr(streams.UserStream, "login", staticmethod(held))

    async def go() -> None:
        async with opened(market_data=False) as (server, conn):
            user = conn.user
            assert user is not None
            started = calls_in_read(user, "_catch_up")
            async with stand_in_engine(conn) as eng:

                def status() -> list[bool]:
                    return [
                        e.up
                        for e, _ in eng.seen
                        if isinstance(e, StreamStatus) and e.stream is Stream.PRIVATE
                    ]

                await listening(server)
                assert server.drop_streams("/ws/user") == 1
                await eng.until(lambda: status() == [False])
                await take(server, conn, "cb-missed", TimeInForce.IOC)  # filled while no user socket listens
                gate.set()
                await eng.until(
                    lambda: (
                        status() == [False, True]
                        and sum(f.qty for f, _ in fills(eng.seen, "cb-missed")) == 50_000
                    )
                )
                assert started == [True]  # started in the read that brought the snapshot
                assert all(
                    not d for _, d in fills(eng.seen, "cb-missed")
                )  # by REST: the stream never told it

    asyncio.run(go())


def test_a_catch_up_still_running_is_cancelled_on_close() -> None:
    async def go() -> None:
        async with opened(market_data=False) as (_, conn):
            user = conn.user
            assert user is not None
            began = asyncio.Event()

            async def forever() -> None:
                began.set()
                await asyncio.Event().wait()

            conn._catch_up = forever  # type: ignore[method-assign]
            user._catch_up()
            task = conn._catch_up_task
            assert task is not None
            await began.wait()
            await conn.close()
            assert task.cancelled()

    asyncio.run(go())
