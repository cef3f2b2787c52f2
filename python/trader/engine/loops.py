"""The engine's running loops: each venue's event pump, the timer, supervised services, and the wait
until the session ends (duration, `stop()`, or a loop that died: the session fails loudly)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.engine.eager import Ready
from trader.venues._events import DIRECT
from trader.venues.base import BookUpdate, VenueEvent

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

log = logging.getLogger("trader.engine")


BURST = 4096  # at most this many events taken at once


async def pump(engine: Engine, v: VenueState) -> None:
    """A venue's events into `handle`; an error handling one event is counted and the next one
    follows. The stream itself failing ends the pump (and the session, loudly: `run`).

    Every event already waiting is taken at once (nothing awaited) and conflated: a book update followed
    in the burst by a newer one of the same instrument is skipped (counted, `Latency.conflated`), so when
    the engine falls behind the strategies see the latest book, never a backlog. Everything else (fills,
    order reports, book invalidations, trades) is handled, in order.

    A connector whose events come through a `trader.venues._events.EventQueue` hands its events to the
    pump's handler directly while the pump waits (`DIRECT`): a burst, conflated the same way, in the call
    that read them from the socket, with no hop through the event loop."""

    def direct(burst: list[VenueEvent]) -> None:
        for ev in conflate(engine, burst):
            try:
                engine.handle(ev, v)
            except Exception as e:
                engine._task_error(f"{v.name}: handling {type(ev).__name__}", e)

    DIRECT.set(direct)  # this task's context: the connector's queue reads it while the pump waits
    source: Ready[VenueEvent] = Ready(v.connector.events())
    ended = False
    while not ended:
        burst: list[VenueEvent] = []
        try:
            burst.append(await source.next())
            while len(burst) < BURST:
                there, ev = source.ready()
                if not there:
                    break
                burst.append(ev)  # type: ignore[arg-type]  # there: an event
        except StopAsyncIteration:
            ended = True
            if not burst:
                return
        direct(burst)


def conflate(engine: Engine, burst: list[VenueEvent]) -> list[VenueEvent]:
    """The burst without the book updates a later one of the same instrument supersedes."""
    if len(burst) == 1:
        return burst
    latest: dict[str, int] = {}
    for i, ev in enumerate(burst):
        if isinstance(ev, BookUpdate):
            latest[ev.instrument] = i
    out = [ev for i, ev in enumerate(burst) if not isinstance(ev, BookUpdate) or latest[ev.instrument] == i]
    engine.lat.conflated += len(burst) - len(out)
    return out


class Collector:
    """Garbage collection off the hot path (real time): what start-up built is frozen out of every pass,
    automatic collection (which runs wherever an allocation crosses a threshold: inside a tick) is off, and
    the timer collects the young generations each tick and everything every `FULL_EVERY` ticks."""

    FULL_EVERY = 240  # a minute at the default 250 ms timer

    def __init__(self) -> None:
        self.was_enabled = gc.isenabled()
        self.ticks = 0

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        gc.disable()

    def tick(self) -> None:
        self.ticks += 1
        gc.collect(2 if self.ticks % self.FULL_EVERY == 0 else 1)

    def stop(self) -> None:
        gc.unfreeze()
        if self.was_enabled:
            gc.enable()


class Idle:
    """Work for the idle turns of a busy-polling loop: each call registered here (an engine's rehearsal,
    `trader.engine.rehearsal`) runs about every `every_ns`, between two polls of the sockets."""

    def __init__(self, every_ns: int = 1_000_000) -> None:
        self.every_ns = every_ns
        self.calls: list[Callable[[], None]] = []
        self._next_ns = 0

    def add(self, call: Callable[[], None]) -> Callable[[], None]:
        """Register `call`; returns what removes it."""
        self.calls.append(call)
        return lambda: self.calls.remove(call)

    def run(self, now_ns: int) -> None:
        if now_ns >= self._next_ns and self.calls:
            for call in self.calls:
                call()
            self._next_ns = now_ns + self.every_ns


IDLE: contextvars.ContextVar[Idle | None] = contextvars.ContextVar("trader_idle", default=None)
"""The busy-polling loop's `Idle`, for the engines it runs (None: the loop sleeps when it waits)."""


