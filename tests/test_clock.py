"""The clock seam: simulated time wakes sleepers only when advanced; live and shifted clocks really sleep."""

from __future__ import annotations

import asyncio

import pytest

from trader.clock import LiveClock, ShiftedClock, SimClock


def test_sim_clock_sleepers_wake_in_deadline_order_only_when_advanced() -> None:
    async def go() -> None:
        clock = SimClock(start_ns=1_000)
        woke: list[str] = []

        async def sleeper(name: str, s: float) -> None:
            await clock.sleep(s)
            woke.append(name)

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("late", 2.0), ("early", 1.0), ("now", 0))]
        for _ in range(5):
            await asyncio.sleep(0)  # noqa: TID251 - let the tasks reach their sleeps
        assert woke == ["now"]
        clock.advance(999_999_999)
        await asyncio.sleep(0)  # noqa: TID251
        assert woke == ["now"]
        clock.advance(1)
        for _ in range(3):
            await asyncio.sleep(0)  # noqa: TID251
        assert woke == ["now", "early"]
        clock.set(1_000 + 5_000_000_000)
        await asyncio.gather(*tasks)
        assert woke == ["now", "early", "late"]

    asyncio.run(go())


def test_sim_clock_never_goes_backwards() -> None:
    clock = SimClock(start_ns=10)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(9)


def test_live_and_shifted_clocks_sleep_in_real_time() -> None:
    async def go() -> None:
        live = LiveClock()
        shifted = ShiftedClock(1_000_000_000_000_000_000, live)
        t0 = live.monotonic_ns()
        await shifted.sleep(0.02)
        await live.sleep(0.02)
        assert live.monotonic_ns() - t0 >= 40_000_000
        assert shifted.now_ns() >= 1_000_000_000_040_000_000

    asyncio.run(go())


def test_sim_clock_timeouts_run_in_simulated_time() -> None:
    async def go() -> None:
        clock = SimClock(start_ns=0)
        never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(clock.wait_for(never, 5.0))
        for _ in range(5):
            await asyncio.sleep(0)  # noqa: TID251 - let the task reach its wait
        clock.advance(4_999_999_999)
        await asyncio.sleep(0)  # noqa: TID251
        assert not waiting.done(), "no timeout before 5 s of simulated time"
        clock.advance(1)
        with pytest.raises(TimeoutError):
            await waiting
        assert never.cancelled(), "what timed out is cancelled"

        async def answer() -> int:
            return 7

        assert await clock.wait_for(answer(), 1.0) == 7
        assert await clock.wait_for(answer(), None) == 7

    asyncio.run(go())


def test_live_clock_times_out_in_real_time() -> None:
    async def go() -> None:
        live = LiveClock()
        t0 = live.monotonic_ns()
        with pytest.raises(TimeoutError):
            await live.wait_for(asyncio.Event().wait(), 0.02)
        assert live.monotonic_ns() - t0 >= 20_000_000

    asyncio.run(go())
