"""Market making on a binary (YES/NO) prediction market, quoted consistently across both tokens.

Prices are integer units with `one` units per 1.00 of payout (tick 0.01: `one = 100`, price 63 = 0.63;
tick 0.001: `one = 1000`); sizes are integer units of 0.01 shares. A YES and a NO share together pay
exactly `one`, so the two books are mirrors of one market:

    buy YES at p   ==  sell NO at one - p        (both are a YES *bid* at p)
    sell YES at p  ==  buy NO at one - p         (both are a YES *ask* at p)

The strategy therefore thinks only in YES terms. It reads both tokens' books into one consolidated YES
book (`yes_view`: the best YES bid is the better of the YES bid and the mirrored NO ask, and so on), keeps a
single fair value for YES (the consolidated midpoint) and quotes a YES bid and a YES ask around it:

    reservation  r   = fair - skew * net / max_inventory      (net = YES shares - NO shares, in units)
    quotes       bid = floor((r - half_spread) / tick) * tick,  ask = ceil((r + half_spread) / tick) * tick

Holding NO is being short YES, so the skew uses the NET inventory across both tokens: long YES (or short
NO) lowers both quotes, long NO raises them. No YES bid at net >= +max_inventory, no YES ask at
net <= -max_inventory.

Which token a quote is expressed on (the routing rule): a quote SELLS a token only when the strategy holds
at least `order_qty` of it, and otherwise BUYS the complement. Polymarket cannot short a token, so
"sell YES" without YES shares is impossible, while "buy NO at one - p" is the same economic quote and needs
only collateral. Selling what is held also releases collateral instead of locking more:

    YES bid at p:  sell NO at one - p  if holding >= order_qty NO,  else buy YES at p
    YES ask at p:  sell YES at p       if holding >= order_qty YES, else buy NO at one - p

Every quote is post-only and never crosses: in YES terms the bid stays below the consolidated ask and the
ask above the consolidated bid (that is exactly the condition for the mirrored token's order not to cross
its own book either), the bid stays below the ask (so the YES quote and its NO mirror never cross each
other), and every price stays inside [tick, one - tick]. Within `stop_before_s` of the market's end
(`end_ns`, compared with the event time of books and timers), the strategy cancels everything and stops
quoting for good.

The arithmetic is exact (`Fraction`); the strategy is pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from trader.core import Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, TradePrint


class YesView(NamedTuple):
    """The consolidated top of a binary market in YES terms (None where no side is known)."""

    bid: int | None
    bid_qty: int
    ask: int | None
    ask_qty: int


def _better(a: int | None, a_qty: int, b: int | None, b_qty: int, *, higher: bool) -> tuple[int | None, int]:
    if a is None:
        return b, (b_qty if b is not None else 0)
    if b is None or a == b:
        return a, a_qty + (b_qty if b == a else 0)
    if (a > b) == higher:
        return a, a_qty
    return b, b_qty


def yes_view(yes: BookTop | None, no: BookTop | None, one: int) -> YesView:
    """Consolidate the YES and NO tops into one YES top: a NO ask at q is a YES bid at one - q, a NO bid at
    q a YES ask at one - q. Quantities at an equal best price add up."""
    ybid = yes.bid if yes is not None else None
    yask = yes.ask if yes is not None else None
    mbid = one - no.ask if no is not None and no.ask is not None else None
    mask = one - no.bid if no is not None and no.bid is not None else None
    bid, bid_qty = _better(
        ybid, yes.bid_qty if yes is not None else 0, mbid, no.ask_qty if no is not None else 0, higher=True
    )
    ask, ask_qty = _better(
        yask, yes.ask_qty if yes is not None else 0, mask, no.bid_qty if no is not None else 0, higher=False
    )
    return YesView(bid, bid_qty, ask, ask_qty)


@dataclass(frozen=True)
class BinaryMarketMakerParams:
    yes: str  # instrument (token) id of the YES outcome
    no: str  # instrument (token) id of the NO outcome
    one: int  # price units per 1.00 of payout: 100 (tick 0.01) or 1000 (tick 0.001)
    order_qty: int  # size units (0.01 shares) per quote
    max_inventory: int  # |net| limit in size units (net = YES shares - NO shares)
    half_spread: int  # price units from the reservation price to each quote (> 0)
    end_ns: int  # the market's end / resolution time, ns since the epoch
    stop_before_s: float = 3600.0  # stop quoting this long before end_ns
    tick: int = 1  # price units per tick
    skew: int = 0  # price units the quotes shift at |net| = max_inventory (0: no skew)
    requote_ticks: int = 1  # replace a quote only when it moves by at least this many ticks

    def __post_init__(self) -> None:
        if self.yes == self.no:
            raise ConfigError("the YES and NO instruments must differ")
        if self.tick <= 0 or self.one <= 2 * self.tick or self.one % self.tick:
            raise ConfigError("one must be a multiple of tick and leave room for a price in (0, 1)")
        if self.order_qty <= 0 or self.max_inventory <= 0 or self.half_spread <= 0:
            raise ConfigError("order_qty, max_inventory and half_spread must be positive")
        if self.skew < 0 or self.stop_before_s < 0 or self.requote_ticks < 1:
            raise ConfigError("skew and stop_before_s must be >= 0, requote_ticks >= 1")


class Want(NamedTuple):
    """One quote as an order: the token, side, token price and size, and its price in YES terms."""

    instrument: str
    side: Side
    price: int
    qty: int
    yes_price: int


def route_quote(
    yes: str, no: str, one: int, is_bid: bool, yes_price: int, qty: int, yes_pos: int, no_pos: int
) -> Want:
    """The routing rule: a YES bid (`is_bid`) sells NO when at least `qty` NO is held, else buys YES; a
    YES ask sells YES when at least `qty` YES is held, else buys NO at the mirrored price."""
    if is_bid:
        if no_pos >= qty:
            return Want(no, Side.SELL, one - yes_price, qty, yes_price)
        return Want(yes, Side.BUY, yes_price, qty, yes_price)
    if yes_pos >= qty:
        return Want(yes, Side.SELL, yes_price, qty, yes_price)
    return Want(no, Side.BUY, one - yes_price, qty, yes_price)


@dataclass(slots=True)
class QuoteSlot:
    want: Want | None = None  # the quote wanted (and placed), None if none
    client_id: str | None = None  # its client id once the engine reported it
    filled: int = 0  # size units of it filled so far


@dataclass
class QuotePair:
    """The bookkeeping of one YES bid and one YES ask on a binary market, on whichever token each is
    expressed. The bid slot holds buy-YES / sell-NO orders and the ask slot sell-YES / buy-NO orders, so an
    order's (instrument, side) names its slot."""

    yes: str
    bid: QuoteSlot = field(default_factory=QuoteSlot)
    ask: QuoteSlot = field(default_factory=QuoteSlot)

    def slot_of(self, instrument: str, side: Side) -> QuoteSlot:
        return self.bid if (instrument == self.yes) == (side == Side.BUY) else self.ask

    def replace(self, slot: QuoteSlot, want: Want | None, min_move: int, tag: str) -> list[Intent]:
        """Make `want` the slot's quote: nothing when the same order rests within `min_move` price units
        (YES terms), else cancel the old one and place the new one."""
        old = slot.want
        if (
            old is not None
            and want is not None
            and old[:2] == want[:2]
            and old.qty == want.qty
            and abs(want.yes_price - old.yes_price) < min_move
        ):
            return []
        out: list[Intent] = []
        if slot.client_id is not None:
            out.append(Cancel(slot.client_id))
            slot.client_id = None
        slot.want, slot.filled = want, 0
        if want is not None:
            out.append(Place(want.instrument, want.side, want.price, want.qty, True, tag))
        return out

    def cancel(self, slot: QuoteSlot) -> list[Intent]:
        out: list[Intent] = [Cancel(slot.client_id)] if slot.client_id is not None else []
        slot.client_id, slot.want = None, None
        return out

    def cancel_all(self) -> list[Intent]:
        return self.cancel(self.bid) + self.cancel(self.ask)

    def learn(self, order: OwnOrder) -> QuoteSlot | None:
        """Learn the client id of a placed quote and forget one that is done; the slot the order
        occupies (None if the order is not one of the current quotes)."""
        slot = self.slot_of(order.instrument, order.side)
        w = slot.want
        if order.live and slot.client_id is None and w is not None:
            if w[:3] == (order.instrument, order.side, order.price):
                slot.client_id = order.client_id
        elif not order.live and slot.client_id == order.client_id:
            slot.client_id, slot.want = None, None
            return None
        return slot if slot.client_id == order.client_id else None

    def filled(self, fill: OwnFill) -> QuoteSlot | None:
        """Count a fill against the quote it hit; that quote's slot (None if not a current quote)."""
        for slot in (self.bid, self.ask):
            if slot.client_id is not None and slot.client_id == fill.client_id:
                slot.filled += fill.qty
                return slot
        return None

    def forget_denied(self, place: Place) -> None:
        """Forget a quote the gate refused, so the next update tries again."""
        slot = self.slot_of(place.instrument, place.side)
        w = slot.want
        if slot.client_id is None and w is not None and w[:3] == (place.instrument, place.side, place.price):
            slot.want = None


