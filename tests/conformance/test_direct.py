"""No hop on the market-data path (issue 18), for every venue against its simulator: while the engine
waits for events, a book frame is parsed, applied to the book and handed to the engine in the very call
that read it from the socket (the transport's read callback: no task runs it), not queued for a task to
take on a later turn of the event loop.

Here a reader stands in for the engine's pump (`trader.engine.loops.pump`): it names its handler through
`_events.DIRECT` and waits on the connector's `events()`. The steady state is checked: of the first ten
book updates of the instrument, the last five all reached the handler outside any task (an update that
came through the queue reaches it from the reader's task). Fills of ours likewise: a taking order's
fills reach the engine in the read of the private stream (or order socket) that brought them."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.harness import Harness, Need, until
from tests.helpers import stand_in_pump
from trader.core import Side
from trader.venues.base import BookUpdate, FillReport

BOOKS, STEADY = 10, 5


async def handed_over(h: Harness) -> None:
    async with h.open() as live, AsyncExitStack() as stack:
        seen = stand_in_pump(live.conn, stack)

        def books() -> list[bool]:  # per book update: handed over in the read (True) or by the queue
            return [d for ev, d in seen if isinstance(ev, BookUpdate) and ev.instrument == live.symbol]

        await until(lambda: len(books()) >= BOOKS, 15, "ten book updates")
        direct = books()
        assert direct[BOOKS - STEADY : BOOKS] == [True] * STEADY, (
            f"{h.id}: book updates handed over in the read that brought them: {direct}"
        )


@pytest.mark.parametrize("case", venues())
def test_a_book_frame_reaches_the_engine_in_the_read_that_brought_it(case: Case) -> None:
    case.run(handed_over)


async def fill_handed_over(h: Harness) -> None:
    async with h.open() as live, AsyncExitStack() as stack:
        top = await h.top(live)
        seen = stand_in_pump(live.conn, stack)
        a = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live))
        await live.conn.submit(a, "conf-in-read", live.symbol)

        def fills() -> list[bool]:  # per fill of ours: handed over in the read (True) or by the queue
            return [d for ev, d in seen if isinstance(ev, FillReport) and ev.client_id == "conf-in-read"]

        await until(lambda: bool(fills()), 10, "our fill")
        assert fills() == [True] * len(fills()), f"{h.id}: fills handed over in the read: {fills()}"


@pytest.mark.parametrize("case", venues(Need.LIMIT))
def test_a_fill_of_ours_reaches_the_engine_in_the_read_that_brought_it(case: Case) -> None:
    case.run(fill_handed_over)
