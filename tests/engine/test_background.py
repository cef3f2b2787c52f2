"""Every background task the engine depends on survives its own errors (logged, counted in the summary's
`task_errors`) or stops the engine loudly; none dies quietly (issue 13, defect 1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.engine.rig import STEP, Rig, run, status
from trader.clock import LiveClock
from trader.engine import loops, oms
from trader.engine.journal import Journal
from trader.errors import VenueUnavailableError
from trader.strategies.base import BookTop, Intent
from trader.venues.base import VenueEvent


async def _yield(rig: Rig, times: int = 20) -> None:
    for _ in range(times):
        await rig.clock.sleep(0)


def test_stream_resolving_one_unknown_while_the_timer_asks_about_another() -> None:
    """The timer awaits the venue's answer about one unknown order; meanwhile the private stream
    resolves the other one. The round goes on; both end resolved."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        first_two: list[str] = []

        def drop(cid: str) -> str | None:
            if len(first_two) < 2:
                first_two.append(cid)
                rig.venue.muted.add(cid)  # neither the answer nor the stream tells us
                return "drop"
            return None

        rig.venue.fault = drop
        await rig.engine.start()
        await rig.steps(1)
        assert len(first_two) == 2
        orders = [rig.engine.ledger.orders[c] for c in first_two]
        assert all(status(o) is oms.OrderStatus.UNKNOWN for o in orders)
        asking, release = asyncio.Event(), asyncio.Event()
        asked: list[str] = []

        async def hold(cid: str) -> None:
            if not asked:
                asked.append(cid)
                asking.set()
                await release.wait()

        rig.venue.query_hook = hold
        timer = asyncio.get_running_loop().create_task(rig.engine.on_timer())
        await LiveClock().wait_for(asking.wait(), 5)
        other = next(c for c in first_two if c != asked[0])
        rig.venue.muted.clear()
        for ev in rig.venue.held:  # the private stream catches up on the other order
            if getattr(ev, "client_id", None) == other:
                rig.engine.handle(ev)
        release.set()
        await LiveClock().wait_for(timer, 5)  # raised KeyError before the fix
        await rig.drain()
        assert all(status(o) is not oms.OrderStatus.UNKNOWN for o in orders)
        assert rig.venue.submissions.count(other) == 1

    run(go)


class _FlakyError(Exception):
    pass


def test_timer_loop_survives_an_error_and_still_polls_the_kill_switch() -> None:
    async def go() -> None:
        journal = Journal(":memory:")
        rig = Rig(journal)
        await rig.engine.start()
        await rig.steps(3)
        failures = [1]

        def on_timer(now_ns: int) -> list[Intent]:
            if failures:
                failures.pop()
                raise _FlakyError("a strategy bug")
            return []

        rig.strategy.on_timer = on_timer  # type: ignore[method-assign]
        loop = asyncio.get_running_loop().create_task(rig.engine._timer_loop())
        try:
            for _ in range(5):
                rig.clock.advance(rig.engine.cfg.timer_ms * 1_000_000)
                await _yield(rig)
            assert not loop.done(), "the timer loop is alive after the error"
            assert rig.engine.summary.task_errors == 1
            journal.next_value("kill")  # `trader kill` from another process
            for _ in range(3):
                rig.clock.advance(rig.engine.cfg.timer_ms * 1_000_000)
                await _yield(rig)
                await rig.drain()
            gate = rig.engine.gate
            assert gate is not None
            assert gate.is_killed(), "the kill switch is still polled"
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)

    run(go)


def test_event_pump_survives_a_failing_handler() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        failures = [1]
        real = rig.strategy.on_book

        def on_book(top: BookTop) -> list[Intent]:
            if failures:
                failures.pop()
                raise _FlakyError("a strategy bug")
            return real(top)

        rig.strategy.on_book = on_book  # type: ignore[method-assign]
        pump = asyncio.get_running_loop().create_task(rig.engine._pump(rig.engine.primary))
        try:
            for _ in range(3):
                rig.clock.advance(STEP)
                rig.venue.step(STEP)
                await _yield(rig)
                await rig.engine.settle()
            assert not pump.done(), "the pump is alive after the error"
            assert rig.engine.summary.task_errors == 1
            assert rig.engine.ledger.live(), "later book updates reached the strategy"
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    run(go)


def test_a_send_that_fails_unexpectedly_leaves_the_order_unknown_not_submitted() -> None:
    """A bug or an unclassified error in the connector's submit: the order may or may not have reached
    the venue, so it is UNKNOWN (asked about, never resent), and the error is counted."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        sent: list[str] = []
        real = rig.venue.submit

        async def submit(approval, client_id, instrument):
            if not sent:
                sent.append(client_id)
                rig.venue.muted.add(client_id)
                await real(approval, client_id, instrument)
                raise _FlakyError("connector bug after sending")
            return await real(approval, client_id, instrument)

        rig.venue.submit = submit  # type: ignore[method-assign]
        await rig.engine.start()
        await rig.steps(1)
        order = rig.engine.ledger.orders[sent[0]]
        assert status(order) is oms.OrderStatus.UNKNOWN
        assert rig.engine.summary.task_errors == 1
        rig.venue.muted.clear()
        await rig.steps(3)
        assert status(order) is not oms.OrderStatus.UNKNOWN, "resolved by asking the venue"
        assert rig.venue.submissions.count(sent[0]) == 1

    run(go)


def test_a_failing_service_is_restarted() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        calls: list[int] = []

        async def service(engine: object) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise _FlakyError("a feed bug")
            await asyncio.Event().wait()

        task = asyncio.get_running_loop().create_task(loops.supervise(rig.engine, "service", service))
        try:
            for _ in range(20):
                rig.clock.advance(STEP)
                await _yield(rig)
            assert len(calls) == 2, "restarted after the error"
            assert rig.engine.summary.task_errors == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(go)


def test_a_dead_event_stream_stops_the_session_loudly() -> None:
    """The venue's event stream failing is not survivable: the engine cancels everything, reports, and
    the summary says the session failed (the CLI exits non-zero)."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"))

        async def events() -> AsyncIterator[VenueEvent]:
            for ev in rig.venue.drain():
                yield ev
            raise VenueUnavailableError("stream closed", venue="sim")

        rig.venue.events = events  # type: ignore[method-assign]
        summary = await LiveClock().wait_for(rig.engine.run(60.0), 10)
        assert "venue event stream stopped" in summary.failure
        assert "stream closed" in summary.failure
        assert summary.open_orders_after_shutdown == 0

    run(go)
