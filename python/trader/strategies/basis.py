"""Spot/perpetual basis: long spot and short the perpetual (or the reverse) while the basis pays.

Prices in the quote currency; `b` in basis points of the spot price. At the touches:

    long basis (buy spot at its ask, sell the perpetual at its bid):  b_in = (perp_bid - spot_ask) / spot_ask
    reverse    (sell spot at its bid, buy the perpetual at its ask):  b_in = (perp_ask - spot_bid) / spot_bid

Expected funding over the holding, `F = funding_bps * hold_s / funding_interval_s` (a short perpetual
receives it when the rate is positive; a long one pays it). Round-trip fees `2 * (taker_spot +
taker_perp)` (both legs in, both out, taking). Entry, flat, when the edge beats the threshold:

    long:     b_in + F - fees > entry_bps            reverse:  -b_in - F - fees > entry_bps   (`reverse`)

`qty` base on each leg, in a quantity both venues trade exactly; both legs IOC at the touches.

Exit, holding: the basis at the exit touches (long: sell spot at the bid, buy the perpetual at the ask) has
converged (long: b_out <= exit_bps; reverse: b_out >= -exit_bps), or run `stop_bps` further against the
entry (the stop: long b_out >= b_entry + stop_bps; reverse b_out <= b_entry - stop_bps), or the position is
older than `max_hold_s` (0: no limit). Both legs close with IOCs up to `slippage_bps` through the touch; the
perpetual's close is reduce-only (it can only shrink the position, never open the other way).

Delta. The strategy's delta is spot base + perpetual base (its own fills). Outside an entry or an exit it
is kept within `delta_tolerance`: a larger delta is taken back on the perpetual leg. An entry whose legs
did not both fill is completed (the missing quantity, at up to `slippage_bps` through the touch); if it is
not complete `leg_timeout_s` after it started, it is unwound (closed, as an exit). An exit is repeated
until both legs are flat, its slippage doubled after `leg_timeout_s` (after three exit orders in a row
closed unfilled, the quantity halves each time: a venue refusing a reduce-only order larger than the
position it holds is still closed down to its smallest order). After an order that closed
unfilled, the next waits `leg_timeout_s / 10` (no loop of IOCs at a price that is gone); an IOC the
venue has not closed after `ioc_timeout_s` is canceled (the engine then looks up what it did).
`delta_breach_ns` records the time spent outside the tolerance, `max_delta` the largest delta seen.

Spot shorting (`reverse`) sells base the spot account already holds; nothing is borrowed or transferred.
Funding itself is accounted by the engine (`FundingPayment` into the perpetual position's PnL and into
this strategy's, pro rata). Pure: no I/O, no clock; time comes with the events.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction

from trader.core import Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Intent, OwnFill, OwnOrder, Place, TradePrint
from trader.strategies.legs import NS, Desk, Leg, Top, bps, common_units

__all__ = ["Basis", "BasisParams", "Leg", "Phase"]


class Phase(enum.Enum):
    FLAT = "flat"
    ENTERING = "entering"
    OPEN = "open"
    EXITING = "exiting"


@dataclass(frozen=True)
class BasisParams:
    spot: Leg
    perp: Leg  # reduce_only=True: its exits are reduce-only
    qty: Fraction  # base per leg
    entry_bps: Fraction = Fraction(5)
    exit_bps: Fraction = Fraction(0)
    stop_bps: Fraction = Fraction(50)
    funding_bps: Fraction = Fraction(1)  # expected funding rate per settlement (longs pay when > 0)
    funding_interval_s: float = 8 * 3600.0
    hold_s: float = 8 * 3600.0  # expected holding, for the funding it earns
    max_hold_s: float = 0.0
    delta_tolerance: Fraction = Fraction(0)  # base; 0: one lot of the coarser leg
    leg_timeout_s: float = 3.0
    slippage_bps: Fraction = Fraction(10)
    max_age_s: float = 2.0
    reverse: bool = True
    ioc_timeout_s: float = 1.0  # an IOC still open after this is canceled (its outcome is then looked up)

    def __post_init__(self) -> None:
        if self.spot.venue == self.perp.venue and self.spot.instrument == self.perp.instrument:
            raise ConfigError("basis needs a spot and a perpetual leg, not one instrument twice")
        if self.qty <= 0 or common_units(self.qty, self.spot, self.perp) <= 0:
            raise ConfigError("basis: qty must be at least one lot of both legs")
        if not self.exit_bps < self.entry_bps + self.stop_bps or self.stop_bps <= 0:
            raise ConfigError("basis: stop_bps must be > 0")
        if self.leg_timeout_s <= 0 or self.funding_interval_s <= 0:
            raise ConfigError("basis: leg_timeout_s and funding_interval_s must be > 0")

    @property
    def fees_bps(self) -> Fraction:
        """Round trip: both legs in and out, taking."""
        return 2 * (self.spot.taker_bps + self.perp.taker_bps)

    @property
    def expected_funding_bps(self) -> Fraction:
        return self.funding_bps * Fraction(self.hold_s) / Fraction(self.funding_interval_s)

    @property
    def tolerance(self) -> Fraction:
        return self.delta_tolerance or max(self.spot.step, self.perp.step)


@dataclass
class Basis:
    params: BasisParams
    name: str = "basis"
    phase: Phase = Phase.FLAT
    direction: int = 0  # +1 long spot / short perp, -1 the reverse
    entry_basis_bps: Fraction = Fraction(0)
    entries: int = 0
    exits: int = 0
    stops: int = 0
    unwinds: int = 0
    max_delta: Fraction = Fraction(0)
    delta_breach_ns: int = 0
    desk: Desk = field(init=False)
    _phase_ns: int = 0
    _size: Fraction = Fraction(0)
    _last_ns: int = 0
    _breach: bool = False
    _retry_ns: int = 0
    _misses: int = 0  # exit orders in a row that closed unfilled

    def __post_init__(self) -> None:
        self.desk = Desk((self.params.spot, self.params.perp))

    # ---- callbacks -------------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> list[Intent]:
        if not self.desk.on_book(top):
            return []
        return self._step()

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        self.desk.on_fill(fill)
        self.desk.now_ns = max(self.desk.now_ns, fill.ts_ns)
        return self._step()

    def on_order(self, order: OwnOrder) -> list[Intent]:
        w = self.desk.on_order(order)
        if w is None or order.live:
            return []
        if w.filled == 0:  # refused, or the price was gone: not again before the next moment
            self._retry_ns = self.desk.now_ns + int(self.params.leg_timeout_s * NS / 10)
            self._misses += w.kind == "exit"
        elif w.kind == "exit":
            self._misses = 0
        return self._step()

    def on_timer(self, now_ns: int) -> list[Intent]:
        self.desk.now_ns = max(self.desk.now_ns, now_ns)
        timeout = min(self.params.ioc_timeout_s, self.params.leg_timeout_s)
        return self.desk.overdue(timeout, "entry", "exit", "hedge") + self._step()

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        """The gate refused an order (nothing was sent): the next try waits, as after an unfilled one."""
        self.desk.on_denied(place)
        self._retry_ns = self.desk.now_ns + int(self.params.leg_timeout_s * NS / 10)
        return []

    # ---- state -----------------------------------------------------------------------------------

    def _watch_delta(self) -> Fraction:
        """The delta now, with the time spent outside the tolerance."""
        now, d = self.desk.now_ns, abs(self.desk.delta())
        if self._last_ns and self._breach:
            self.delta_breach_ns += now - self._last_ns
        self._breach = d > self.params.tolerance
        self._last_ns = now
        self.max_delta = max(self.max_delta, d)
        return d

    def _to(self, phase: Phase) -> None:
        self.phase, self._phase_ns = phase, self.desk.now_ns

    def _flat(self) -> bool:
        p = self.params
        return abs(self.desk.base(p.spot.venue)) < self.desk.minimum(p.spot) and (
            abs(self.desk.base(p.perp.venue)) < self.desk.minimum(p.perp)
        )

    def _step(self) -> list[Intent]:
        self._watch_delta()
        if self.desk.working("entry", "exit", "hedge") or self.desk.now_ns < self._retry_ns:
            return []  # legs out: wait for them to close (or a moment after one closed unfilled)
        if self.phase is Phase.FLAT:
            return self._enter()
        if self.phase is Phase.ENTERING:
            return self._entering()
        if self.phase is Phase.OPEN:
            return self._holding()
        return self._exiting()

    # ---- the basis -------------------------------------------------------------------------------

    def _tops(self) -> tuple[Top, Top] | None:
        p = self.params
        s, f = self.desk.fresh(p.spot.venue, p.max_age_s), self.desk.fresh(p.perp.venue, p.max_age_s)
        return (s, f) if s is not None and f is not None else None

    def basis_bps(self, direction: int, *, entering: bool) -> Fraction | None:
        """The executable basis (perp - spot) / spot in bps at the touches an entry (or exit) of
        `direction` trades at; None without two fresh books."""
        tops = self._tops()
        if tops is None:
            return None
        s, f = tops
        p = self.params
        buy_spot = (direction > 0) == entering
        spot = p.spot.quote(s.ask if buy_spot else s.bid)
        perp = p.perp.quote(f.bid if buy_spot else f.ask)
        return bps(perp - spot, spot)

    def edge_bps(self, direction: int) -> Fraction | None:
        """The entry edge of `direction` after round-trip fees and with the expected funding."""
        b = self.basis_bps(direction, entering=True)
        if b is None:
            return None
        p = self.params
        return direction * b + direction * p.expected_funding_bps - p.fees_bps

    # ---- phases ----------------------------------------------------------------------------------

    def _enter(self) -> list[Intent]:
        p = self.params
        if not self._flat():
            self._to(Phase.EXITING)  # a position we did not plan: close it
            return self._exiting()
        for direction in (1, -1) if p.reverse else (1,):
            edge = self.edge_bps(direction)
            if edge is not None and edge > p.entry_bps:
                basis = self.basis_bps(direction, entering=True)
                assert basis is not None
                self.direction, self.entry_basis_bps = direction, basis
                self._size = common_units(p.qty, p.spot, p.perp)
                self.entries += 1
                self._to(Phase.ENTERING)
                return self._legs(Phase.ENTERING, slippage=Fraction(0))
        return []

    def _target(self, leg: Leg, phase: Phase) -> Fraction:
        if phase in (Phase.FLAT, Phase.EXITING):
            return Fraction(0)
        sign = self.direction if leg is self.params.spot else -self.direction
        return sign * self._size

    def _legs(self, phase: Phase, *, slippage: Fraction) -> list[Intent]:
        """IOCs taking each leg to its target of `phase` (exits of the perpetual reduce-only)."""
        p, out = self.params, list[Intent]()
        kind = {Phase.ENTERING: "entry", Phase.EXITING: "exit"}.get(phase, "hedge")
        for leg in (p.spot, p.perp):
            miss = self._target(leg, phase) - self.desk.base(leg.venue)
            if abs(miss) < self.desk.minimum(leg):
                continue
            side = Side.BUY if miss > 0 else Side.SELL
            if phase is Phase.EXITING and self._misses >= 3:  # refused again and again (a reduce-only
                # larger than the venue's position, say): halve it, down to the leg's smallest order
                shrunk = abs(miss) / 2 ** min(self._misses - 2, 6)
                miss = max(shrunk, self.desk.minimum(leg)) * (1 if miss > 0 else -1)
            place = self.desk.take(
                side,
                abs(miss),
                kind,
                p.max_age_s,
                slippage,
                legs=(leg,),
                reduce_only=phase is Phase.EXITING,
            )
            if place is not None:
                out.append(place)
        return out

    def _entering(self) -> list[Intent]:
        p = self.params
        done = all(
            abs(self._target(leg, Phase.OPEN) - self.desk.base(leg.venue)) < self.desk.minimum(leg)
            for leg in (p.spot, p.perp)
        )
        if done:
            self._to(Phase.OPEN)
            return []
        if self._flat():  # neither leg filled: nothing to hold
            self._to(Phase.FLAT)
            return []
        if self.desk.now_ns - self._phase_ns > p.leg_timeout_s * NS:
            self.unwinds += 1
            self._to(Phase.EXITING)
            return self._exiting()
        return self._legs(Phase.OPEN, slippage=p.slippage_bps)  # complete the entry

    def _holding(self) -> list[Intent]:
        p = self.params
        b = self.basis_bps(self.direction, entering=False)
        if b is not None:
            converged = b <= p.exit_bps if self.direction > 0 else b >= -p.exit_bps
            stopped = (b - self.entry_basis_bps) * self.direction >= p.stop_bps
            aged = p.max_hold_s > 0 and self.desk.now_ns - self._phase_ns > p.max_hold_s * NS
            if converged or stopped or aged:
                self.stops += int(stopped and not converged)
                self.exits += 1
                self._to(Phase.EXITING)
                return self._exiting()
        if abs(self.desk.delta()) > p.tolerance:  # keep the delta near zero on the perpetual
            d = self.desk.delta()
            side = Side.SELL if d > 0 else Side.BUY
            place = self.desk.take(side, abs(d), "hedge", p.max_age_s, p.slippage_bps, legs=(p.perp,))
            return [place] if place is not None else []
        return []

    def _exiting(self) -> list[Intent]:
        p = self.params
        if self._flat():
            self.direction = 0
            self._to(Phase.FLAT)
            return []
        late = self.desk.now_ns - self._phase_ns > p.leg_timeout_s * NS
        return self._legs(Phase.EXITING, slippage=p.slippage_bps * (2 if late else 1))
