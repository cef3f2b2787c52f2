"""Stream health, for every venue against its simulator: when the connection of the connector's market
stream or of its private stream is cut (as the network would), the connector reports that stream down
(`StreamStatus(up=False)`, with a reason, stamped by our clock), then up once it is back and resynced, and
the stream works again: a valid top of book after the market stream, an order's report on the private one.
Where the two streams are separate connections, cutting one leaves the other reported up."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.harness import WALL, Harness, Live, Need, SteppedClock
from trader.core import Side
from trader.venues.base import OrderReport, OrderState, Stream, StreamStatus, VenueEvent


async def _status_until_up(live: Live, stream: Stream, timeout: float = 5.0) -> list[VenueEvent]:
    """Every event up to the `StreamStatus(stream, up=True)` that follows a `StreamStatus(stream, down)`."""
    seen: list[VenueEvent] = []

    async def read() -> None:
        down = False
        async for ev in live.conn.events():
            seen.append(ev)
            if isinstance(ev, StreamStatus) and ev.stream is stream:
                if not ev.up:
                    down = True
                elif down:
                    return

    await WALL.wait_for(read(), timeout)
    return seen


def _statuses(seen: list[VenueEvent], stream: Stream) -> list[StreamStatus]:
    return [e for e in seen if isinstance(e, StreamStatus) and e.stream is stream]


async def _works_again(h: Harness, live: Live, stream: Stream, top: tuple[int, int]) -> None:
    if stream is Stream.MARKET:
        bid, ask = await h.top(live)
        assert bid < ask
        return
    a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
    await live.conn.submit(a, "after-status", live.symbol)

    async def opened() -> Any:
        async for ev in live.conn.events():
            if isinstance(ev, OrderReport) and ev.client_id == "after-status":
                return ev
        return None

    report = await WALL.wait_for(opened(), 5.0)
    assert report.state is OrderState.OPEN
    await live.conn.cancel("after-status")


async def dropped(h: Harness, stream: Stream) -> None:
    clock = SteppedClock()
    clock.step_ns = 3_600_000_000_000  # ours runs an hour ahead of the simulator's
    async with h.open(clock=clock) as live:
        top = await h.top(live)
        before = live.clock.now_ns()
        await h.drop_stream(live, stream)
        seen = await _status_until_up(live, stream)
        down, up = _statuses(seen, stream)
        assert (down.up, up.up) == (False, True)
        assert down.reason, "a stream reported down says why"
        assert before <= down.ts_recv <= up.ts_recv <= live.clock.now_ns(), "stamped by our clock"
        other = Stream.PRIVATE if stream is Stream.MARKET else Stream.MARKET
        if not h.shared_session:
            assert _statuses(seen, other) == [], f"cutting the {stream} stream left the {other} one alone"
        await _works_again(h, live, stream, top)


@pytest.mark.parametrize("case", venues())
def test_a_dropped_market_stream_is_reported_down_then_up(case: Case) -> None:
    case.run(lambda h: dropped(h, Stream.MARKET), timeout=15)


@pytest.mark.parametrize("case", venues(Need.LIMIT))  # the private stream is shown working by an order
def test_a_dropped_private_stream_is_reported_down_then_up(case: Case) -> None:
    case.run(lambda h: dropped(h, Stream.PRIVATE), timeout=15)
