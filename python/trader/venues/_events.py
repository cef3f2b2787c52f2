"""The queue between a connector and the engine, with direct delivery (no hop on the hot path).

A connector puts its events (`put_nowait`) and serves them from `events()` (`get`), as with an
`asyncio.Queue`. When the reader is waiting for the next event, an event is handed to the reader's handler
in the same call instead: a market-data frame is parsed, applied to the book and handed to the strategy in
the call that read it from the socket, with no trip through the event loop. The reader names its handler
through `DIRECT` (a `ContextVar` its task sets: the engine's pump does); the handler takes a burst of
events, oldest first (the pump conflates it). Without a handler the queue is a plain queue.

When the connector is behind (`BEHIND`, set by `trader.venues._ws` for a frame when a later one was
already read: in the same read, or waiting for the stream's reader), its events are held in the queue;
the next event put while not behind takes them along, in order, in one burst (the frames of one read
reach the engine in that read, conflated: the strategy sees the latest book, never a backlog). Events
put while the handler runs (re-entrantly) wait in the queue for the reader's next turn; the order of
events never changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DIRECT: ContextVar[Callable[[list[Any]], None] | None] = ContextVar("trader_direct_events", default=None)
BEHIND: ContextVar[bool] = ContextVar("trader_reader_behind", default=False)


class EventQueue(asyncio.Queue[T], Generic[T]):
    def __init__(self) -> None:
        super().__init__()
        self._direct: Callable[[list[Any]], None] | None = None
        self._delivering = False
        self.delivered = 0  # events handed over directly

    async def get(self) -> T:
        handler = DIRECT.get()
        if handler is None or not self.empty():
            return await super().get()
        self._direct = handler
        try:
            return await super().get()
        finally:
            self._direct = None

    def put_nowait(self, item: T) -> None:
        handler = self._direct
        if handler is None or self._delivering or BEHIND.get():
            super().put_nowait(item)
            return
        burst: list[T] = []
        while not self.empty():  # held while behind (or not yet taken): they go first, in order
            burst.append(super().get_nowait())
        burst.append(item)
        self._delivering = True
        self.delivered += len(burst)
        try:
            handler(burst)
        finally:
            self._delivering = False
