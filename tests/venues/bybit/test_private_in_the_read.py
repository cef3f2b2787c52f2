"""Bybit's private events reach the engine in the read that brought them (issue 18, no hop): the private
stream's frames are handled by the transport's synchronous `on_message`. A fill of ours (and the report
it releases) is handed to the waiting engine there, outside any task, whichever way the order went; a
malformed frame is logged and skipped there (never raised: the stream goes on); the catch-up after a
reconnect is a task started there (one at a time); only a refused login goes to the loop, which ends the
stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import orjson
import pytest

from tests.helpers import stand_in_pump
from tests.venues.bybit.test_connector import approve, next_of, venue
from tests.venues.bybit.test_in_the_read import _drain
from tests.venues.bybit.test_parse import spot_info
from trader.clock import LiveClock
from trader.core import Side, TimeInForce
from trader.venues._ws import OnMessage, WsEvent, WsMessage
from trader.venues.base import BookUpdate, FillReport, OrderReport, Stream, StreamStatus
from trader.venues.bybit import BybitConnector, loopback_connector
from trader.venues.bybit.private import PrivateLedger, PrivateStream

ROW = {"category": "spot", "symbol": "BTCUSDT", "orderId": "9", "orderLinkId": "r-1", "side": "Buy",
       "price": "50000.00", "qty": "0.0005", "cumExecQty": "0.0005", "orderStatus": "Filled",
       "rejectReason": "EC_NoError", "updatedTime": "1"}  # fmt: skip
EXEC = {"category": "spot", "symbol": "BTCUSDT", "orderId": "9", "orderLinkId": "r-1", "side": "Buy",
        "execId": "x-1", "execPrice": "50000.00", "execQty": "0.0005", "execFee": "0.025",
        "feeCurrency": "USDT", "execType": "Trade", "isMaker": False, "execTime": "1"}  # fmt: skip


def frame(topic: str, data: Any) -> bytes:
    return orjson.dumps({"id": "1", "topic": topic, "creationTime": 1, "data": data})


def subscribed(req_id: str = "private", success: bool = True) -> bytes:
    return orjson.dumps({"success": success, "ret_msg": "", "op": "subscribe", "req_id": req_id})


def _private() -> tuple[BybitConnector, PrivateStream]:
    conn = loopback_connector("http://127.0.0.1:9", symbol="BTCUSDT", clock=LiveClock())
    conn._info = spot_info()
    conn._spec = conn._info.spec()
    ledger = PrivateLedger(conn, fill_wait_s=60)
    private = PrivateStream(conn, "ws://127.0.0.1:9/v5/private", lambda exp: ("k", exp, "sig"), ledger)
    return conn, private


BAD = [
    b"",
    b"{not json",
    b"null",
    b"[1, 2]",
    b'"text"',
    frame("execution", [{**EXEC, "execPrice": "x"}]),
    frame("execution", [{**EXEC, "execQty": "1e"}]),
    frame("execution", [{"symbol": "BTCUSDT", "execId": "x-1"}]),  # the id of the good one, later
    frame("execution", 5),
    frame("order", [{**ROW, "qty": "abc"}]),
    frame("order", ["row"]),
    frame("wallet", [{"coin": [{"coin": "USDT", "walletBalance": "x"}]}]),
    frame("wallet", [{"coin": 3}]),
]


def test_a_malformed_private_frame_in_the_read_is_skipped_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> None:
        conn, private = _private()
        assert private.ws.on_message == private.on_message  # the stream is the transport's handler
        for raw in BAD:
            assert private.on_message(raw, 1), raw  # taken, never raised
        assert _drain(conn) == []
        assert private.wallet == {}
        assert private.on_message(frame("order", [ROW]), 2)  # counts a fill not heard yet: held
        assert _drain(conn) == []
        assert private.on_message(frame("execution", [EXEC]), 3)  # the stream goes on
        fill, report = _drain(conn)
        assert isinstance(fill, FillReport)
        assert (fill.trade_id, fill.client_id, fill.qty, fill.ts_recv) == ("x-1", "r-1", 500, 3)
        assert isinstance(report, OrderReport)
        assert (report.client_id, report.filled) == ("r-1", 500)
        assert private.on_message(frame("execution", [EXEC]), 4)  # once per execId
        assert _drain(conn) == []
        assert conn.poller is None or conn.poller.polls == 0

    with caplog.at_level(logging.WARNING, logger="trader.venues.bybit"):
        asyncio.run(run())
    assert caplog.text.count("malformed private message skipped") == len(BAD)


def test_a_catch_up_is_started_from_the_read_one_at_a_time() -> None:
    """After a reconnect, the subscription's answer starts the REST catch-up as a task (the handler cannot
    await); the stream is up once it is done. A later reconnect's replaces one still running."""

    async def run() -> None:
        conn, private = _private()
        gate = asyncio.get_running_loop().create_future()
        polls: list[int] = []

        async def poll() -> None:
            polls.append(len(polls))
            await gate

        private._ledger.poll = poll  # type: ignore[method-assign]
        private.ws.connects = 1
        assert private.on_message(subscribed(), 1)  # the first connection: ready, no catch-up
        assert (private.connected, private.ready.is_set(), private.catch_up) == (True, True, None)
        conn._health.down(Stream.PRIVATE, "disconnected: reset")
        private.ws.connects = 2
        assert private.on_message(subscribed(), 2)
        first = private.catch_up
        assert first is not None
        assert not first.done(), "a task: nothing awaited in the read"
        private.ws.connects = 3
        assert private.on_message(subscribed(), 3)
        second = private.catch_up
        assert second is not None
        assert second is not first
        await asyncio.gather(first, return_exceptions=True)
        assert first.cancelled()
        gate.set_result(None)
        await second
        assert polls == [0]  # the first was cancelled before it polled
        statuses = [e for e in _drain(conn) if isinstance(e, StreamStatus)]
        assert [(s.stream, s.up) for s in statuses] == [(Stream.PRIVATE, False), (Stream.PRIVATE, True)]
        assert private.on_message(subscribed("dcp", success=False), 4)
        assert private.dcp_answered.is_set()
        assert not private.dcp_subscribed

    asyncio.run(run())


