"""What the cross-venue strategies (`xarb`, `basis`) share: a leg's units and fees, the orders they have
working, their positions per leg, and taking a quantity at the best price with a bounded slippage.

Each venue counts prices and quantities in its own integer units (a price unit of 0.01 USDT on one, 0.1
USD on another; a quantity unit of 0.00001 BTC here, 0.0001 there). A `Leg` says what one unit is, in the
quote currency and in the base asset, and what the venue charges (its default-tier fees, basis points),
so prices compare across venues and every edge is computed after both venues' fees. Exact arithmetic
(`Fraction`); nothing here is a float on the order path.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from trader.core import Side, TimeInForce
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place

NS = 1_000_000_000
BPS = Fraction(10_000)


@dataclass(frozen=True)
class Leg:
    """One instrument on one venue, as a cross-venue strategy sees it."""

    venue: str
    instrument: str  # canonical name (what the engine calls it on every venue)
    price_unit: Fraction  # quote currency per price unit
    qty_unit: Fraction  # base asset per quantity unit
    maker_bps: Fraction
    taker_bps: Fraction
    tick: int = 1  # price units per tick
    lot: int = 1  # quantity units per lot
    min_qty: int = 1  # quantity units
    min_notional: Fraction = Fraction(0)  # quote currency
    reduce_only: bool = False  # a derivatives leg: exits are reduce-only

    def quote(self, price: int) -> Fraction:
        return price * self.price_unit

    def base(self, qty: int) -> Fraction:
        return qty * self.qty_unit

    def units(self, base: Fraction) -> int:
        """`base` in this leg's quantity units, down to a whole lot."""
        lots = math.floor(Fraction(base) / (self.qty_unit * self.lot))
        return max(lots, 0) * self.lot

    def price_units(self, quote: Fraction, *, up: bool) -> int:
        """A quote-currency price in this leg's price units, on the tick (rounded up or down)."""
        ticks = Fraction(quote) / (self.price_unit * self.tick)
        return (math.ceil(ticks) if up else math.floor(ticks)) * self.tick

    @property
    def step(self) -> Fraction:
        """The smallest tradable base amount (one lot)."""
        return self.qty_unit * self.lot

    @property
    def smallest(self) -> Fraction:
        """The smallest order, in base."""
        return self.qty_unit * max(self.min_qty, self.lot)


def common_units(base: Fraction, *legs: Leg) -> Fraction:
    """The largest amount not above `base` that every leg can trade exactly (their lots are powers of ten
    apart, so the coarsest lot divides into the others)."""
    coarse = max(leg.step for leg in legs)
    return math.floor(Fraction(base) / coarse) * coarse


def bps(x: Fraction, of: Fraction) -> Fraction:
    return (x / of) * BPS


class Top(NamedTuple):
    """A usable top of book: two-sided, uncrossed, recent."""

    bid: int
    bid_qty: int
    ask: int
    ask_qty: int
    ts_ns: int


@dataclass(slots=True)
class Working:
    """An order a strategy has out: which leg, which side, what for, and how much of it filled."""

    leg: Leg
    side: Side
    qty: int
    kind: str  # "arb", "hedge", "quote", "entry", "exit"
    placed_ns: int
    price: int = 0
    client_id: str = ""
    filled: int = 0
    cancel_sent: bool = False


