"""Kraken's streams handled in the read that brought them (issue 18, no hop on the hot path): a checksum
mismatch met in the read invalidates the book and starts the re-subscription (a task: the handler never
waits), malformed frames in the read are skipped and the streams go on, trades come on a connection of
their own, and a WebSocket order's answer is handed to the waiting request in the read."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.helpers import calls_in_read, gate_approval, stand_in_engine
from tests.venues.kraken.test_connector import WALL, run, venue
from trader.core import Side
from trader.venues.base import BookInvalid, BookUpdate, TradeTick


def test_a_checksum_mismatch_in_the_read_invalidates_and_resubscribes_from_a_task() -> None:
    async def body() -> None:
        async with venue() as (sim, conn), stand_in_engine(conn) as eng:
            market = conn.market
            assert market is not None
            in_read = calls_in_read(market, "resync")
            await eng.until(lambda: len(eng.books()) >= 3)
            sim.corrupt_checksum()
            await eng.until(lambda: any(isinstance(e, BookInvalid) for e, _ in eng.seen))
            (bad,) = [e for e, _ in eng.seen if isinstance(e, BookInvalid)]
            assert bad.reason == "checksum mismatch"
            assert in_read == [True]  # met in the read callback, not in the stream's task
            after = len(eng.seen)
            await eng.until(lambda: any(isinstance(e, BookUpdate) and e.bid for e, _ in eng.seen[after:]))
            assert market.resubscribes == 1  # the task sent it: a fresh snapshot, the book valid again
            assert not market._sends  # the re-subscription's task is done and forgotten

    run(body)


def test_malformed_frames_in_the_read_are_skipped_and_the_streams_go_on() -> None:
    async def body() -> None:
        async with venue() as (sim, conn), stand_in_engine(conn) as eng:
            await eng.until(lambda: len(eng.books()) >= 2)
            for ws in list(sim.public):  # the book's connection and the trades'
                for bad in (
                    b"{not json",
                    b"[1,2]",
                    b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","asks":[{"price":"x"}]}]}',
                    b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","price":"x"}]}',
                    b'{"channel":"trade","data":7}',
                ):
                    sim.send(ws, bad)
            seen = len(eng.seen)
            await eng.until(
                lambda: sum(1 for e, d in eng.seen[seen:] if isinstance(e, BookUpdate) and d) >= 3
            )
            assert all(not t.done() for t in conn._tasks)  # no stream ended
            assert conn.market is not None
            assert conn.market.resubscribes == 0

    run(body)


def test_trades_come_on_their_own_connection_and_reach_the_engine_in_the_read() -> None:
    async def body() -> None:
        async with venue() as (sim, conn), stand_in_engine(conn) as eng:
            # a print read alone is handed over in the read (one read behind another waits in the queue)
            await eng.until(lambda: any(isinstance(e, TradeTick) and d for e, d in eng.seen), 10.0)
            subs = sorted(sim.public.values(), key=lambda s: bool(s.trades))
            assert [(bool(s.books), bool(s.trades)) for s in subs] == [(True, False), (False, True)]
            trades = [e for e, _ in eng.seen if isinstance(e, TradeTick)]
            assert {t.instrument for t in trades} == {"XBTUSD"}

    run(body)


def test_a_websocket_order_answer_is_handed_over_in_the_read() -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=0, ws_orders=True) as (sim, conn):
            stream = conn.executions
            assert stream is not None
            taken: list[tuple[bool, bool]] = []
            answer = stream.answer

            def spy(data: bytes, ts_recv: int) -> bool:
                took = answer(data, ts_recv)
                taken.append((took, asyncio.current_task() is None))
                return took

            stream.answer = spy  # type: ignore[method-assign]  # on_message asks it first
            bid, _ = sim.top()
            a = gate_approval(
                conn.spec("XBTUSD"),
                "XBTUSD",
                Side.BUY,
                bid - 500,
                100_000,
                bid=bid,
                ask=bid + 1,
                now_ns=WALL.now_ns(),
            )
            ack = await conn.submit(a, "k-read", "XBTUSD")
            assert ack.venue_order_id
            assert (True, True) in taken  # the answer set the request's future in the read callback
            await conn.cancel("k-read")
            assert taken.count((True, True)) == 2

    run(body)


def test_only_a_pending_request_s_answer_is_taken_in_the_read() -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=0) as (_, conn):
            stream = conn.executions
            assert stream is not None
            answer: Any = orjson.dumps({"method": "add_order", "req_id": 7, "success": True})
            assert stream.answer(answer, 0) is False  # nothing pending: it goes to the stream's loop
            future = asyncio.get_running_loop().create_future()
            stream._pending[7] = future
            for other in (
                b'{not json "req_id"',
                b'["req_id"]',
                b'{"req_id":true}',  # a bool is no request id (True == 1)
                b'{"req_id":"7"}',
                b'{"req_id":8}',
                b'{"channel":"executions","data":[]}',
            ):
                assert stream.answer(other, 0) is False, other
            assert not future.done()
            assert stream.answer(answer, 0) is True
            assert future.result()["success"] is True
            assert stream.answer(answer, 0) is True  # a second copy: taken, nothing changes
            del stream._pending[7]

    run(body)
