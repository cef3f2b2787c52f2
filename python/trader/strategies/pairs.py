"""Pairs statistical arbitrage on two instruments (e.g. KO/PEP, SPY/QQQ).

Model (floating point: analytics only). One sample per bar of `bar_s` seconds: the mids of both legs at
the bar's close, recorded when the first event (book update or timer) of a later bar arrives; `bar_s=0`
samples on every book update once both mids are known. Over the last `window` samples, ordinary least
squares of the log prices

    ln a = alpha + beta ln b + e,  beta = cov(ln b, ln a) / var(ln b),  alpha = mean(ln a) - beta mean(ln b)

and the z-score of the newest residual, `z = e_n / sd`, with `sd = sqrt(sum(e_i^2) / n)` (the residuals'
population standard deviation; their mean is 0 by construction). The fit is redone on every sample.

Trading (integer prices and quantities). Flat, with `entry_z <= |z| < stop_z` and `beta > 0`:

    z >= +entry_z   A is rich: sell A, buy B          z <= -entry_z   A is cheap: buy A, sell B

`qty_a` units of A against `qty_b = beta * qty_a * mid_a / mid_b` units of B rounded to `lot_b` (a 1%
move of B goes with a beta% move of A, so the B notional is beta times the A notional; both legs must be
priced in the same price unit). Both legs are limit orders at the far touch (buy at the ask, sell at the
bid), not post-only. Holding, the position is closed (both legs, at the touch) once z is back to within
`exit_z` of 0 or beyond it on the other side (long spread: z >= -exit_z; short spread: z <= exit_z), and
stopped out when it runs on to `stop_z` (long: z <= -stop_z; short: z >= stop_z). After a stop there is
no new entry until |z| has been below `entry_z` once. Decisions are only taken while flat (both positions
zero) or holding.

Leg risk. Each set of leg orders has a deadline: `leg_timeout_s` after it is placed, restarted at the
first fill of the set. At the deadline (checked in `on_timer(now_ns)`), every leg not yet filled is
canceled; a leg the venue rejects, cancels or expires, or the gate denies, starts the same cancel at
once. When all legs of the set are done:

- entering, no fill at all: the entry is abandoned (flat again);
- entering, legs not matched: up to `max_reprice` times the missing quantities are re-placed at the
  current touch (a new set, a new deadline); after that the filled legs are unwound (closed at the touch,
  as an exit);
- exiting (or unwinding): what is still open is re-placed at the touch, for as long as it takes.

What is missing is always worked out from the positions (tracked from `on_fill`) against the target of
the phase, so partial fills need no special case. After a gate denial the next set waits `leg_timeout_s`
(no tight loop of denied orders). The strategy is pure: no I/O, no clock; time comes with the events.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from trader.core import Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, TradePrint

_NS = 1_000_000_000


@dataclass(frozen=True)
class PairsParams:
    leg_a: str  # the regressand: ln a = alpha + beta ln b
    leg_b: str
    qty_a: int  # qty units of A per entry, a multiple of lot_a
    lot_a: int = 1
    lot_b: int = 1
    window: int = 60  # samples in the rolling fit
    bar_s: float = 60.0  # seconds per sample; 0 = every book update
    entry_z: float = 2.0
    exit_z: float = 0.5
    stop_z: float = 4.0
    leg_timeout_s: float = 5.0
    max_reprice: int = 2

    def __post_init__(self) -> None:
        if self.leg_a == self.leg_b:
            raise ConfigError("a pair needs two distinct instruments")
        if self.lot_a <= 0 or self.lot_b <= 0 or self.qty_a <= 0 or self.qty_a % self.lot_a:
            raise ConfigError("lots must be positive and qty_a a positive multiple of lot_a")
        if self.window < 3:
            raise ConfigError("the window needs at least 3 samples")
        if not 0 <= self.exit_z < self.entry_z < self.stop_z:
            raise ConfigError("need 0 <= exit_z < entry_z < stop_z")
        if self.bar_s < 0 or self.leg_timeout_s <= 0 or self.max_reprice < 0:
            raise ConfigError("bar_s >= 0, leg_timeout_s > 0 and max_reprice >= 0 are required")


class Stats(NamedTuple):
    alpha: float
    beta: float
    residual: float  # the newest sample's residual e_n
    sd: float  # population standard deviation of the residuals
    z: float


def ols_zscore(xs: Sequence[float], ys: Sequence[float]) -> Stats | None:
    """Fit ys = alpha + beta xs and z-score the last residual; None when degenerate (flat xs or an exact
    fit, where z is undefined)."""
    n = len(xs)
    if n != len(ys) or n < 3:
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx <= 1e-18:
        return None
    beta = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    alpha = my - beta * mx
    resid = [y - alpha - beta * x for x, y in zip(xs, ys, strict=True)]
    sd = math.sqrt(math.fsum(e * e for e in resid) / n)
    if sd <= 1e-12:
        return None
    return Stats(alpha, beta, resid[-1], sd, resid[-1] / sd)


class Phase(enum.Enum):
    FLAT = "flat"
    ENTERING = "entering"
    OPEN = "open"
    EXITING = "exiting"


class _LegState(enum.Enum):
    PENDING = "pending"  # Place emitted, client id not known yet
    LIVE = "live"
    DONE = "done"  # filled, canceled, rejected, expired or denied


@dataclass(slots=True)
class _Leg:
    instrument: str
    side: Side
    price: int
    qty: int
    client_id: str | None = None
    filled: int = 0
    state: _LegState = _LegState.PENDING
    canceling: bool = False


def _mid(top: BookTop) -> float:
    assert top.bid is not None
    assert top.ask is not None
    return (top.bid + top.ask) / 2


@dataclass
class PairsStatArb:
    params: PairsParams
    name: str = "pairs"
    phase: Phase = Phase.FLAT
    direction: int = 0  # +1 long the spread (long A, short B), -1 short it
    stats: Stats | None = None
    positions: dict[str, int] = field(default_factory=dict)
    reprices: int = 0  # re-placements in the current entry
    stopped: bool = False  # stopped out: no entry until |z| < entry_z
    now_ns: int = 0
    _target: dict[str, int] = field(default_factory=dict)  # signed positions the phase works toward
    _tops: dict[str, BookTop] = field(default_factory=dict)
    _samples: deque[tuple[float, float]] = field(init=False)
    _bar: int | None = None
    _legs: list[_Leg] = field(default_factory=list)
    _queued: str | None = None  # a leg set to place (its tag) as soon as allowed
    _deadline_ns: int | None = None
    _first_fill: bool = False
    _aborting: bool = False
    _denied: bool = False
    _not_before_ns: int = 0

    def __post_init__(self) -> None:
        self._samples = deque(maxlen=self.params.window)

    def position(self, instrument: str) -> int:
        return self.positions.get(instrument, 0)

    # ---- samples and statistics -------------------------------------------------------------------

    def _both(self) -> tuple[BookTop, BookTop] | None:
        a, b = self._tops.get(self.params.leg_a), self._tops.get(self.params.leg_b)
        return (a, b) if a is not None and b is not None else None

    def _close_bars(self, ts_ns: int) -> bool:
        """Record the previous bar's closing mids if `ts_ns` starts a later bar; True if sampled."""
        bar_ns = round(self.params.bar_s * _NS)
        if bar_ns == 0:
            return False
        bar = ts_ns // bar_ns
        sampled = False
        if self._bar is not None and bar > self._bar:
            sampled = self._sample()
        if self._bar is None or bar > self._bar:
            self._bar = bar
        return sampled

    def _sample(self) -> bool:
        both = self._both()
        if both is None:
            return False
        self._samples.append((math.log(_mid(both[1])), math.log(_mid(both[0]))))
        if len(self._samples) == self.params.window:
            xs, ys = zip(*self._samples, strict=True)
            self.stats = ols_zscore(xs, ys)
        return True

    # ---- decisions --------------------------------------------------------------------------------

    def _decide(self) -> list[Intent]:
        st, p = self.stats, self.params
        if st is None:
            return []
        z = st.z
        if self.phase is Phase.FLAT:
            if self.stopped:
                if abs(z) >= p.entry_z:
                    return []
                self.stopped = False
            flat = all(v == 0 for v in self.positions.values())
            waiting = self.now_ns < self._not_before_ns  # just denied: let the gate's reason clear
            if p.entry_z <= abs(z) < p.stop_z and st.beta > 0 and flat and not waiting:
                return self._enter(-1 if z > 0 else 1, st.beta)
        elif self.phase is Phase.OPEN:
            if self.direction * z <= -p.stop_z:
                self.stopped = True
                return self._exit("stop")
            if self.direction * z >= -p.exit_z:
                return self._exit("exit")
        return []

    def _enter(self, direction: int, beta: float) -> list[Intent]:
        p = self.params
        both = self._both()
        if both is None:
            return []  # a leg's book just went one-sided or crossed: no price to trade at
        qty_b = round(beta * p.qty_a * _mid(both[0]) / _mid(both[1]) / p.lot_b) * p.lot_b
        if qty_b <= 0:
            return []
        self.phase, self.direction, self.reprices = Phase.ENTERING, direction, 0
        self._target = {p.leg_a: direction * p.qty_a, p.leg_b: -direction * qty_b}
        return self._queue("entry")

    def _exit(self, tag: str) -> list[Intent]:
        self.phase = Phase.EXITING
        self._target = {self.params.leg_a: 0, self.params.leg_b: 0}
        return self._queue(tag)

    def _missing(self) -> dict[str, int]:
        """Signed quantity still to trade per instrument to reach the phase's target."""
        return {i: t - self.position(i) for i, t in self._target.items() if t != self.position(i)}

    # ---- leg sets ---------------------------------------------------------------------------------

    def _queue(self, tag: str) -> list[Intent]:
        self._queued = tag
        return self._flush()

    def _flush(self) -> list[Intent]:
        """Place the queued leg set at the current touch, if allowed now."""
        tag = self._queued
        if tag is None or self.now_ns < self._not_before_ns:
            return []
        missing = self._missing()
        legs: list[_Leg] = []
        for instrument, signed in missing.items():
            top = self._tops.get(instrument)
            if top is None:
                return []  # no touch to price at: wait for the book
            side = Side.BUY if signed > 0 else Side.SELL
            price = top.ask if side == Side.BUY else top.bid
            assert price is not None
            legs.append(_Leg(instrument, side, price, abs(signed)))
        self._queued = None
        self._legs = legs
        self._deadline_ns = self.now_ns + round(self.params.leg_timeout_s * _NS)
        self._first_fill = self._aborting = self._denied = False
        if not legs:
            return self._resolve()
        return [Place(leg.instrument, leg.side, leg.price, leg.qty, False, tag) for leg in legs]

    def _abort(self) -> list[Intent]:
        """Cancel every leg of the set not yet done; resolve once all are done."""
        self._aborting = True
        out: list[Intent] = []
        for leg in self._legs:
            if leg.state is _LegState.LIVE and not leg.canceling:
                leg.canceling = True
                assert leg.client_id is not None
                out.append(Cancel(leg.client_id))
        if all(leg.state is _LegState.DONE for leg in self._legs):
            out += self._resolve()
        return out

    def _leg_done(self, leg: _Leg) -> list[Intent]:
        if leg.state is _LegState.DONE:
            return []
        leg.state = _LegState.DONE
        if all(x.state is _LegState.DONE for x in self._legs):
            return self._resolve()
        if leg.filled < leg.qty and not self._aborting:
            return self._abort()  # the venue (or the gate) ended a leg early: leg risk now
        return []

    def _resolve(self) -> list[Intent]:
        """All legs of the set are done: next step from the positions."""
        self._legs, self._deadline_ns = [], None
        if self._denied:
            self._not_before_ns = self.now_ns + round(self.params.leg_timeout_s * _NS)
        if not self._missing():
            if self.phase is Phase.ENTERING:
                self.phase = Phase.OPEN
            else:
                self.phase, self.direction = Phase.FLAT, 0
            return []
        if self.phase is Phase.ENTERING:
            if all(self.position(i) == 0 for i in self._target):
                self.phase, self.direction = Phase.FLAT, 0  # nothing filled: abandoned
                self._target = {}
                return []
            if self.reprices < self.params.max_reprice:
                self.reprices += 1
                return self._queue("reprice")
            return self._exit("unwind")
        return self._queue("exit")  # exiting: keep working what is left

    def _find(self, client_id: str) -> _Leg | None:
        return next((leg for leg in self._legs if leg.client_id == client_id), None)

    # ---- callbacks --------------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> list[Intent]:
        p = self.params
        if top.instrument not in (p.leg_a, p.leg_b):
            return []
        self.now_ns = max(self.now_ns, top.ts_ns)
        sampled = self._close_bars(top.ts_ns)
        if top.bid is None or top.ask is None or top.bid >= top.ask or top.bid <= 0:
            self._tops.pop(top.instrument, None)
        else:
            self._tops[top.instrument] = top
        if p.bar_s == 0:
            sampled = self._sample()
        out = self._decide() if sampled else []
        return out + self._flush()

    def on_timer(self, now_ns: int) -> list[Intent]:
        self.now_ns = max(self.now_ns, now_ns)
        out = self._decide() if self._close_bars(now_ns) else []
        if (
            self._legs
            and not self._aborting
            and self._deadline_ns is not None
            and self.now_ns >= self._deadline_ns
        ):
            out += self._abort()
        return out + self._flush()

    def on_order(self, order: OwnOrder) -> list[Intent]:
        leg = self._find(order.client_id)
        if leg is None and order.live:
            leg = next(
                (
                    x
                    for x in self._legs
                    if x.state is _LegState.PENDING
                    and (x.instrument, x.side, x.price) == (order.instrument, order.side, order.price)
                ),
                None,
            )
            if leg is None:
                return []
            leg.client_id, leg.state = order.client_id, _LegState.LIVE
            if self._aborting and leg.filled < leg.qty:
                leg.canceling = True
                return [Cancel(order.client_id)]
            return []
        if leg is None or order.live:
            return []
        return self._leg_done(leg)

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        signed = fill.qty if fill.side == Side.BUY else -fill.qty
        self.positions[fill.instrument] = self.position(fill.instrument) + signed
        self.now_ns = max(self.now_ns, fill.ts_ns)
        leg = self._find(fill.client_id)
        if leg is None:
            return []
        leg.filled += fill.qty
        if not self._first_fill:
            self._first_fill = True
            self._deadline_ns = fill.ts_ns + round(self.params.leg_timeout_s * _NS)
        if leg.filled >= leg.qty:
            return self._leg_done(leg)
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        leg = next(
            (
                x
                for x in self._legs
                if x.state is _LegState.PENDING
                and (x.instrument, x.side, x.price, x.qty)
                == (place.instrument, place.side, place.price, place.qty)
            ),
            None,
        )
        if leg is None:
            return []
        self._denied = True
        return self._leg_done(leg)

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []
