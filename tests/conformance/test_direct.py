"""No hop on the market-data path (issue 18), for every venue against its simulator: while the engine
waits for events, a book frame is parsed, applied to the book and handed to the engine in the very call
that read it from the socket (the transport's read callback: no task runs it), not queued for a task to
take on a later turn of the event loop.

Here a reader stands in for the engine's pump (`trader.engine.loops.pump`): it names its handler through
`_events.DIRECT` and waits on the connector's `events()`. The steady state is checked: of the first ten
book updates of the instrument, the last five all reached the handler outside any task."""

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

        def handler(ev: VenueEvent) -> None:
            if isinstance(ev, BookUpdate) and ev.instrument == live.symbol:
                direct.append(asyncio.current_task() is None)

        async def pump() -> None:
            DIRECT.set(handler)  # this task's context, as the engine's pump sets it
            events = conn.events()
            while len(direct) < BOOKS:
                ev = await anext(events)
                if isinstance(ev, BookUpdate) and ev.instrument == live.symbol:
                    direct.append(False)  # it came through the queue

        await LiveClock().wait_for(asyncio.get_running_loop().create_task(pump()), 15)
        assert direct[-STEADY:] == [True] * STEADY, (
            f"{h.id}: book updates handed over in the read that brought them: {direct}"
        )


@pytest.mark.parametrize("case", venues())
def test_a_book_frame_reaches_the_engine_in_the_read_that_brought_it(case: Case) -> None:
    case.run(handed_over)
