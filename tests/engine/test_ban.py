"""An IP ban (HTTP 418, RELIABILITY F-RL-02, issue 13 defect 5): the venue is HALTED in the gate, the
strategy sees no book (so it stops producing orders), nothing is sent until the ban is over plus a
margin (Retry-After rounded up, plus 1 s: no second 418), and a shutdown during the ban still reports."""

from __future__ import annotations

import asyncio

from tests.engine.rig import STEP, Rig, Venue, run
from trader.clock import LiveClock
from trader.core import TradingState
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.errors import RateLimitError, VenueError
from trader.sim.session import drain
from trader.strategies.market_maker import MarketMaker, MarketMakerParams

S = 1_000_000_000


def test_a_ban_halts_the_venue_and_trading_resumes_after_it_with_a_margin() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        await rig.steps(10)
        rig.venue.ban(9.5)  # Retry-After says 9 (whole seconds, rounded down)
        banned_at = rig.clock.now_ns()
        await rig.steps(5)  # the next order draws the 418
        assert rig.venue.bans_answered >= 1
        gate = rig.engine.gate
        assert gate is not None
        assert gate.trading_state(venue=rig.engine._venue_id) == TradingState.HALTED
        assert rig.engine.summary.bans == 1
        answered, sent, denied = rig.venue.bans_answered, len(rig.venue.submissions), len(rig.strategy.denied)
        while rig.clock.now_ns() < banned_at + 10 * S - 300_000_000:
            await rig.steps(3)  # the timer runs every third step
        assert len(rig.venue.submissions) == sent, "nothing sent during the ban"
        assert len(rig.strategy.denied) - denied <= 2, "the strategy stopped producing orders"
        await rig.steps(30)  # past the ban plus the margin
        assert gate.trading_state(venue=rig.engine._venue_id) == TradingState.ACTIVE
        assert len(rig.venue.submissions) > sent, "trading resumed"
        assert rig.venue.bans_answered == answered, "no request during the ban, none too early after it"
        assert rig.engine.summary.bans == 1

    run(go)


def test_shutdown_during_a_ban_still_reports() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        await rig.steps(10)
        rig.venue.ban(120)
        await rig.steps(3)
        summary = await rig.engine.shutdown()  # raised BannedError from the final open-order check
        assert summary.bans == 1
        live = [o for o in rig.engine.ledger.live()]
        assert summary.open_orders_after_shutdown == len(live), "unverified: our live orders count"

    run(go)


def test_shutdown_retries_a_cancel_a_rate_limit_refused() -> None:
    """A cancel refused by a rate limit (ours or the venue's 429, not a ban) is tried again at shutdown
    once the limit allows, so nothing is left open (real time: the retry waits out the window)."""

    async def go() -> None:
        clock = LiveClock()
        venue = Venue(seed=1, clock=clock)  # type: ignore[arg-type]  # the venue reads only now_ns
        params = MarketMakerParams("BTCUSDT", tick=1, order_qty=50, max_inventory=400, gamma=0.05)
        strategy = MarketMaker(params)
        engine = Engine(venue, strategy, journal=Journal(":memory:"), clock=clock, config=EngineConfig())
        await engine.start()
        for _ in range(10):
            venue.step(STEP)
            await drain(venue, engine)
        assert await venue.open_orders(), "the strategy quotes"
        refused: list[str] = []
        until = clock.now_ns() + 300_000_000  # the limit's window: every cancel before then is refused

        def limited(cid: str) -> VenueError | None:
            if clock.now_ns() >= until:
                return None
            refused.append(cid)
            return RateLimitError("local rate limit", venue="sim", code="local", retry_after_ns=until)

        venue.cancel_fault = limited
        summary = await engine.shutdown()
        assert refused, "the first cancels were refused"
        assert summary.open_orders_after_shutdown == 0
        assert await venue.open_orders() == []

    asyncio.run(go())
