"""A connector's stream health as venue events: `StreamStatus(stream, up=False, reason)` when its market or
private stream is lost, `StreamStatus(stream, up=True)` once it is back and resynced. Each change is told
once (a stream already down is not reported down again; `up` for a stream that never went down says
nothing), stamped by the connector's clock."""

from __future__ import annotations

import asyncio

from trader.clock import Clock
from trader.venues._ws import WsDisconnected, WsStale
from trader.venues.base import Stream, StreamStatus, VenueEvent


class StreamHealth:
    def __init__(self, queue: asyncio.Queue[VenueEvent], clock: Clock) -> None:
        self._queue = queue
        self._clock = clock
        self._down: set[Stream] = set()
        self._stopped = False

    def stop(self) -> None:
        """The connector is closing: its streams end on purpose, nothing more is told."""
        self._stopped = True

    def down(self, stream: Stream, reason: str) -> None:
        if stream in self._down or self._stopped:
            return
        self._down.add(stream)
        self._queue.put_nowait(StreamStatus(stream, False, reason, ts_recv=self._clock.now_ns()))

    def up(self, stream: Stream) -> None:
        if stream not in self._down or self._stopped:
            return
        self._down.discard(stream)
        self._queue.put_nowait(StreamStatus(stream, True, ts_recv=self._clock.now_ns()))

    def is_down(self, stream: Stream) -> bool:
        return stream in self._down


def lost(ev: WsDisconnected | WsStale) -> str:
    """Why a WebSocket stream is down, for `StreamStatus.reason`."""
    if isinstance(ev, WsStale):
        return f"stale: nothing for {ev.silence_ns / 1e9:.1f} s"
    return f"disconnected: {ev.reason}"[:200]
