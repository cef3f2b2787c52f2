"""Run a coroutine's first step now, without a trip through the event loop.

`start` makes the engine's order send a task whose first step runs inside the call (as Python 3.12's
`eager_start`): the order is signed and its bytes are handed to the socket before control returns to the
event loop; what follows (waiting for the venue's answer) continues as an ordinary task. During that first
step the new task is asyncio's current task, so timeouts (aiohttp's, `Clock.wait_for`) and cancellation
act on it and not on the caller.

`Ready` does the same for an event source: `ready()` takes the next event if it is already there (nothing
awaited) and leaves a half-taken one to `next()`, so the engine's pump can take a burst at once and
conflate it.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from asyncio import tasks
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@types.coroutine
def _resume(aw: Any, yielded: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting `aw`, which already ran to a suspension where it yielded `yielded`."""
    while True:
        try:
            value = yield yielded
        except GeneratorExit:
            aw.close()
            raise
        except BaseException as e:  # a cancellation (or any error) thrown into the task goes to `aw`
            try:
                yielded = aw.throw(e)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = aw.send(value)
            except StopIteration as stop:
                return stop.value


class _First(Generic[T]):
    """A coroutine's first step, taken now, and its continuation as the task's body."""

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.yielded: Any = None

    def step(self) -> None:
        try:
            self.yielded = self.coro.send(None)
        except StopIteration as stop:
            self.finished, self.result = True, stop.value
        except BaseException as e:  # the task raises it: its done-callback sees it as it would
            self.finished, self.error = True, e

    async def rest(self) -> T:
        if self.finished:
            if self.error is not None:
                raise self.error
            return self.result  # type: ignore[no-any-return]
        return await _resume(self.coro, self.yielded)  # type: ignore[no-any-return]


def start(coro: Coroutine[Any, Any, T], context: contextvars.Context | None = None) -> asyncio.Task[T]:
    """A task for `coro` whose first step has run when this returns (in `context`, as the task's)."""
    loop = asyncio.get_running_loop()
    ctx = context if context is not None else contextvars.copy_context()
    if sys.version_info >= (3, 12):  # pragma: no cover - the project runs 3.11
        return asyncio.Task(coro, loop=loop, context=ctx, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    first = _First(coro)
    task = loop.create_task(first.rest(), context=ctx)
    current = tasks.current_task(loop)
    if current is not None:
        tasks._leave_task(loop, current)
    tasks._enter_task(loop, task)
    try:
        ctx.run(first.step)
    finally:
        tasks._leave_task(loop, task)
        if current is not None:
            tasks._enter_task(loop, current)
    return task


class Ready(Generic[T]):
    """An async iterator whose next item can be taken only if it is already there."""

    def __init__(self, source: AsyncIterator[T]) -> None:
        self._it = source.__aiter__()
        self._pending: tuple[Any, Any] | None = None

    async def next(self) -> T:
        """The next item, waiting for it (`StopAsyncIteration` at the end)."""
        if self._pending is not None:
            aw, yielded = self._pending
            self._pending = None
            return await _resume(aw, yielded)  # type: ignore[no-any-return]
        return await anext(self._it)

    def ready(self) -> tuple[bool, T | None]:
        """(True, item) when the next item was there without waiting; else (False, None) and `next`
        waits for it (`StopAsyncIteration` at the end)."""
        if self._pending is not None:
            return False, None
        aw = self._it.__anext__()
        try:
            yielded = aw.send(None)  # type: ignore[attr-defined]
        except StopIteration as stop:
            return True, stop.value
        self._pending = (aw, yielded)
        return False, None
