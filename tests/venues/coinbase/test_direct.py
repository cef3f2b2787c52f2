"""Coinbase's market connections handled in the read that brought their messages (issue 18, no hop on the
hot path): a sequence gap met in the read invalidates the books and starts the level2 re-subscription (a
task: the handler never waits), malformed frames in the read are skipped and the streams go on, and the
prints come on a connection of their own."""

from __future__ import annotations

import asyncio

from tests.helpers import stand_in_engine
from tests.venues.coinbase.test_connector import opened
from trader.venues.base import BookInvalid, TradeTick


def test_a_sequence_gap_in_the_read_invalidates_and_resubscribes_from_a_task() -> None:
    async def go() -> None:
        async with opened() as (server, conn), stand_in_engine(conn) as eng:
            market = conn.market
            assert market is not None
            met: list[tuple[str, bool]] = []
            invalidate = market._invalidate

            def spy(reason: str) -> None:
                met.append((reason, asyncio.current_task() is None))
                invalidate(reason)

            market._invalidate = spy  # type: ignore[method-assign]
            await eng.until(lambda: len(eng.books()) >= 2)
            snapshots = server.snapshots
            server.faults.sequence_gap = True  # the next l2_data message is lost on the way
            await eng.until(lambda: any(isinstance(e, BookInvalid) for e, _ in eng.seen))
            (bad,) = [e for e, _ in eng.seen if isinstance(e, BookInvalid)]
            assert bad.reason == "sequence gap"
            assert met == [("sequence gap", True)]  # met in the read callback, not in the stream's task
            after = len(eng.seen)
            await eng.until(lambda: bool(eng.books(after)))  # rebuilt from the new snapshot
            assert conn.resyncs == 1
            assert server.snapshots == snapshots + 1  # the task re-subscribed level2
            assert not market._sends  # and is done and forgotten

    asyncio.run(go())


def test_malformed_frames_in_the_read_are_skipped_and_the_streams_go_on() -> None:
    async def go() -> None:
        async with opened() as (server, conn), stand_in_engine(conn) as eng:
            await eng.until(lambda: len(eng.books()) >= 2)
            for ws in list(server.ws_conns):  # the books', the prints' and the user connection
                for bad in (
                    b"{not json",
                    b"[1,2]",
                    b'{"channel":"market_trades","events":7}',
                    b'{"channel":"market_trades","events":[{"trades":[{"product_id":"BTC-USD","price":"x"}]}]}',
                    b'{"type":"error","message":"injected"}',
                ):
                    server.send(ws, bad)
            seen = len(eng.seen)
            await eng.until(lambda: sum(1 for _, d in eng.books(seen) if d) >= 2)
            assert all(not t.done() for t in conn._tasks)  # no stream ended
            assert conn.resyncs == 0  # nothing of the book was lost

    asyncio.run(go())


def test_prints_come_on_their_own_connection_and_reach_the_engine_in_the_read() -> None:
    async def go() -> None:
        async with opened() as (server, conn), stand_in_engine(conn) as eng:
            # a print read alone is handed over in the read (one read behind another waits in the queue)
            await eng.until(lambda: any(isinstance(e, TradeTick) and d for e, d in eng.seen), 10.0)
            channels = sorted(
                tuple(c for c in ("level2", "market_trades", "user") if s.subs[c])
                for s in server.ws_conns.values()
            )
            assert channels == [("level2",), ("market_trades",), ("user",)]
            assert {e.instrument for e, _ in eng.seen if isinstance(e, TradeTick)} == {"BTC-USD"}

    asyncio.run(go())
