"""Cross-exchange arbitrage: one asset on two or more venues, each with its own fees.

Taker-taker. On every book update, for every ordered pair of venues (buy on A at its ask, sell on B at its
bid), the edge after BOTH venues' taker fees is

    net_bps = (bid_B - ask_A) / ask_A * 10_000 - taker_A - taker_B      (prices in the quote currency)

and when the best pair's `net_bps` exceeds `min_edge_bps`, both legs go out at once as IOC limit orders at
those touches, for the smallest of `qty`, the two touches' sizes and what the inventory limits allow, in a
quantity both venues can trade exactly. A spread narrower than the two fees never trades.

Maker-taker (Hummingbot's cross-exchange market making). The strategy quotes post-only on the maker venue
(`maker_venue`: the less liquid one; by default the leg with the highest taker fee, where taking costs
most) at prices that earn `min_edge_bps` after the maker venue's maker fee and the hedge venue's taker fee
if they fill and are hedged at the other venues' current touch:

    bid = best other bid * (1 - (maker_M + taker_H + min_edge) / 10_000)
    ask = best other ask * (1 + (maker_M + taker_H + min_edge) / 10_000)

A quote whose target moved by more than `requote_bps` is canceled and placed again. A fill of a quote is
hedged at once (below).

Leg risk. The strategy's delta is its net base position over every venue (its own fills only). Whenever
no arbitrage or hedge order is out and the delta is at least the smallest order a venue takes, an IOC
takes it back on the venue with the best price after its taker fee, at most `hedge_slippage_bps` through
the touch; that is a hedge (the missing leg done elsewhere) or an unwind (the filled leg reversed), which
ever is cheaper. A hedge that does not fill is tried again on the next event; once the delta has been open
`leg_timeout_s`, the slippage allowed doubles (bound in time); a venue where an arbitrage or hedge order
just closed unfilled (refused, or its price gone) is tried last for a while. No new arbitrage starts while
a delta is open, and no arbitrage is larger than `qty` (bound in size). An IOC the venue has not closed
after `ioc_timeout_s` is canceled (the engine then looks up what it did). `unhedged_max_ns` records the
longest time a delta stayed open.

Inventory and transfers. Each venue's position stays within +-`max_inventory` (base): an arbitrage or a
quote that would take a venue past it is not made. The strategy never moves assets between venues (no
withdrawals, no deposits, no transfers): each venue trades from the balances it holds, so an arbitrage that
keeps buying on one venue and selling on another stops at the inventory limit until the spread turns and
trades back. Rebalancing accounts is an operator's job, outside the engine.

Pure: no I/O, no clock; time comes with the events.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from trader.core import Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, TradePrint
from trader.strategies.legs import BPS, NS, Desk, Leg, Top, Working, bps, common_units

__all__ = ["Leg", "XArb", "XArbParams", "taker_edge_bps"]

Mode = Literal["taker", "maker", "both"]


def taker_edge_bps(buy: Leg, ask: int, sell: Leg, bid: int) -> Fraction:
    """Buying at `ask` on `buy` and selling at `bid` on `sell`: the edge after both taker fees, bps."""
    cost = buy.quote(ask)
    return bps(sell.quote(bid) - cost, cost) - buy.taker_bps - sell.taker_bps


@dataclass(frozen=True)
class XArbParams:
    legs: tuple[Leg, ...]  # one per venue, the same asset
    qty: Fraction  # base per arbitrage (and per quote)
    max_inventory: Fraction  # base, per venue, either way
    min_edge_bps: Fraction = Fraction(2)  # after both venues' fees
    mode: Mode = "taker"
    maker_venue: str = ""  # maker-taker: the venue quoted on ("" = the leg with the highest taker fee)
    leg_timeout_s: float = 2.0
    hedge_slippage_bps: Fraction = Fraction(10)
    max_age_s: float = 2.0  # a book top older than this is not traded on
    requote_bps: Fraction = Fraction(3)
    cooldown_s: float = 0.2  # between two taker-taker arbitrages
    ioc_timeout_s: float = 1.0  # an IOC still open after this is canceled (its outcome is then looked up)

    def __post_init__(self) -> None:
        venues = [leg.venue for leg in self.legs]
        if len(venues) < 2 or len(set(venues)) != len(venues):
            raise ConfigError(f"xarb needs two or more distinct venues, got {venues}")
        if self.qty <= 0 or self.max_inventory < self.qty:
            raise ConfigError("xarb: qty must be > 0 and max_inventory at least qty")
        if self.mode not in ("taker", "maker", "both"):
            raise ConfigError(f"xarb: mode must be taker, maker or both, not {self.mode!r}")
        if self.maker_venue and self.maker_venue not in venues:
            raise ConfigError(f"xarb: maker_venue {self.maker_venue!r} is not one of {venues}")
        if self.leg_timeout_s <= 0 or self.min_edge_bps < 0:
            raise ConfigError("xarb: leg_timeout_s must be > 0 and min_edge_bps >= 0")

    @property
    def maker(self) -> Leg:
        if self.maker_venue:
            return next(leg for leg in self.legs if leg.venue == self.maker_venue)
        return max(self.legs, key=lambda leg: leg.taker_bps)


@dataclass
class XArb:
    params: XArbParams
    name: str = "xarb"
    desk: Desk = field(init=False)
    arbs: int = 0  # taker-taker pairs sent
    hedges: int = 0  # hedge / unwind IOCs sent
    quote_fills: int = 0
    edges_bps: list[Fraction] = field(default_factory=list)  # expected net edge of each arbitrage sent
    unhedged_since_ns: int | None = None
    unhedged_max_ns: int = 0
    _last_arb_ns: int = -(10**18)
    _denied_until_ns: int = 0
    _avoid: dict[str, int] = field(default_factory=dict)  # venue -> until when hedges go elsewhere

    def __post_init__(self) -> None:
        self.desk = Desk(self.params.legs)

    # ---- callbacks -------------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> list[Intent]:
        if not self.desk.on_book(top):
            return []
        return self._decide()

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        w = self.desk.on_fill(fill)
        if w is not None and w.kind == "quote":
            self.quote_fills += 1
        self.desk.now_ns = max(self.desk.now_ns, fill.ts_ns)
        return self._hedge()

    def on_order(self, order: OwnOrder) -> list[Intent]:
        w = self.desk.on_order(order)
        if w is None or order.live:
            return []
        if w.filled == 0 and w.kind in ("arb", "hedge"):  # refused, or the price was gone: elsewhere first
            self._avoid[w.leg.venue] = self.desk.now_ns + int(self.params.leg_timeout_s * NS / 2)
        return self._hedge()  # a leg closed: what it left open is hedged now

    def on_timer(self, now_ns: int) -> list[Intent]:
        self.desk.now_ns = max(self.desk.now_ns, now_ns)
        out = self.desk.overdue(min(self.params.ioc_timeout_s, self.params.leg_timeout_s), "arb", "hedge")
        return out + self._decide()

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        """The gate refused an order (nothing was sent): no new arbitrage for a moment, and that venue
        last for hedges for a while (a hedge crossing our own quote there goes elsewhere)."""
        self.desk.on_denied(place)
        now = self.desk.now_ns
        self._denied_until_ns = now + int(self.params.leg_timeout_s * NS / 4)
        self._avoid[place.venue] = now + int(self.params.leg_timeout_s * NS / 2)
        return []

    # ---- decisions -------------------------------------------------------------------------------

    def _decide(self) -> list[Intent]:
        out = self._hedge()
        if out or self.desk.working("arb", "hedge") or self.desk.now_ns < self._denied_until_ns:
            return out
        if self._open_delta():
            return out
        if self.params.mode in ("taker", "both"):
            out += self._taker()
        if not out and self.params.mode in ("maker", "both"):
            out += self._quotes()
        return out

    def _open_delta(self) -> bool:
        """Whether a delta at least one venue can trade is open (and how long it has been)."""
        d = abs(self.desk.delta())
        now = self.desk.now_ns
        if self.desk.dust(d):
            self.unhedged_since_ns = None
            return False
        if self.unhedged_since_ns is None:
            self.unhedged_since_ns = now
        self.unhedged_max_ns = max(self.unhedged_max_ns, now - self.unhedged_since_ns)
        return True

    def _hedge(self) -> list[Intent]:
        """Take an open delta back, unless an arbitrage or hedge order is still out."""
        if self.desk.working("arb", "hedge") or not self._open_delta():
            return []
        p = self.params
        since = self.unhedged_since_ns if self.unhedged_since_ns is not None else self.desk.now_ns
        late = self.desk.now_ns - since > p.leg_timeout_s * NS
        slippage = p.hedge_slippage_bps * (2 if late else 1)
        delta = self.desk.delta()
        side = Side.SELL if delta > 0 else Side.BUY
        legs = p.legs
        if p.mode != "taker":  # our quotes rest on the maker venue: hedge elsewhere (no self-cross)
            quotes = [w for w in self.desk.working("quote") if w.client_id and not w.cancel_sent]
            if late and quotes:  # late: pull them, and the maker venue may unwind too
                for w in quotes:
                    w.cancel_sent = True
                return [Cancel(w.client_id) for w in quotes]
            if not late or self.desk.working("quote"):
                legs = tuple(leg for leg in p.legs if leg.venue != p.maker.venue)
        now = self.desk.now_ns
        preferred = tuple(leg for leg in legs if self._avoid.get(leg.venue, 0) <= now)
        place = self.desk.take(side, abs(delta), "hedge", p.max_age_s * 4, slippage, legs=preferred or legs)
        if place is None and preferred and preferred != legs:
            place = self.desk.take(side, abs(delta), "hedge", p.max_age_s * 4, slippage, legs=legs)
        if place is None:
            return []
        self.hedges += 1
        return [place]

    def _room(self, leg: Leg, side: Side) -> Fraction:
        """How much base `leg` may still buy (or sell) within the inventory limit."""
        pos = self.desk.base(leg.venue)
        limit = self.params.max_inventory
        return max(limit - pos if side == Side.BUY else limit + pos, Fraction(0))

    def _taker(self) -> list[Intent]:
        p, desk = self.params, self.desk
        if desk.now_ns - self._last_arb_ns < p.cooldown_s * NS:
            return []
        best: tuple[Fraction, Leg, Top, Leg, Top] | None = None
        for buy, sell in itertools.permutations(p.legs, 2):
            a, b = desk.fresh(buy.venue, p.max_age_s), desk.fresh(sell.venue, p.max_age_s)
            if a is None or b is None:
                continue
            edge = taker_edge_bps(buy, a.ask, sell, b.bid)
            if edge > p.min_edge_bps and (best is None or edge > best[0]):
                best = (edge, buy, a, sell, b)
        if best is None:
            return []
        edge, buy, a, sell, b = best
        size = min(
            p.qty,
            buy.base(a.ask_qty),
            sell.base(b.bid_qty),
            self._room(buy, Side.BUY),
            self._room(sell, Side.SELL),
        )
        qty = common_units(size, buy, sell)
        qb, qs = buy.units(qty), sell.units(qty)
        if qb < buy.min_qty or qs < sell.min_qty:
            return []
        self.arbs += 1
        self.edges_bps.append(edge)
        self._last_arb_ns = desk.now_ns
        return [
            desk.place(buy, Side.BUY, a.ask, qb, "arb"),
            desk.place(sell, Side.SELL, b.bid, qs, "arb"),
        ]

    # ---- maker-taker -----------------------------------------------------------------------------

    def _target(self, maker: Leg, side: Side) -> tuple[int, int] | None:
        """The quote (price, qty units) on the maker venue for `side`, or None when there is none to make:
        hedged at the best other venue's touch, after both fees and the edge."""
        p, desk = self.params, self.desk
        own = desk.fresh(maker.venue, p.max_age_s)
        if own is None:
            return None
        best: tuple[Fraction, Leg, int] | None = None
        for leg in p.legs:
            top = desk.fresh(leg.venue, p.max_age_s)
            if leg is maker or top is None:
                continue
            px, avail = (top.bid, top.bid_qty) if side == Side.BUY else (top.ask, top.ask_qty)
            value = leg.quote(px) * (1 - (leg.taker_bps + maker.maker_bps + p.min_edge_bps) / BPS)
            if side == Side.SELL:
                value = leg.quote(px) * (1 + (leg.taker_bps + maker.maker_bps + p.min_edge_bps) / BPS)
            better = best is None or (value > best[0] if side == Side.BUY else value < best[0])
            if better:
                best = (value, leg, avail)
        if best is None:
            return None
        value, hedge, hedge_size = best
        if side == Side.BUY:
            price = min(maker.price_units(value, up=False), own.ask - maker.tick)
        else:
            price = max(maker.price_units(value, up=True), own.bid + maker.tick)
        size = min(p.qty, hedge.base(hedge_size), self._room(maker, side))
        qty = maker.units(common_units(size, maker, hedge))
        return (price, qty) if qty >= maker.min_qty and price > 0 else None

    def _quotes(self) -> list[Intent]:
        maker = self.params.maker
        out: list[Intent] = []
        for side in (Side.BUY, Side.SELL):
            target = self._target(maker, side)
            quotes = [w for w in self.desk.working("quote") if w.side == side]
            if quotes:
                out += self._requote(quotes, target)
            elif target is not None:
                out.append(self.desk.place(maker, side, target[0], target[1], "quote", post_only=True))
        return out

    def _requote(self, quotes: list[Working], target: tuple[int, int] | None) -> list[Intent]:
        out: list[Intent] = []
        for w in quotes:
            if not w.client_id or w.cancel_sent:
                continue
            off = target is None or abs(bps(Fraction(target[0] - w.price), Fraction(w.price))) > (
                self.params.requote_bps
            )
            if off:
                w.cancel_sent = True
                out.append(Cancel(w.client_id))
        return out
