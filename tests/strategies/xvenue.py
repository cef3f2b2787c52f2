"""A rig for the cross-venue strategies in simulated time: in-process simulated venues, each with its own
fees, whose background markets follow one shared fair price (`trader.sim.fair`), under one engine."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from trader.clock import SimClock
from trader.config import RiskLimits
from trader.core import Approval
from trader.engine.engine import Engine, EngineConfig, StrategySetup, VenueSetup
from trader.engine.journal import Journal
from trader.sim import fair, matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.session import drain
from trader.strategies.base import Strategy
from trader.strategies.legs import Leg
from trader.venues.base import InstrumentInfo, SubmitAck
from trader.venues.sim import SimConnector, errors

T0 = 1_700_000_000_000_000_000
STEP = 100_000_000
WIDE = RiskLimits(
    max_gross_notional=Decimal(10_000_000),
    max_net_notional=Decimal(10_000_000),
    max_open_orders=60,
    max_orders_per_sec=200,
    daily_loss_limit=Decimal(100_000),
    daily_loss_halt=Decimal(100_000),
)


@dataclass(frozen=True)
class Spec:
    name: str
    symbol: str
    maker_bps: int
    taker_bps: int
    perp: bool = False
    tick: str = "0.01"  # quote per price unit
    lot: str = "0.001"  # base per qty unit


def leg(spec: Spec, canonical: str) -> Leg:
    return Leg(
        spec.name,
        canonical,
        Fraction(spec.tick),
        Fraction(spec.lot),
        Fraction(spec.maker_bps),
        Fraction(spec.taker_bps),
        min_qty=1,
        min_notional=Fraction(5),
        reduce_only=spec.perp,
    )


class Venue(SimConnector):
    """A simulated venue that can be told to refuse every order (`refuse`), as a venue down or a leg
    the exchange rejects."""

    refuse = False
    refused = 0

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        if self.refuse:
            self.refused += 1
            raise errors.error_from(self.venue, errors.REJECTED, "refused (test)")
        return await super().submit(approval, client_id, instrument)


class Rig:
    """Venues of `specs` on one SimClock and one fair world; `strategies` on legs of them."""

    def __init__(
        self,
        specs: list[Spec],
        strategies: list[tuple[Strategy, tuple[tuple[str, str], ...]]],
        *,
        seed: int = 3,
        world: fair.WorldParams | None = None,
        canonical: dict[str, str] | None = None,
    ) -> None:
        self.clock = SimClock(T0)
        self.world = fair.install(fair.FairWorld(seed, self.clock, world))
        try:
            self.venues = {s.name: self._venue(s, seed + i) for i, s in enumerate(specs)}
        finally:
            fair.uninstall()
        cfg = EngineConfig(
            risk=WIDE, max_order_qty="5", max_order_notional="250000", max_position="10", collar_bps=500
        )
        names = canonical or {}
        self.engine = Engine(
            [
                VenueSetup(
                    v,
                    dataclasses.replace(cfg, symbol=s.symbol),
                    canonical={s.symbol: names.get(s.symbol, s.symbol)},
                    name=s.name,
                )
                for s, v in zip(specs, self.venues.values(), strict=True)
            ],
            [StrategySetup(st, legs=legs) for st, legs in strategies],
            journal=Journal(":memory:"),
            clock=self.clock,
            config=cfg,
        )

    def _venue(self, s: Spec, seed: int) -> Venue:
        unit = Decimal(s.tick) * Decimal(s.lot)
        eng = matching.MatchingEngine(
            maker_fee_bps=Decimal(s.maker_bps), taker_fee_bps=Decimal(s.taker_bps), unit_notional=unit
        )
        params = MarketParams(
            mid=int(50_000 / Decimal(s.tick)), max_qty=200, asset="BTC", unit=float(s.tick), perp=s.perp
        )
        mkt = BackgroundMarket(eng, params, seed=seed)
        mkt.seed_book(20)
        info = InstrumentInfo(s.symbol, "BTC", "USDT", s.tick, s.lot, s.lot, "5")
        return Venue(eng, mkt, s.symbol, self.clock, info)

    async def drain(self) -> None:
        for n, v in self.venues.items():
            await drain(v, self.engine, n)

    async def steps(self, n: int, every: int = 3) -> None:
        for i in range(n):
            self.clock.advance(STEP)
            for v in self.venues.values():
                v.step(STEP)
            await self.drain()
            if i % every == every - 1:
                await self.engine.on_timer()
                await self.drain()