@dataclass
class BinaryMarketMaker:
    params: BinaryMarketMakerParams
    name: str = "binary_mm"
    yes_pos: int = 0  # size units of YES held
    no_pos: int = 0  # size units of NO held
    stopped: bool = False
    fair: Fraction | None = None  # the YES fair value in price units, None until both sides are known
    _tops: dict[str, BookTop] = field(default_factory=dict)
    _quotes: QuotePair = field(init=False)

    def __post_init__(self) -> None:
        self._quotes = QuotePair(self.params.yes)

    @property
    def net(self) -> int:
        """YES shares minus NO shares, in size units: holding NO is short YES."""
        return self.yes_pos - self.no_pos

    # ---- model ---------------------------------------------------------------------------------

    def quotes(self, fair: Fraction) -> tuple[int | None, int | None]:
        """(bid, ask) in YES price units around `fair`, skewed on net inventory, on the tick grid and
        inside [tick, one - tick]; None where inventory or the price band forbids a side."""
        p = self.params
        r = fair - Fraction(p.skew * self.net, p.max_inventory)
        bid = math.floor((r - p.half_spread) / p.tick) * p.tick
        ask = math.ceil((r + p.half_spread) / p.tick) * p.tick
        return (
            bid if self.net < p.max_inventory and bid >= p.tick else None,
            ask if self.net > -p.max_inventory and ask <= p.one - p.tick else None,
        )

    def route_bid(self, yes_price: int) -> Want:
        """Express a YES bid at `yes_price`: sell NO when enough NO is held, else buy YES."""
        p = self.params
        return route_quote(p.yes, p.no, p.one, True, yes_price, p.order_qty, self.yes_pos, self.no_pos)

    def route_ask(self, yes_price: int) -> Want:
        """Express a YES ask at `yes_price`: sell YES when enough YES is held, else buy NO."""
        p = self.params
        return route_quote(p.yes, p.no, p.one, False, yes_price, p.order_qty, self.yes_pos, self.no_pos)

    def _stop_due(self, ts_ns: int) -> bool:
        p = self.params
        return ts_ns >= p.end_ns - round(p.stop_before_s * 1_000_000_000)

    # ---- callbacks -----------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> list[Intent]:
        p = self.params
        if top.instrument not in (p.yes, p.no):
            return []
        self._tops[top.instrument] = top
        return self._update(top.ts_ns)

    def on_timer(self, now_ns: int) -> list[Intent]:
        return self._update(now_ns)

    def _update(self, ts_ns: int) -> list[Intent]:
        p = self.params
        if self.stopped or self._stop_due(ts_ns):
            self.stopped = True
            return self._quotes.cancel_all()
        view = yes_view(self._tops.get(p.yes), self._tops.get(p.no), p.one)
        if view.bid is None or view.ask is None or view.bid >= view.ask:
            self.fair = None
            return self._quotes.cancel_all()  # no two-sided, uncrossed market to price from
        self.fair = Fraction(view.bid + view.ask, 2)
        bid, ask = self.quotes(self.fair)
        # post-only: never at or through the consolidated far touch (this also keeps bid < ask)
        if bid is not None and bid >= view.ask:
            bid = view.ask - p.tick
        if ask is not None and ask <= view.bid:
            ask = view.bid + p.tick
        q, move = self._quotes, p.requote_ticks * p.tick
        bid_want = self.route_bid(bid) if bid is not None and bid >= p.tick else None
        ask_want = self.route_ask(ask) if ask is not None and ask <= p.one - p.tick else None
        return q.replace(q.bid, bid_want, move, "bid") + q.replace(q.ask, ask_want, move, "ask")

    def on_order(self, order: OwnOrder) -> list[Intent]:
        """Learn the client id of a placed quote, forget quotes that are done; after the stop, cancel any
        order that still shows up live."""
        p = self.params
        if order.instrument not in (p.yes, p.no):
            return []
        if self.stopped:
            return [Cancel(order.client_id)] if order.live else []
        self._quotes.learn(order)
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        p = self.params
        signed = fill.qty if fill.side == Side.BUY else -fill.qty
        if fill.instrument == p.yes:
            self.yes_pos += signed
        elif fill.instrument == p.no:
            self.no_pos += signed
        return []

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        """Forget a quote the gate refused, so the next update tries again."""
        self._quotes.forget_denied(place)
        return []
