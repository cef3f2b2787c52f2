"""No hop on Bybit's market data and trade answers (issue 18): the public streams' frames and the trade
WebSocket's order answers are handled by the transport's synchronous `on_message`, in the read that
brought them. Its edges: a gap found there starts the re-subscription as a task (one at a time, its
failure logged), bad venue input is logged and skipped (never raised: that would end the stream), and
only a pending operation's answer is taken from the trade WebSocket (the rest goes to its `run`)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import orjson
import pytest

from tests.helpers import Seen, stand_in_pump
from tests.venues.bybit.test_connector import approve, next_of, sync, venue
from tests.venues.bybit.test_parse import spot_info
from trader.clock import LiveClock
from trader.core import Side
from trader.venues.base import BookInvalid, BookUpdate, OrderReport, OrderState, TradeTick, VenueEvent
from trader.venues.bybit import BybitConnector, loopback_connector
from trader.venues.bybit.streams import PublicStream
from trader.venues.bybit.trade import TradeSession

BOOK, TRADES = "orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"


def _book(kind: str, u: int, bid: str, ask: str) -> bytes:
    data = {"s": "BTCUSDT", "b": [[bid, "0.5"]], "a": [[ask, "0.5"]], "u": u, "seq": u}
    return orjson.dumps({"topic": BOOK, "type": kind, "ts": 1000 + u, "data": data})


def _trade(price: str) -> bytes:
    row = {"T": 5, "s": "BTCUSDT", "S": "Buy", "v": "0.01", "p": price, "i": "t-1", "BT": False}
    return orjson.dumps({"topic": TRADES, "type": "snapshot", "ts": 5, "data": [row]})


def _unconnected() -> tuple[BybitConnector, PublicStream]:
    clock = LiveClock()
    conn = loopback_connector("http://127.0.0.1:9", symbol="BTCUSDT", clock=clock)
    conn._info = spot_info()
    conn._spec = conn._info.spec()
    return conn, PublicStream.open(conn, "ws://127.0.0.1:9/v5/public/spot", 10.0)


def _drain(conn: BybitConnector) -> list[VenueEvent]:
    out = []
    while not conn._queue.empty():
        out.append(conn._queue.get_nowait())
    return out


BAD = [
    b"",
    b"{not json",
    b"null",
    b"[1, 2]",
    b'"text"',
    orjson.dumps({"topic": BOOK, "type": "delta", "ts": 1, "data": {"u": "x", "b": [["?", "1"]]}}),
    orjson.dumps({"topic": BOOK, "type": "delta", "ts": 1, "data": None}),
    orjson.dumps({"topic": TRADES, "data": [{"p": "not a price"}]}),
    orjson.dumps({"topic": TRADES, "data": 7}),
]


def test_the_book_handler_applies_skips_bad_input_and_resyncs_a_gap_in_a_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> None:
        conn, public = _unconnected()
        assert public.ws.on_message == public.on_message
        assert public.trades is not None
        assert public.trades.on_message == public.on_trades
        assert public.on_message(_book("snapshot", 10, "50000.00", "50001.00"), 1)
        assert public.on_message(_book("delta", 11, "50000.50", "50001.00"), 2)
        tops = _drain(conn)
        assert [(type(e), e.bid) for e in tops if isinstance(e, BookUpdate)] == [
            (BookUpdate, 5_000_000),
            (BookUpdate, 5_000_050),
        ]
        for raw in BAD:  # on either connection: logged, skipped, taken (never raised, never yielded)
            assert public.on_message(raw, 3)
            assert public.on_trades(raw, 3)
        assert [e for e in _drain(conn) if not isinstance(e, TradeTick)] == []
        assert (public.u, public.resyncs) == (11, 0), "bad input changed nothing"
        assert public.on_message(_book("delta", 12, "50000.60", "50001.00"), 4), "the book goes on"
        assert [e.bid for e in _drain(conn) if isinstance(e, BookUpdate)] == [5_000_060]

        assert public.on_message(_book("delta", 14, "50000.70", "50001.00"), 5)  # 13 is missing
        assert [type(e) for e in _drain(conn)] == [BookInvalid]
        task = public.resync_task
        assert task is not None
        assert not task.done(), "the re-subscription runs as a task"
        assert public.on_message(_book("delta", 15, "50000.80", "50001.00"), 6)  # not ready: waits
        assert public.on_message(_book("delta", 17, "50000.80", "50001.00"), 6)
        assert _drain(conn) == []
        # a snapshot (a reconnect's) and a new gap before the task ran: its subscription is still to go
        assert public.on_message(_book("snapshot", 20, "50000.90", "50001.00"), 6)
        assert public.on_message(_book("delta", 22, "50000.90", "50001.00"), 6)
        assert [type(e) for e in _drain(conn)] == [BookUpdate, BookInvalid]
        assert (public.resyncs, public.resync_task) == (1, task), "one re-subscription in flight"
        await task  # not connected here: the send fails, logged, and the reconnect would subscribe
        assert "book resync not sent" in caplog.text
        assert public.on_message(_book("snapshot", 30, "50001.00", "50002.00"), 7)
        assert [e.bid for e in _drain(conn) if isinstance(e, BookUpdate)] == [5_000_100]
        assert public.on_trades(_trade("50001.50"), 8)
        (tick,) = _drain(conn)
        assert isinstance(tick, TradeTick)
        assert (tick.price, tick.ts_recv) == (5_000_150, 8)

    with caplog.at_level(logging.WARNING, logger="trader.venues.bybit"):
        asyncio.run(run())
    assert caplog.text.count("malformed market data skipped") >= 7
    assert caplog.text.count("malformed trade data skipped") >= 7


async def _watch(conn: BybitConnector, until: Any, timeout_s: float = 5.0) -> Seen:
    """The engine's pump, stood in for (`tests.helpers.stand_in_pump`): each event with whether it came in
    the read that brought it (outside any task), until `until(seen)`."""
    async with AsyncExitStack() as stack:
        seen = stand_in_pump(conn, stack)

        async def done() -> None:
            while not until(seen):
                await LiveClock().sleep(0.005)

        await LiveClock().wait_for(done(), timeout_s)
        return list(seen)


def _books(seen: list[tuple[VenueEvent, bool]]) -> int:
    """Book updates handed over in the read."""
    return sum(1 for e, direct in seen if isinstance(e, BookUpdate) and direct)


@sync
async def test_bad_frames_and_a_gap_in_the_read_leave_the_stream_going() -> None:
    async with venue() as (server, conn):
        assert conn.public is not None
        await _watch(conn, lambda s: _books(s) >= 2)
        for raw in BAD:  # on both public connections
            for ws in list(server.public):
                server.send(ws, raw)
        seen = await _watch(conn, lambda s: _books(s) >= 3)
        assert not any(isinstance(e, BookInvalid) for e, _ in seen), "nothing of the book was lost"
        assert conn.public.resyncs == 0

        snapshots = server.snapshots
        server.faults.sequence_gap = True
        seen = await _watch(conn, lambda s: any(isinstance(e, BookInvalid) for e, _ in s) and _books(s) >= 2)
        invalid = [direct for e, direct in seen if isinstance(e, BookInvalid)]
        assert invalid == [True], "the gap was found and told in the read that brought it"
        assert (server.snapshots, conn.public.resyncs) == (snapshots + 1, 1)
        assert conn.public.resync_task is not None
        assert conn.public.resync_task.done()


def test_only_a_pending_operations_answer_is_taken_in_the_read() -> None:
    async def run() -> None:
        conn = loopback_connector("http://127.0.0.1:9", symbol="BTCUSDT", clock=LiveClock())
        session = TradeSession(conn, "ws://127.0.0.1:9/v5/trade", lambda exp: ("k", exp, "sig"))
        assert session.ws.on_message == session._response
        answer = orjson.dumps({"reqId": "r-1", "retCode": 0, "op": "order.create", "data": {}})
        assert not session._response(answer, 1), "nothing pending: `run` reads it"
        fut = session._pending["r-1"] = asyncio.get_running_loop().create_future()
        for other in (
            b"{not json",
            b"[1]",
            orjson.dumps({"reqId": "r-2", "retCode": 0, "op": "order.create"}),
            orjson.dumps({"reqId": "r-1", "retCode": 0, "op": "auth"}),
            orjson.dumps({"retCode": 0, "op": "pong"}),
        ):
            assert not session._response(other, 1), other
        assert not fut.done()
        assert session._response(answer, 1)
        assert fut.result()["reqId"] == "r-1"
        assert session._pending == {}

    asyncio.run(run())


def test_trade_answers_resolve_in_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[bool] = []
    response = TradeSession._response

    def watched(self: TradeSession, data: bytes, ts_recv: int) -> bool:
        took = response(self, data, ts_recv)
        if took:
            taken.append(asyncio.current_task() is None)
        return took

    monkeypatch.setattr(TradeSession, "_response", watched)

    async def run() -> None:
        async with venue(order_entry="ws", market_data=False) as (_server, conn):
            await conn.submit(approve(conn, Side.BUY, 4_000_000, 1000), "ws-read", "BTCUSDT")
            await next_of(
                conn, OrderReport, lambda r: r.client_id == "ws-read" and r.state is OrderState.OPEN
            )
            await conn.cancel("ws-read")

    asyncio.run(run())
    assert len(taken) == 2, f"the create and the cancel answers: {taken}"
    assert all(taken), f"each answer resolved its caller in the read: {taken}"
