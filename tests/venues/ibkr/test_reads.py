"""KeyedReads: one read in flight per ib_async key; callers of the same read share it, another read
under the key waits for it, a read after an answer asks anew, and a failure reaches each caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from trader.clock import LiveClock
from trader.venues.ibkr.reads import KeyedReads

CLOCK = LiveClock()


async def turns() -> None:
    """Two turns of the loop: a task started now has sent its read."""
    await CLOCK.sleep(0)
    await CLOCK.sleep(0)


class Gateway:
    """Reads that answer when the test says; `log` is what was sent, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.pending: list[asyncio.Future[list[str]]] = []

    async def send(self, request: Callable[[], Awaitable[Any]], what: str, *, priority: bool = False) -> Any:
        return await request()

    def read(self, what: str) -> Callable[[], Awaitable[list[str]]]:
        async def go() -> list[str]:
            self.log.append(what)
            fut: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
            self.pending.append(fut)
            return await fut

        return go


def test_same_read_shared_other_read_after_it_and_a_new_one_after_the_answer() -> None:
    async def go() -> None:
        gw = Gateway()
        reads = KeyedReads(gw.send)
        a = asyncio.ensure_future(reads.ask("openOrders", gw.read("open"), "open"))
        b = asyncio.ensure_future(reads.ask("openOrders", gw.read("open"), "open"))
        c = asyncio.ensure_future(reads.ask("openOrders", gw.read("all"), "all"))
        d = asyncio.ensure_future(reads.ask("positions", gw.read("pos"), "pos"))
        await turns()
        assert gw.log == ["open", "pos"], "one read per key in flight; other keys go at once"
        gw.pending[0].set_result(["o1"])
        assert await a == await b == ["o1"]
        await turns()
        assert gw.log == ["open", "pos", "all"], "the other read under the key went after the first"
        gw.pending[2].set_result(["a1"])
        gw.pending[1].set_result(["p1"])
        assert (await c, await d) == (["a1"], ["p1"])
        e = asyncio.ensure_future(reads.ask("openOrders", gw.read("open"), "open"))
        await turns()
        assert gw.log == ["open", "pos", "all", "open"], "after the answer a read asks anew"
        gw.pending[3].set_exception(ConnectionError("dropped"))
        with pytest.raises(ConnectionError):
            await e

    asyncio.run(go())
