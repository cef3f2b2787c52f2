"""A shared fair price across simulators: what makes a cross-venue rehearsal honest.

Each venue simulator steps its own seeded background market (`trader.sim.market`). Alone, those markets
wander apart without bound, so the spread between two venues (or between a spot book and its perpetual)
says nothing. With a `FairWorld` installed, every background market that names its asset and price unit
(`MarketParams.asset`, `MarketParams.unit`) follows one fair price of that asset instead:

    venue mid(t) = fair(t - latency) * (1 + (noise(t) + premium(t)) / 10_000)

- `fair` is one seeded path per asset in the world's quote (USD = USDT here), on a fixed time grid
  (`grid_ms`), geometric with `vol_bps` per square-root second and occasional jumps (`jump_per_s`, mean
  `jump_bps`): every venue of the asset reads the same path.
- `latency` is the venue's own delay in seeing it (drawn once per market, `latency_ms` range): a fast venue
  moves first, the others follow, and a spread opens and closes (widest after a jump).
- `noise` is the venue's own mean-reverting deviation (Ornstein-Uhlenbeck, `noise_bps` standard deviation,
  `noise_s` time constant): local order flow.
- `premium` (perpetuals only, `MarketParams.perp`) is a second mean-reverting deviation around
  `premium_bps`: the basis a spot/perp strategy trades.

Deterministic: the same world seed and the same market seeds give the same paths for the same clock
readings (tests run it on a `SimClock`). Markets built while no world is installed keep their own random
walk (`install` is what a multi-venue rehearsal calls before it builds simulators; `uninstall` after).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from trader.clock import Clock

# where a world starts an asset (quote units) when the first market of it does not say; the simulators'
# BTC books start at 50,000 (Coinbase and Kraken at 60,000: the world moves them to its own price)
START: dict[str, float] = {"BTC": 50_000.0, "XBT": 50_000.0, "ETH": 3_000.0}
ALIASES: dict[str, str] = {"XBT": "BTC", "XXBT": "BTC", "XETH": "ETH"}


@dataclass(frozen=True)
class WorldParams:
    vol_bps: float = 1.0  # the fair price's volatility per sqrt(second), in bps (BTC: ~50 % a year)
    grid_ms: int = 100  # the fair path's time step
    keep_s: float = 120.0  # how much of the path is kept for latency lookbacks
    jump_per_s: float = 1 / 30  # fair-price jumps (news, a large order elsewhere): their rate
    jump_bps: float = 25.0  # and their mean size (exponential), either way
    latency_ms: tuple[float, float] = (20.0, 600.0)  # each market's delay, drawn uniformly once
    noise_bps: float = 6.0  # each market's own deviation (stationary standard deviation)
    noise_s: float = 15.0  # its mean-reversion time constant
    premium_bps: float = 4.0  # a perpetual's mean premium over spot
    premium_sd_bps: float = 12.0  # its standard deviation
    premium_s: float = 60.0  # its time constant


class FairPath:
    """One asset's fair price on the world's grid, extended lazily and shared by every reader."""

    def __init__(self, seed: str, start: float, params: WorldParams, t0_ns: int) -> None:
        self.p = params
        self.rng = random.Random(seed)
        self.grid_ns = params.grid_ms * 1_000_000
        self.k0 = t0_ns // self.grid_ns  # the first grid point
        self.values: deque[float] = deque([start], maxlen=max(2, int(params.keep_s * 1000 / params.grid_ms)))
        self.k_last = self.k0  # the grid point of values[-1]
        self._sd = params.vol_bps / 10_000 * math.sqrt(params.grid_ms / 1000)
        self._jump_p = params.jump_per_s * params.grid_ms / 1000  # per grid step

    def at(self, t_ns: int) -> float:
        """The fair price at `t_ns` (the grid point at or before it; before the kept path: its oldest)."""
        k = t_ns // self.grid_ns
        while self.k_last < k:
            r = self.rng.gauss(0.0, self._sd)
            if self.rng.random() < self._jump_p:
                r += self.rng.choice((-1, 1)) * self.rng.expovariate(1 / self.p.jump_bps) / 10_000
            self.values.append(self.values[-1] * math.exp(r))
            self.k_last += 1
        back = self.k_last - k
        if back >= len(self.values):
            return self.values[0]
        return self.values[-1 - back]


class _OU:
    """A mean-reverting deviation in bps, stepped exactly for any step length."""

    def __init__(self, rng: random.Random, mean: float, sd: float, tau_s: float) -> None:
        self.rng, self.mean, self.sd, self.tau = rng, mean, sd, tau_s
        self.x = mean + rng.gauss(0.0, sd)

    def step(self, dt_s: float) -> float:
        a = math.exp(-dt_s / self.tau) if self.tau > 0 else 0.0
        self.x = self.mean + (self.x - self.mean) * a + self.sd * math.sqrt(1 - a * a) * self.rng.gauss(0, 1)
        return self.x


@dataclass
class Anchor:
    """One market's view of the fair price: its latency, its own noise and (perpetuals) its premium."""

    path: FairPath
    clock: Clock
    unit: float  # quote per price unit of the market
    latency_ns: int
    noise: _OU
    premium: _OU | None = None

    def mid(self, dt_ns: int = 0) -> float:
        """The market's mid in its price units now, its deviations advanced by `dt_ns`."""
        dt_s = dt_ns / 1e9
        bps = self.noise.step(dt_s) if dt_ns else self.noise.x
        if self.premium is not None:
            bps += self.premium.step(dt_s) if dt_ns else self.premium.x
        fair = self.path.at(self.clock.now_ns() - self.latency_ns)
        return fair * (1 + bps / 10_000) / self.unit


class FairWorld:
    """Fair prices per asset shared by the simulators built while it is installed."""

    def __init__(self, seed: int, clock: Clock, params: WorldParams | None = None) -> None:
        self.seed, self.clock, self.p = seed, clock, params or WorldParams()
        self.paths: dict[str, FairPath] = {}
        self.anchors: list[tuple[str, Anchor]] = []

    def path(self, asset: str, start: float) -> FairPath:
        name = ALIASES.get(asset, asset)
        if name not in self.paths:
            self.paths[name] = FairPath(
                f"fair:{self.seed}:{name}", START.get(name, start), self.p, self.clock.now_ns()
            )
        return self.paths[name]

    def anchor(self, asset: str, unit: float, start_units: float, market_seed: int, *, perp: bool) -> Anchor:
        """An anchor for a market of `asset` counting prices in `unit` (quote per price unit), starting
        where the world's path of the asset is (or at `start_units` for an asset it does not know)."""
        p = self.p
        rng = random.Random(f"anchor:{self.seed}:{market_seed}:{asset}:{int(perp)}:{len(self.anchors)}")
        latency = rng.uniform(*p.latency_ms)
        noise = _OU(rng, 0.0, p.noise_bps, p.noise_s)
        premium = _OU(rng, p.premium_bps, p.premium_sd_bps, p.premium_s) if perp else None
        a = Anchor(self.path(asset, start_units * unit), self.clock, unit, int(latency * 1e6), noise, premium)
        self.anchors.append((asset, a))
        return a


_current: FairWorld | None = None


def install(world: FairWorld) -> FairWorld:
    """Make `world` the one background markets built from now on follow (until `uninstall`)."""
    global _current
    _current = world
    return world


def uninstall() -> None:
    global _current
    _current = None


def current() -> FairWorld | None:
    return _current
