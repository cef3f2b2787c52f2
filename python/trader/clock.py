"""The one seam where time enters. Nothing else in `trader` reads the clock.

The core takes `now_ns` as an argument; the engine, connectors and simulators take a `Clock`, so
tests run in simulated time.
"""

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def now_ns(self) -> int:
        """Wall-clock time in nanoseconds since the Unix epoch."""
        ...

    def monotonic_ns(self) -> int:
        """A monotonic reading in nanoseconds, for durations and deadlines."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time (real time for `LiveClock`; until advanced for `SimClock`).
        The only way `trader` waits: `asyncio.sleep` is banned elsewhere (ruff TID251)."""
        ...

    async def wait_for(self, aw: Awaitable[T], timeout_s: float | None) -> T:
        """`aw`'s result, or `TimeoutError` once `timeout_s` of this clock's time passed (None: no limit).
        The only timeout in `trader`: `asyncio.wait_for` and `asyncio.timeout` are banned elsewhere."""
        ...


class LiveClock:
    """The real clocks."""

    def now_ns(self) -> int:
        return time.time_ns()  # noqa: TID251 - this is the clock seam

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()  # noqa: TID251 - this is the clock seam

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))  # noqa: TID251 - this is the clock seam

    async def wait_for(self, aw: Awaitable[T], timeout_s: float | None) -> T:
        return await asyncio.wait_for(aw, timeout_s)  # noqa: TID251 - this is the clock seam


class SimClock:
    """A clock that moves only when told to."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> int:
        if ns < 0:
            raise ValueError("a SimClock does not go backwards")
        self._now += ns
        self._wake()
        return self._now

    def set(self, now_ns: int) -> None:
        if now_ns < self._now:
            raise ValueError("a SimClock does not go backwards")
        self._now = now_ns
        self._wake()

    async def sleep(self, seconds: float) -> None:
        """Returns once the clock has been advanced `seconds` past now (a zero sleep yields once)."""
        if seconds <= 0:
            await asyncio.sleep(0)  # noqa: TID251 - this is the clock seam
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + int(seconds * 1e9), next(self._seq), fut))
        await fut

    async def wait_for(self, aw: Awaitable[T], timeout_s: float | None) -> T:
        """`aw`'s result, or `TimeoutError` once the clock has been advanced `timeout_s` (`aw` cancelled)."""
        if timeout_s is None:
            return await aw
        task = asyncio.ensure_future(aw)
        timer = asyncio.ensure_future(self.sleep(timeout_s))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise TimeoutError

    def _wake(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


class ShiftedClock:
    """Wall time that starts at `start_ns` and moves at the base clock's pace; `set()` jumps. A venue's
    own time (its market session) when it differs from ours, or a simulator put inside market hours."""

    def __init__(self, start_ns: int, base: Clock | None = None) -> None:
        self._base: Clock = base or LiveClock()
        self._start = start_ns
        self._t0 = self._base.monotonic_ns()

    def now_ns(self) -> int:
        return self._start + self._base.monotonic_ns() - self._t0

    def monotonic_ns(self) -> int:
        return self._base.monotonic_ns()

    def set(self, now_ns: int) -> None:
        self._start, self._t0 = now_ns, self._base.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        await self._base.sleep(seconds)

    async def wait_for(self, aw: Awaitable[T], timeout_s: float | None) -> T:
        return await self._base.wait_for(aw, timeout_s)
