"""A feed that stalls while its socket stays up (RELIABILITY F-MD-06, issue 13 defect 4): the engine's
watchdog pulls the quotes resting on that instrument within a threshold drawn from the feed's own
message rate (2 s for a feed updating every 100 ms), invalidates the gate's reference, tells the
strategy, and quoting resumes with the next book update. In simulated time."""

from __future__ import annotations

import asyncio

from tests.engine.rig import STEP, Rig, run
from trader.core import Denial, DenyReason, Side
from trader.engine.engine import EngineConfig
from trader.engine.journal import Journal
from trader.engine.staleness import FeedWatch, StaleRule

MS = 1_000_000
S = 1_000_000_000


async def _stall_until_pulled(rig: Rig, limit_s: float) -> float:
    """Time passes with no book update (the timer loop running); seconds until no quote rests."""
    loop = asyncio.get_running_loop().create_task(rig.engine._timer_loop())
    last_update = rig.clock.now_ns()
    try:
        while rig.clock.now_ns() - last_update <= limit_s * S:
            rig.clock.advance(10 * MS)
            for _ in range(10):
                await rig.clock.sleep(0)
            await rig.drain()
            if not await rig.venue.open_orders():
                return (rig.clock.now_ns() - last_update) / S
        return float("inf")
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


def test_a_stalled_feed_pulls_the_quotes_within_the_threshold_then_quoting_resumes() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        await rig.steps(30)  # an update every 100 ms
        assert await rig.venue.open_orders(), "the market maker quotes"
        pulled = await _stall_until_pulled(rig, 10.0)
        assert pulled <= 2.0 + 0.011, f"quotes pulled after {pulled:.2f}s of silence (threshold 2 s)"
        assert pulled >= 2.0 - 0.011, "not before the threshold"
        assert rig.engine.summary.stale_feeds == 1
        assert rig.engine.bid is None
        gate = rig.engine.gate
        assert gate is not None
        denial = gate.check(rig.engine._strat, rig.engine._inst, Side.BUY, 4_990_000, 50, rig.clock.now_ns())
        assert isinstance(denial, Denial)
        assert denial.reason == DenyReason.NO_REFERENCE_PRICE, "nothing trades off the stale reference"
        await rig.steps(3)  # the feed is back
        assert await rig.venue.open_orders(), "quoting resumes with the next book update"

    run(go)


def test_the_threshold_follows_the_feeds_message_rate() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        for _ in range(20):  # a slower feed: an update every 200 ms -> 20 x 200 ms = 4 s
            rig.clock.advance(STEP)
            await rig.engine.on_timer()
            rig.clock.advance(STEP)
            rig.venue.step(2 * STEP)
            await rig.drain()
        assert await rig.venue.open_orders()
        pulled = await _stall_until_pulled(rig, 10.0)
        assert 4.0 - 0.011 <= pulled <= 4.0 + 0.011

    run(go)


def test_a_fixed_threshold_can_be_configured() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"), config=EngineConfig(stale_after_s=0.5))
        await rig.engine.start()
        await rig.steps(10)
        assert await rig.venue.open_orders()
        pulled = await _stall_until_pulled(rig, 5.0)
        assert pulled <= 0.5 + 0.011

    run(go)


def test_feed_watch_rule() -> None:
    watch = FeedWatch(StaleRule(min_s=2.0, max_s=5.0, factor=20.0, min_samples=8))
    t = 0
    watch.on_update("A", t)
    assert watch.threshold_s("A") == 5.0, "few samples: the cap"
    for _ in range(20):
        t += 50 * MS
        watch.on_update("A", t)
    assert watch.newly_stale(t + 1 * S) == []
    assert watch.threshold_s("A") == 2.0, "20 x 50 ms is below the 2 s floor"
    assert watch.next_deadline() == t + 2 * S
    assert watch.newly_stale(t + 2 * S) == ["A"]
    assert watch.newly_stale(t + 3 * S) == [], "reported once per stale period"
    assert watch.next_deadline() is None
    assert watch.on_update("A", t + 4 * S), "the next update ends the stale period"
    slow = FeedWatch(StaleRule(min_samples=2))
    for i in range(10):
        slow.on_update("B", i * 10 * S)
    slow.newly_stale(90 * S)
    assert slow.threshold_s("B") == 5.0, "a slow feed is capped at a few seconds"
