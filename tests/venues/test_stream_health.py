"""`trader.venues._status.StreamHealth`: each change of a stream's health told once, stamped by the
connector's clock; nothing after the connector began closing."""

from __future__ import annotations

import asyncio

from trader.clock import SimClock
from trader.venues._status import StreamHealth, lost
from trader.venues._ws import WsDisconnected, WsStale
from trader.venues.base import Stream, StreamStatus, VenueEvent


def drain(q: asyncio.Queue[VenueEvent]) -> list[VenueEvent]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_each_change_is_told_once_with_our_time() -> None:
    q: asyncio.Queue[VenueEvent] = asyncio.Queue()
    clock = SimClock(start_ns=1_000)
    h = StreamHealth(q, clock)
    h.up(Stream.MARKET)
    assert drain(q) == [], "up for a stream that never went down says nothing"
    h.down(Stream.MARKET, "disconnected: 1006")
    h.down(Stream.MARKET, "again")
    h.down(Stream.PRIVATE, "stale")
    got = drain(q)
    assert got == [
        StreamStatus(Stream.MARKET, False, "disconnected: 1006", ts_recv=0),
        StreamStatus(Stream.PRIVATE, False, "stale", ts_recv=0),
    ]
    assert all(isinstance(e, StreamStatus) and e.ts_recv == 1_000 for e in got)
    assert h.is_down(Stream.MARKET)
    clock.advance(5_000_000_000)
    h.up(Stream.MARKET)
    h.up(Stream.MARKET)
    (up,) = drain(q)
    assert up == StreamStatus(Stream.MARKET, True, ts_recv=0)
    assert isinstance(up, StreamStatus)
    assert up.ts_recv == 1_000 + 5_000_000_000
    assert not h.is_down(Stream.MARKET)
    assert h.is_down(Stream.PRIVATE)


def test_nothing_is_told_once_closing() -> None:
    q: asyncio.Queue[VenueEvent] = asyncio.Queue()
    h = StreamHealth(q, SimClock())
    h.down(Stream.PRIVATE, "dropped")
    drain(q)
    h.stop()
    h.up(Stream.PRIVATE)
    h.down(Stream.MARKET, "closed by us")
    assert drain(q) == []


def test_reasons() -> None:
    assert lost(WsStale(2_500_000_000)) == "stale: nothing for 2.5 s"
    assert lost(WsDisconnected("no close frame")) == "disconnected: no close frame"
    assert len(lost(WsDisconnected("x" * 500))) == 200
