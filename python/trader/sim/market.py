"""A seeded background market: a drifting mid and Poisson arrivals of other participants' limit orders,
market orders and cancels, so a strategy sees a moving book and gets realistic fills.

Same seed, same steps: the same orders, trades and book (tests run in simulated time).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from trader.sim import fair
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade

OWNER = "market"
BAND = 0.005  # a market order's protective limit from the mid, when following a fair price
DEPTH = 0.0001  # and the mean distance of a limit order from the mid then (1 bp)


@dataclass(frozen=True)
class MarketParams:
    mid: int  # starting mid, price units
    tick: int = 1  # price units per tick
    volatility_ticks: float = 2.0  # standard deviation of the mid's move per second, in ticks
    limit_rate: float = 40.0  # limit orders per second
    market_rate: float = 2.0  # market orders per second
    cancel_rate: float = 30.0  # cancels per second
    mean_distance_ticks: float = 4.0  # mean distance of a limit order from the mid
    min_qty: int = 1
    max_qty: int = 10
    # a shared fair price (`trader.sim.fair`): followed when a world is installed and the market names
    # its asset and price unit (quote per price unit); `perp` adds a perpetual's premium
    asset: str = ""
    unit: float = 0.0
    perp: bool = False


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; the rates times one step stay small."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class BackgroundMarket:
    def __init__(
        self, engine: MatchingEngine, params: MarketParams, seed: int, first_order_id: int = 1 << 40
    ) -> None:
        self.engine = engine
        self.p = params
        self.rng = random.Random(seed)
        self.mid = float(params.mid)
        self._next_id = first_order_id
        self._resting: list[int] = []
        world = fair.current() if params.asset and params.unit > 0 else None
        self.anchor = (
            world.anchor(params.asset, params.unit, self.mid, seed, perp=params.perp) if world else None
        )
        if self.anchor is not None:
            self.mid = self.anchor.mid()

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _qty(self) -> int:
        return self.rng.randint(self.p.min_qty, self.p.max_qty)

    def seed_book(self, levels: int = 10) -> None:
        """A two-sided book around the mid to start from."""
        t = self.p.tick
        center = round(self.mid / t) * t
        for i in range(1, levels + 1):
            for side, price in ((Side.BUY, center - i * t), (Side.SELL, center + i * t)):
                if price > 0:
                    o = SimOrder(self._id(), OWNER, side, price, self._qty())
                    if self.engine.submit(o).resting:
                        self._resting.append(o.order_id)

    def _limit(self, side: Side) -> int | None:
        """A market order's price: none (it takes what is there), or, following a fair price, a
        protective limit `BAND` from the mid, as venues' price bands do (a thin book is not swept to an
        order resting anywhere)."""
        if self.anchor is None:
            return None
        t = self.p.tick
        return max(round(self.mid * (1 + BAND if side is Side.BUY else 1 - BAND) / t) * t, t)

    def step(self, dt_ns: int) -> list[Trade]:
        """Advance `dt_ns` of simulated time; returns the trades that happened (any owner's orders)."""
        dt = dt_ns / 1e9
        rng, p, t = self.rng, self.p, self.p.tick
        if self.anchor is not None:  # the shared fair price, as this venue sees it
            self.mid = max(self.anchor.mid(dt_ns), t)
        else:
            self.mid = max(self.mid + rng.gauss(0.0, p.volatility_ticks * t * math.sqrt(dt)), t)
        trades: list[Trade] = []
        mean_distance = p.mean_distance_ticks
        if self.anchor is not None:  # a fair price moves in bps: the book spans a few bps around it
            mean_distance = max(mean_distance, self.mid * DEPTH / t)
        for _ in range(_poisson(rng, p.limit_rate * dt)):
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            distance = 1 + int(rng.expovariate(1 / mean_distance))
            ticks = round(self.mid / t) + (-distance if side is Side.BUY else distance)
            if ticks <= 0:
                continue
            o = SimOrder(self._id(), OWNER, side, ticks * t, self._qty())
            r = self.engine.submit(o)
            trades.extend(r.trades)
            if r.resting:
                self._resting.append(o.order_id)
        for _ in range(_poisson(rng, p.market_rate * dt)):
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            trades.extend(
                self.engine.submit(
                    SimOrder(self._id(), OWNER, side, self._limit(side), self._qty(), Tif.IOC)
                ).trades
            )
        for _ in range(_poisson(rng, p.cancel_rate * dt)):
            self._resting = [i for i in self._resting if i in self.engine.orders]
            if self._resting:
                self.engine.cancel(self._resting.pop(rng.randrange(len(self._resting))))
        return trades