async def busy_poll(clock: Clock, idle: Idle | None = None) -> None:
    """Keep the event loop polling its sockets without ever sleeping in the kernel (`--busy-poll`), until
    cancelled: a task that only yields, so the loop always has work and polls with a zero timeout; the
    `idle` work runs between polls.

    What it buys: a frame or an answer is read without the wake-up from an idle core, and with the
    engine's rehearsal (`trader.engine.rehearsal`, in `idle`) the next order's code is warm when the
    tick comes. Measured on the 2-core VM of `make bench` (`benches/test_bench_engine.py` runs both
    ways). What it costs: one core, all the time; use it on a colocated box with a core to give (pin it,
    `--cpu`), not on a shared laptop."""
    while True:
        await clock.sleep(0)
        if idle is not None:
            idle.run(clock.monotonic_ns())


def next_feed_deadline(engine: Engine) -> int | None:
    deadlines = [d for v in engine.venues.values() if (d := v.feeds.next_deadline()) is not None]
    return min(deadlines, default=None)


async def timer_loop(engine: Engine) -> None:
    """`on_timer` every `timer_ms`, and the feed watchdog also at the moment a feed turns stale."""
    period = engine.cfg.timer_ms * 1_000_000
    clock = engine.clock
    next_tick = clock.monotonic_ns() + period
    while True:
        wake = next_tick
        if (deadline := next_feed_deadline(engine)) is not None:  # on our wall clock (ts_recv)
            wake = min(wake, clock.monotonic_ns() + max(deadline - clock.now_ns(), 1_000_000))
        await clock.sleep((wake - clock.monotonic_ns()) / 1e9)
        try:
            mono = clock.monotonic_ns()
            if mono >= next_tick:
                next_tick = max(next_tick + period, mono + 1)
                await engine.on_timer()
                if engine.collector is not None:
                    engine.collector.tick()
            else:
                now = clock.now_ns()
                for v in engine.venues.values():
                    engine._check_feeds(v, now)
        except Exception as e:
            engine._task_error("timer", e)


async def supervise(
    engine: Engine, name: str, service: Callable[[Engine], Coroutine[Any, Any, None]]
) -> None:
    """Run a service; when it fails, count it and start it again after a pause."""
    while True:
        try:
            await service(engine)
            return
        except Exception as e:
            engine._task_error(f"service {name}", e)
        await engine.clock.sleep(1.0)


async def run_until(
    engine: Engine,
    duration_s: float | None,
    on_tick: Callable[[Engine], None] | None,
    pumps: dict[asyncio.Task[None], VenueState],
    timer: asyncio.Task[None],
) -> None:
    loop = asyncio.get_running_loop()
    waiter = loop.create_task(engine._stop.wait())
    end = None if duration_s is None else engine.clock.monotonic_ns() + int(duration_s * 1e9)
    watched = {waiter, timer, *pumps}
    disarm = engine.rehearsal.arm()  # while the session runs, when the loop busy-polls
    try:
        while not any(t.done() for t in watched):
            left = 0.25 if end is None else min(0.25, (end - engine.clock.monotonic_ns()) / 1e9)
            if left <= 0:
                break
            tick = loop.create_task(engine.clock.sleep(left))
            await asyncio.wait({*watched, tick}, return_when=asyncio.FIRST_COMPLETED)
            tick.cancel()
            if on_tick is not None:
                on_tick(engine)
    finally:
        disarm()
    waiter.cancel()
    for task, what in (
        (timer, "timer"),
        *((p, f"{v.name}: venue event stream") for p, v in pumps.items()),
    ):
        if task.done():  # neither ends on its own: stop loudly
            why = "cancelled" if task.cancelled() else repr(task.exception() or "ended")
            engine.summary.failure = f"{what} stopped: {why}"
            log.error("%s stopped (%s): shutting down, the session failed", what, why)
