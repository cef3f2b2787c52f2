"""A paper-trading session in simulated time: the engine against the in-process simulated venue.

The same `Engine` that trades live (gate, journal, order state machine, reconciliation), driven step by
step by a simulated clock against `SimConnector` (pure-Python matching with a seeded background market).
No credentials, no network, and deterministic for a seed: what the tests and `trader paper --fast` run.
`trader paper` without `--fast` runs the engine in real time against the loopback simulator instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from trader.clock import LiveClock, SimClock
from trader.config import RiskLimits
from trader.engine.engine import DEFAULT_RISK, Engine, EngineConfig, Summary
from trader.engine.journal import Journal
from trader.engine.paper import INSTRUMENT, demo_market_maker
from trader.sim import matching
from trader.sim.binance.spotbook import MAKER_BPS, TAKER_BPS  # the sim venue: Binance spot's default tier
from trader.sim.market import BackgroundMarket, MarketParams
from trader.venues.sim import SimConnector


@dataclass(frozen=True)
class PaperConfig:
    seed: int = 7
    duration_s: float = 60.0
    step_ms: int = 100
    journal: Path | None = None
    risk: RiskLimits | None = None  # global limits; defaults sized for the demo


async def drain(venue: SimConnector, engine: Engine, name: str | None = None) -> None:
    """Process every queued venue event (of the engine's venue `name`, default its first) and every send
    or cancel they cause, until quiet."""
    state = engine.venues[name] if name is not None else None
    while True:
        events = venue.drain()
        for ev in events:
            engine.handle(ev, state)
        await engine.settle()
        if not events:
            return


class PaperSession:
    def __init__(self, config: PaperConfig) -> None:
        self.cfg = config
        self.clock = SimClock(start_ns=1_700_000_000_000_000_000)
        self.unit_notional = Decimal("0.00001")  # one price unit x one qty unit, in USDT
        self.matching = matching.MatchingEngine(
            maker_fee_bps=MAKER_BPS, taker_fee_bps=TAKER_BPS, unit_notional=self.unit_notional
        )
        market = BackgroundMarket(self.matching, MarketParams(mid=5_000_000, max_qty=200), seed=config.seed)
        market.seed_book(20)
        wall = LiveClock()
        self.venue = SimConnector(self.matching, market, INSTRUMENT, self.clock)
        self.strategy = demo_market_maker()
        self.journal = Journal(config.journal if config.journal is not None else ":memory:")
        try:
            self.engine = Engine(
                self.venue,
                self.strategy,
                journal=self.journal,
                clock=self.clock,
                config=EngineConfig(symbol=INSTRUMENT, risk=config.risk or DEFAULT_RISK),
                latency_clock=wall,
            )
        except BaseException:  # a journal the engine refuses (another venue's) is left as it was
            self.journal.close()
            raise
        self._steps = 0

    async def start(self) -> None:
        await self.engine.start()
        await self._drain()

    async def _drain(self) -> None:
        await drain(self.venue, self.engine)

    async def step(self) -> None:
        """Advance the simulated market by one step and let the engine react to it."""
        dt = self.cfg.step_ms * 1_000_000
        self.clock.advance(dt)
        self.venue.step(dt)
        await self._drain()
        self._steps += 1
        if self._steps % max(1, self.engine.cfg.timer_ms // self.cfg.step_ms) == 0:
            await self.engine.on_timer()
            await self._drain()

    async def shutdown(self) -> Summary:
        summary = await self.engine.shutdown()
        await self._drain()
        summary.seconds = self._steps * self.cfg.step_ms / 1000
        return summary

    async def run_async(self) -> Summary:
        await self.start()
        for _ in range(int(self.cfg.duration_s * 1000 / self.cfg.step_ms)):
            await self.step()
        return await self.shutdown()

    def run(self) -> Summary:
        return asyncio.run(self.run_async())
