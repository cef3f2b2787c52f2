"""Reads ib_async keys by name (`openOrders`, `completedOrders`, `positions`): its `startReq` keeps one
future per key, so a second read open under a key at the same time takes the first's answer and leaves
the first unanswered until it times out. `KeyedReads` lets only one read per key be in flight: callers of
the same read at the same time share it, another read under the key waits for it to end, and a read
after it has answered asks anew."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

_R = TypeVar("_R")


class KeyedReads:
    """`send(request, what, priority=)` sends one read and returns its answer (the connector's paced,
    timed-out `_ask`)."""

    def __init__(self, send: Callable[..., Awaitable[Any]]) -> None:
        self._send = send
        self._inflight: dict[str, tuple[str, asyncio.Future[Any]]] = {}  # key -> (what, its read)

    async def ask(
        self, key: str, request: Callable[[], Awaitable[_R]], what: str, *, priority: bool = False
    ) -> _R:
        """The answer of read `what` (`request`) under ib_async's `key`."""
        task: asyncio.Future[_R]
        while True:
            current = self._inflight.get(key)
            if current is None or current[1].done():
                task = asyncio.ensure_future(self._send(request, what, priority=priority))
                self._inflight[key] = (what, task)
                task.add_done_callback(partial(self._forget, key))
                break
            if current[0] == what:
                task = current[1]
                break
            await asyncio.wait([current[1]])  # another read under the key: after it
        return await asyncio.shield(task)

    def _forget(self, key: str, done: asyncio.Future[Any]) -> None:
        if key in self._inflight and self._inflight[key][1] is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: its callers got it (or all of them left)
