"""The engine's hot path (issue 18): an order's send starts before control returns to the event loop
(`eager.start`), an event reaches the engine in the call that put it (`EventQueue` direct delivery, in
order), a burst is conflated (the strategy sees the latest book), and the figures reach the summary."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from trader.clock import SimClock
from trader.engine import eager, loops
from trader.engine.latency import Latency, Series, percentile
from trader.venues._events import BEHIND, DIRECT, EventQueue, end_of_read
from trader.venues.base import BookInvalid, BookUpdate, VenueEvent

TURN = SimClock()  # a zero sleep: one turn of the event loop


def _book(inst: str, bid: int, ts: int = 0) -> BookUpdate:
    return BookUpdate(inst, bid, 1, bid + 1, 1, ts, ts)


def test_eager_start_runs_the_first_step_now_as_the_new_task() -> None:
    seen: list[Any] = []

    async def send(fut: asyncio.Future[int]) -> int:
        seen.append(("first step", asyncio.current_task()))
        got = await fut
        seen.append(("rest", asyncio.current_task()))
        return got * 2

    async def go() -> None:
        caller = asyncio.current_task()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = eager.start(send(fut))
        assert seen == [("first step", task)], "ran inside the call, as the new task"
        assert asyncio.current_task() is caller, "and the caller is the current task again"
        fut.set_result(21)
        assert await task == 42
        assert seen[1] == ("rest", task)

        async def at_once() -> str:
            return "x"

        assert await eager.start(at_once()) == "x"

        async def fails() -> None:
            raise ValueError("boom")

        failed = eager.start(fails())
        with pytest.raises(ValueError, match="boom"):  # the error reaches whoever awaits the task
            await failed

    asyncio.run(go())


def test_eager_task_can_be_cancelled_while_it_waits() -> None:
    async def waits(fut: asyncio.Future[None]) -> None:
        await fut

    async def go() -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = eager.start(waits(fut))
        await TURN.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()
        assert fut.cancelled(), "the cancellation reached what the coroutine awaited"

    asyncio.run(go())


def test_event_queue_hands_events_over_in_order() -> None:
    got: list[tuple[str, object]] = []

    async def go() -> None:
        q: EventQueue[object] = EventQueue()

        def handler(burst: list[object]) -> None:
            got.append(("direct", burst))
            if burst == ["a"]:
                q.put_nowait("nested")  # put while handling: queued, after
                q.put_nowait("b")  # behind a queued event: queued

        async def reader() -> None:
            DIRECT.set(handler)
            while True:
                got.append(("queued", await q.get()))

        task = asyncio.get_running_loop().create_task(reader())
        q.put_nowait("before")  # nobody waits yet: queued
        await TURN.sleep(0)
        await TURN.sleep(0)
        q.put_nowait("a")
        await TURN.sleep(0)
        q.put_nowait("c")  # the queue is drained and the reader waits again: direct
        BEHIND.set(True)  # frames of one read with a later one after them: held
        q.put_nowait("d")
        q.put_nowait("e")
        BEHIND.set(False)
        q.put_nowait("f")  # the read's last frame: takes them along, in order, in one burst
        BEHIND.set(True)
        q.put_nowait("g")  # held; the read's later frames put nothing (a heartbeat, a pong)
        BEHIND.set(False)
        end_of_read()  # the transport is done with the read: handed over now
        BEHIND.set(True)
        q.put_nowait("h")  # held, and no read ends (the stream's reader took it): the pump takes it
        BEHIND.set(False)
        await TURN.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        plain: asyncio.Queue[object] = EventQueue()  # no handler named: a plain queue
        plain.put_nowait(1)
        assert plain.get_nowait() == 1
        assert q.delivered == 1 + 1 + 3 + 1

    asyncio.run(go())
    assert got == [
        ("queued", "before"),
        ("direct", ["a"]),
        ("queued", "nested"),
        ("queued", "b"),
        ("direct", ["c"]),
        ("direct", ["d", "e", "f"]),
        ("direct", ["g"]),
        ("queued", "h"),
    ]


def test_conflate_keeps_the_latest_book_per_instrument_and_everything_else() -> None:
    engine = SimpleNamespace(lat=Latency())
    burst: list[VenueEvent] = [
        _book("X", 1),
        _book("Y", 10),
        BookInvalid("X", "gap", ts_recv=0),
        _book("X", 2),
        _book("X", 3),
        _book("Y", 11),
    ]
    out = loops.conflate(engine, burst)  # type: ignore[arg-type]
    assert out == [burst[2], burst[4], burst[5]]
    assert engine.lat.conflated == 3
    assert loops.conflate(engine, [burst[0]]) == [burst[0]]  # type: ignore[arg-type]
    assert engine.lat.conflated == 3


def test_the_pump_takes_a_burst_at_once_and_the_strategy_sees_the_latest_book() -> None:
    handled: list[VenueEvent] = []
    burst = [_book("X", k) for k in range(50)]

    class Source:
        async def events(self) -> AsyncIterator[VenueEvent]:
            for ev in burst:
                yield ev  # all there at once: the engine fell behind

    engine = SimpleNamespace(
        lat=Latency(), handle=lambda ev, v: handled.append(ev), _task_error=lambda *a: None
    )
    venue = SimpleNamespace(connector=Source(), name="x")
    asyncio.run(loops.pump(engine, venue))  # type: ignore[arg-type]
    assert handled == [burst[-1]]
    assert engine.lat.conflated == 49


def test_latency_series_and_percentiles() -> None:
    s = Series()
    for ns in range(1, 1001):
        s.add(ns * 1000)
    st = s.stats()
    assert st["count"] == 1000
    assert (st["p50"], st["p99"], st["max"]) == (500_000, 990_000, 1_000_000)
    assert s.stats(last=10)["p50"] == 995_000
    assert percentile([], 0.5) == 0
    lat = Latency()
    lat.on_sent(100, 0, 500)  # never on the wire: not counted
    lat.on_sent(100, 300, None)  # on the wire, no ack
    lat.on_sent(None, 300, 900)  # no tick (a timer's order): a round trip only
    assert (lat.tick_to_wire.count, lat.round_trip.count) == (1, 1)
    assert (lat.tick_to_wire.max_ns, lat.round_trip.max_ns) == (200, 600)


def test_summary_reports_tick_to_wire() -> None:
    from tests.engine.rig import Rig, run
    from trader.engine.journal import Journal

    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        rig.engine.lat.tick_to_wire.add(123_000)
        rig.engine.lat.round_trip.add(456_000)
        rig.engine.lat.conflated = 7
        summary = await rig.engine.shutdown()
        assert summary.tick_to_wire_p50_us == summary.tick_to_wire_max_us == 123.0
        assert summary.tick_to_wire_ns["count"] == 1
        assert summary.order_round_trip_p50_us == 456.0
        assert summary.conflated == 7
        snap = rig.engine.snapshot()
        assert (snap.tick_to_wire_p99_us, snap.conflated) == (123.0, 7)

    run(go)


def test_simulated_time_is_not_eager_and_real_time_is() -> None:
    from tests.engine.rig import Rig
    from trader.clock import LiveClock
    from trader.engine.engine import Engine, EngineConfig
    from trader.engine.journal import Journal

    rig = Rig(Journal(":memory:"))
    assert isinstance(rig.clock, SimClock)
    assert not rig.engine.eager
    live = Engine(rig.venue, rig.strategy, journal=Journal(":memory:"), clock=LiveClock())
    assert live.eager
    off = Engine(
        rig.venue,
        rig.strategy,
        journal=Journal(":memory:"),
        clock=LiveClock(),
        config=EngineConfig(eager_send=False),
    )
    assert not off.eager


class _Node:
    me: object = None


def test_the_collector_runs_from_the_timer_and_restores_the_process_state() -> None:
    import gc
    import weakref

    assert gc.isenabled()
    c = loops.Collector()
    c.start()
    try:
        assert not gc.isenabled(), "no automatic pass inside a tick"
        assert gc.get_freeze_count() > 0, "start-up's objects frozen"
        cycle = _Node()
        cycle.me = cycle
        ref = weakref.ref(cycle)
        del cycle
        assert ref() is not None, "garbage waits for the timer"
        c.tick()
        assert ref() is None, "the timer's pass collects it"
    finally:
        c.stop()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
