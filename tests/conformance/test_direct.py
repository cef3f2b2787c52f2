"""No hop on the market-data path (issue 18), for every venue against its simulator: while the engine
waits for events, a book frame is parsed, applied to the book and handed to the engine in the very call
that read it from the socket (the transport's read callback: no task runs it), not queued for a task to
take on a later turn of the event loop.

Here a reader stands in for the engine's pump (`trader.engine.loops.pump`): it names its handler through
`_events.DIRECT` and waits on the connector's `events()`. The steady state is checked: of the first ten
book updates of the instrument, the last five all reached the handler outside any task (an update that
came through the queue reaches it from the reader's task)."""

from __future__ import annotations

import asyncio

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.harness import Harness
from trader.clock import LiveClock
from trader.venues._events import DIRECT
from trader.venues.base import BookUpdate, VenueEvent

BOOKS, STEADY = 10, 5


async def handed_over(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        direct: list[bool] = []  # per book update: handed over in the read (True) or by the queue

        def handler(burst: list[VenueEvent]) -> None:
            for ev in burst:
                if isinstance(ev, BookUpdate) and ev.instrument == live.symbol:
                    direct.append(asyncio.current_task() is None)

        async def pump() -> None:
            DIRECT.set(handler)  # this task's context, as the engine's pump sets it
            async for ev in conn.events():
                handler([ev])  # it came through the queue: the handler runs in this task

        async def counted() -> None:
            while len(direct) < BOOKS:
                await live.clock.sleep(0.01)

        reader = asyncio.get_running_loop().create_task(pump())
        try:
            await LiveClock().wait_for(counted(), 15)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        assert direct[BOOKS - STEADY : BOOKS] == [True] * STEADY, (
            f"{h.id}: book updates handed over in the read that brought them: {direct}"
        )


@pytest.mark.parametrize("case", venues())
def test_a_book_frame_reaches_the_engine_in_the_read_that_brought_it(case: Case) -> None:
    case.run(handed_over)