@dataclass
class Desk:
    """The orders and positions of one cross-venue strategy, kept from the engine's callbacks.

    The engine answers a `Place` with `on_order` before it acts on the next intent, so a new client id
    belongs to the oldest pending order of its venue, instrument and side."""

    legs: tuple[Leg, ...]
    tops: dict[str, BookTop] = field(default_factory=dict)  # venue -> its leg's last top
    positions: dict[str, int] = field(default_factory=dict)  # venue -> quantity units (signed)
    orders: dict[str, Working] = field(default_factory=dict)  # client id -> live order
    pending: deque[Working] = field(default_factory=deque)
    now_ns: int = 0
    max_spread_bps: Fraction = Fraction(50)  # a wider top is a hollow book (or only our own quotes)

    def leg(self, venue: str) -> Leg:
        for leg in self.legs:
            if leg.venue == venue:
                return leg
        raise KeyError(venue)

    def owns(self, venue: str, instrument: str) -> bool:
        return any(leg.venue == venue and leg.instrument == instrument for leg in self.legs)

    # ---- positions -----------------------------------------------------------------------------

    def base(self, venue: str) -> Fraction:
        return self.leg(venue).base(self.positions.get(venue, 0))

    def delta(self) -> Fraction:
        """Net base exposure over every leg (a long spot leg and an equal short perpetual: zero)."""
        return sum((self.base(leg.venue) for leg in self.legs), Fraction(0))

    def minimum(self, leg: Leg) -> Fraction:
        """The smallest order `leg` takes, in base: its minimum quantity, and its minimum notional at
        its last price (a delta below every leg's minimum is dust no venue can trade)."""
        top = self.tops.get(leg.venue)
        price = top.bid if top is not None and top.bid else (top.ask if top is not None else None)
        if not leg.min_notional or not price:
            return leg.smallest
        need = leg.min_notional * Fraction(102, 100) / leg.quote(price)  # room for a hedge's slippage
        return max(leg.smallest, math.ceil(need / leg.step) * leg.step)

    def dust(self, base: Fraction) -> bool:
        """Whether `base` is below what any leg can trade."""
        return abs(base) < min(self.minimum(leg) for leg in self.legs)

    # ---- market data ---------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> bool:
        if not self.owns(top.venue, top.instrument):
            return False
        self.tops[top.venue] = top
        self.now_ns = max(self.now_ns, top.ts_ns)
        return True

    def fresh(self, venue: str, max_age_s: float) -> Top | None:
        """The venue's top if it is two-sided, uncrossed, no wider than `max_spread_bps` and no older
        than `max_age_s`: the only tops a decision is taken on."""
        t = self.tops.get(venue)
        if t is None or t.bid is None or t.ask is None or t.bid >= t.ask:
            return None
        if self.now_ns - t.ts_ns > max_age_s * NS or (t.ask - t.bid) * BPS > self.max_spread_bps * t.bid:
            return None
        return Top(t.bid, t.bid_qty, t.ask, t.ask_qty, t.ts_ns)

    # ---- orders --------------------------------------------------------------------------------

    def place(
        self,
        leg: Leg,
        side: Side,
        price: int,
        qty: int,
        kind: str,
        *,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> Place:
        self.pending.append(Working(leg, side, qty, kind, self.now_ns, price))
        tif = TimeInForce.GTC if post_only else TimeInForce.IOC
        return Place(
            leg.instrument, side, price, qty, post_only, kind, leg.venue, tif, reduce_only and leg.reduce_only
        )

    def _match_pending(self, venue: str, instrument: str, side: Side) -> Working | None:
        for w in self.pending:
            if w.leg.venue == venue and w.leg.instrument == instrument and w.side == side:
                self.pending.remove(w)
                return w
        return None

    def on_order(self, o: OwnOrder) -> Working | None:
        """Track `o`; the order it is (None: not one of ours). A closed order leaves the desk."""
        w = self.orders.get(o.client_id)
        if w is None:
            w = self._match_pending(o.venue, o.instrument, o.side)
            if w is None:
                return None
            w.client_id = o.client_id
            self.orders[o.client_id] = w
        if not o.live:
            del self.orders[o.client_id]
        return w

    def on_fill(self, f: OwnFill) -> Working | None:
        if not self.owns(f.venue, f.instrument):
            return None
        signed = f.qty if f.side == Side.BUY else -f.qty
        self.positions[f.venue] = self.positions.get(f.venue, 0) + signed
        w = self.orders.get(f.client_id)
        if w is not None:
            w.filled += f.qty
        return w

    def on_denied(self, place: Place) -> Working | None:
        return self._match_pending(place.venue, place.instrument, place.side)

    def working(self, *kinds: str) -> list[Working]:
        """Orders out (placed, live or not yet acknowledged) of these kinds (all when none given)."""
        out = [w for w in (*self.pending, *self.orders.values()) if not kinds or w.kind in kinds]
        return out

    def overdue(self, timeout_s: float, *kinds: str) -> list[Intent]:
        """Cancels for live orders of `kinds` out longer than `timeout_s` (an IOC the venue sits on); one
        still open three timeouts after its cancel is no longer waited for (its fills still count)."""
        out: list[Intent] = []
        for cid, w in list(self.orders.items()):
            age = self.now_ns - w.placed_ns
            if w.kind not in kinds or age <= timeout_s * NS:
                continue
            if not w.cancel_sent:
                w.cancel_sent = True
                out.append(Cancel(cid))
            elif age > 4 * timeout_s * NS:
                del self.orders[cid]
        return out

    # ---- taking --------------------------------------------------------------------------------

    def take(
        self,
        side: Side,
        base: Fraction,
        kind: str,
        max_age_s: float,
        slippage_bps: Fraction,
        *,
        legs: tuple[Leg, ...] | None = None,
        reduce_only: bool = False,
    ) -> Place | None:
        """An IOC for `base` (or what one venue can take of it) on the leg (of `legs`, default all) with
        the best price after its taker fee, at most `slippage_bps` through that leg's touch; None when no
        leg can."""
        best: tuple[Fraction, Leg, int] | None = None
        for leg in legs or self.legs:
            top = self.fresh(leg.venue, max_age_s)
            if top is None or leg.units(base) < leg.min_qty or base < self.minimum(leg):
                continue
            touch = top.ask if side == Side.BUY else top.bid
            fee = leg.taker_bps / BPS
            net = leg.quote(touch) * (1 + fee) if side == Side.BUY else -leg.quote(touch) * (1 - fee)
            if best is None or net < best[0]:
                best = (net, leg, touch)
        if best is None:
            return None
        _, leg, touch = best
        slip = slippage_bps / BPS
        if side == Side.BUY:
            price = leg.price_units(leg.quote(touch) * (1 + slip), up=False)
        else:
            price = leg.price_units(leg.quote(touch) * (1 - slip), up=True)
        price = max(price, leg.tick)
        return self.place(leg, side, price, leg.units(base), kind, reduce_only=reduce_only)