def test_a_refused_login_goes_to_the_loop_which_ends_the_stream() -> None:
    async def run() -> None:
        _, private = _private()
        accepted = orjson.dumps({"success": True, "ret_msg": "", "op": "auth", "conn_id": "1"})
        refused = orjson.dumps({"success": False, "ret_msg": "Invalid sign", "op": "auth", "conn_id": "1"})
        assert private.on_message(accepted, 1)
        assert not private.on_message(refused, 1)  # declined: the loop's
        assert (private.refused, private.ready.is_set()) == ("", False)

        async def events() -> AsyncIterator[WsEvent]:
            yield WsMessage(refused, 2)
            raise AssertionError("the stream went on after a refused login")

        private.ws.events = events  # type: ignore[method-assign]
        await private.run()
        assert (private.refused, private.ready.is_set(), private.ws.closed()) == ("Invalid sign", True, True)

    asyncio.run(run())


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_a_fill_and_its_report_reach_the_engine_in_the_read(
    entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Against the simulator, with a stand-in pump: malformed frames on the live private connection are
    skipped in the read; then a taking order's fills and the report that counts them are handed to the
    waiting engine in the read that brought them."""

    async def run() -> None:
        async with venue(order_entry=entry) as (server, conn), AsyncExitStack() as stack:
            top = await next_of(conn, BookUpdate, lambda b: b.ask is not None)
            assert top.ask is not None
            private = conn.private
            assert private is not None
            seen = stand_in_pump(conn, stack)
            handler: OnMessage = private.on_message
            taken: list[tuple[bytes, bool, bool]] = []  # (frame, taken, in the read)

            def recording(raw: bytes, ts_recv: int) -> bool:
                took: bool = handler(raw, ts_recv)
                taken.append((raw, took, asyncio.current_task() is None))
                return took

            private.ws.on_message = recording
            for ws in list(server.private):
                for raw in BAD[1:]:  # (an empty text frame: the simulator's sockets send none)
                    server.send(ws, raw)
            clock = LiveClock()

            async def until_taken() -> None:
                while len(taken) < len(BAD) - 1:
                    await clock.sleep(0.005)

            await clock.wait_for(until_taken(), 5)
            assert taken[: len(BAD) - 1] == [(raw, True, True) for raw in BAD[1:]]
            a = approve(conn, Side.BUY, top.ask + 10_000, 500, tif=TimeInForce.IOC)
            await conn.submit(a, "in-read", "BTCUSDT")

            def ours(kind: type[FillReport | OrderReport]) -> list[bool]:
                return [d for e, d in seen if isinstance(e, kind) and e.client_id == "in-read"]

            async def both() -> None:
                while not (ours(FillReport) and any(r.filled for r in reports())):
                    await clock.sleep(0.005)

            def reports() -> list[OrderReport]:
                return [e for e, _ in seen if isinstance(e, OrderReport) and e.client_id == "in-read"]

            await clock.wait_for(both(), 5)
            assert ours(FillReport) == [True] * len(ours(FillReport)), "each fill handed over in the read"
            assert ours(OrderReport) == [True] * len(ours(OrderReport)), "each report handed over in the read"
            assert conn.poller is not None
            assert conn.poller.polls == 0, "pushed, not polled"

    with caplog.at_level(logging.WARNING, logger="trader.venues.bybit"):
        asyncio.run(LiveClock().wait_for(run(), 20))
    assert caplog.text.count("malformed private message skipped") == len(BAD) - 1
