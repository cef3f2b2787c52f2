"""The queue between a connector and the engine, with direct delivery (no hop on the hot path).

A connector puts its events (`put_nowait`) and serves them from `events()` (`get`), as with an
`asyncio.Queue`. When the reader is waiting for the next event, an event is handed to the reader's handler
in the same call instead: a market-data frame is parsed, applied to the book and handed to the strategy in
the call that read it from the socket, with no trip through the event loop. The reader names its handler
through `DIRECT` (a `ContextVar` its task sets: the engine's pump does); the handler takes a burst of
events, oldest first (the pump conflates it). Without a handler the queue is a plain queue.

When the connector is behind (`BEHIND`, set by `trader.venues._ws` for a frame when a later one was
already read: in the same read, or waiting for the stream's reader), its events are held in the queue;
the next event put while not behind takes them along, in order, in one burst, or the end of the read
does (`end_of_read`): the frames of one read reach the engine in that read, conflated (the strategy sees
the latest book, never a backlog). Events
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
        if self._direct is None or self._delivering:
            super().put_nowait(item)
        elif BEHIND.get():  # a later frame of the same read follows: held until the read's end
            super().put_nowait(item)
            _HELD.add(self)
        else:
            self._hand_over(item)

    def _hand_over(self, item: T | None = None) -> None:
        """The events held (or not yet taken), oldest first, then `item`, in one burst to the handler."""
        handler = self._direct
        assert handler is not None
        burst: list[T] = []
        while not self.empty():
            burst.append(super().get_nowait())
        if item is not None:
            burst.append(item)
        if not burst:
            return
        self._delivering = True
        self.delivered += len(burst)
        try:
            handler(burst)
        finally:
            self._delivering = False


_HELD: set[EventQueue[Any]] = set()  # queues holding events of the read being handed over


def end_of_read() -> None:
    """The transport handed over every message of one read (`trader.venues._ws`): events held for a later
    message that put none (a heartbeat, a pong, an acknowledgement) go to their waiting readers now."""
    while _HELD:
        q = _HELD.pop()
        if q._direct is not None and not q._delivering:
            q._hand_over()
