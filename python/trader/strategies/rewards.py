"""Liquidity-reward capture on a Polymarket binary market.

Polymarket pays a daily pool per market to resting orders near the midpoint (docs.polymarket.com,
market-makers/liquidity-rewards; /work/shared/venues/polymarket.md section 12). Per market: a max spread
`v` in cents and a min size; an order of `size` shares at `s` cents from the (size-cutoff-adjusted)
midpoint scores

    S(v, s) = ((v - s) / v)^2 * b * size      (b: the in-game multiplier; 0 when s >= v or size < min)

The scores are summed per book side, the complement token counting mirrored:

    Q_one = sum S * BidSize on m  +  sum S * AskSize on m'      (the YES-bid-equivalent side)
    Q_two = sum S * AskSize on m  +  sum S * BidSize on m'      (the YES-ask-equivalent side)
    Q_min = max(min(Q_one, Q_two), max(Q_one / c, Q_two / c))   if the midpoint is in [0.10, 0.90]
          = min(Q_one, Q_two)                                   otherwise            (c = 3.0)

so single-sided liquidity still scores (a third) inside the band and nothing outside it. A maker's share
of the pool is its Q_min over everyone's, sampled every minute and normalised per sample and per epoch.

The pure functions below compute exactly that (with `Fraction`, so hand-checked examples compare equal).
`RewardCapture` is a strategy that keeps one YES bid and one YES ask resting where the score per unit of
risk is highest, re-centers them when the midpoint moves, and re-quotes orders the venue says do not score.

Choosing the quote. The score of a quote `d` cents from the midpoint is ((v - d) / v)^2 per share; its risk
is being filled (adverse selection), which we model like `market_maker.py` does: fills arrive at a rate
proportional to exp(-k * d) (k = `fill_decay`, per cent). The strategy quotes the grid price with the
highest score per unit of fill risk, ((v - d) / v)^2 * exp(k * d); in the continuum that is d = v - 2 / k
when k * v > 2, else as close to the midpoint as the grid allows (a bid strictly below and an ask strictly
above the midpoint, so the two never cross and never take). Score and risk are both linear in size, so the
size is the largest the limits allow (`max_size`, `max_notional` per order); a size below the market's min
size would not score, so that side is not quoted. Two sides at the same distance give Q_min = Q per side
for twice the risk of one side, while one side alone scores only Q / c: both sides are quoted whenever the
inventory limit allows. Outside the [0.10, 0.90] band a lone side scores nothing, so the strategy then
quotes both sides or neither.

Deviations from the venue: the venue measures `s` from a size-cutoff-adjusted midpoint whose formula is
unpublished; the strategy uses the consolidated top-of-book midpoint, and when the venue reports an order
as not scoring it moves that side one tick closer to the midpoint (sticky, bounded by the closest price).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from trader.core import InvalidInputError, Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Intent, OwnFill, OwnOrder, Place, TradePrint
from trader.strategies.binary_mm import QuotePair, QuoteSlot, route_quote, yes_view

SHARE = 100  # size units per share (sizes are integer units of 0.01 shares)
CENT = 100  # cents per 1.00 of payout

Number = int | Decimal | Fraction


@dataclass(frozen=True)
class RewardParams:
    """A market's reward configuration (Gamma: rewardsMaxSpread, rewardsMinSize, rewardsDailyRate)."""

    max_spread: Decimal  # v, cents from the midpoint (e.g. Decimal("3"), Decimal("4.5"))
    min_size: int  # size units (rewardsMinSize shares * 100)
    daily_pool: Decimal  # USD paid per day to the market's makers
    multiplier: Decimal = Decimal(1)  # b
    share: int = SHARE  # size units per share (the connector's: 100, or 1_000_000 for micro-shares)
    c: Decimal = Decimal(3)  # the single-sided divisor

    def __post_init__(self) -> None:
        if self.max_spread <= 0 or self.min_size < 0 or self.daily_pool < 0:
            raise ConfigError("max_spread must be > 0, min_size and daily_pool >= 0")
        if self.multiplier < 0 or self.c < 1:
            raise ConfigError("multiplier must be >= 0 and c >= 1")


# ---- the venue's scoring, pure ----------------------------------------------------------------


def order_score(v: Number, s: Number, size: Number, b: Number = 1) -> Fraction:
    """S(v, s) * size: an order `s` cents from the midpoint with max spread `v` cents; 0 at or beyond v."""
    v, s = Fraction(v), Fraction(s)
    if v <= 0 or s < 0:
        raise InvalidInputError("the max spread must be positive and the spread not negative")
    if s >= v:
        return Fraction(0)
    return ((v - s) / v) ** 2 * Fraction(b) * Fraction(size)


def spread_cents(price: int, mid: Fraction, one: int) -> Fraction:
    """Distance of `price` from `mid` (both price units, `one` per 1.00) in cents."""
    return abs(price - mid) * CENT / one


class BookOrder(NamedTuple):
    """A resting order for scoring: on market m (the YES token) or on its complement m' (NO)."""

    complement: bool
    side: Side
    price: int  # price units of its own token
    size: int  # size units


def side_scores(
    orders: Iterable[BookOrder], mid: Fraction, one: int, rp: RewardParams
) -> tuple[Fraction, Fraction]:
    """(Q_one, Q_two) in points (shares). `mid` is the midpoint of m in price units; a complement order's
    spread is taken from the complement's midpoint one - mid. Orders below the min size do not count."""
    q_one, q_two = Fraction(0), Fraction(0)
    for o in orders:
        if o.size < rp.min_size:
            continue
        token_mid = one - mid if o.complement else mid
        s = order_score(
            rp.max_spread, spread_cents(o.price, token_mid, one), Fraction(o.size, rp.share), rp.multiplier
        )
        if (o.side == Side.BUY) != o.complement:  # bids on m, asks on m'
            q_one += s
        else:
            q_two += s
    return q_one, q_two


def in_band(mid: Fraction, one: int) -> bool:
    """Whether the midpoint is in [0.10, 0.90], where single-sided liquidity scores."""
    return Fraction(one, 10) <= mid <= Fraction(9 * one, 10)


def q_min(q_one: Fraction, q_two: Fraction, mid: Fraction, one: int, c: Number = 3) -> Fraction:
    """The sample score: two-sided depth counts fully, one side alone 1/c of it inside the band, and
    nothing outside the band."""
    if in_band(mid, one):
        return max(min(q_one, q_two), max(q_one, q_two) / Fraction(c))
    return min(q_one, q_two)


def reward_share(q_ours: Fraction, q_others: Fraction, daily_pool: Number) -> Fraction:
    """USD per day if every minute's sample looked like this one: the pool times our share of Q_min. The
    venue does not pay amounts below $1, so those are 0."""
    if q_ours <= 0:
        return Fraction(0)
    usd = Fraction(daily_pool) * q_ours / (q_ours + q_others)
    return usd if usd >= 1 else Fraction(0)


def non_scoring(answers: Mapping[str, bool], resting: Iterable[str]) -> list[str]:
    """The resting order ids the venue says do not score (`POST /orders-scoring` answers id -> bool).
    An id the answer does not mention is unknown, not reported."""
    return [oid for oid in resting if answers.get(oid) is False]


# ---- choosing the quote ----------------------------------------------------------------------------


def best_price(
    mid: Fraction, one: int, tick: int, rp: RewardParams, fill_decay: float, *, bid: bool, closer: int = 0
) -> int | None:
    """The YES price of the best-scoring quote per unit of fill risk on one side: grid prices strictly
    below (bid) or above (ask) the midpoint, inside the max spread and (0, 1); ties go to the farther
    price. `closer` moves the choice that many ticks toward the midpoint (bounded). None if no price
    qualifies."""
    v = Fraction(rp.max_spread)
    if bid:
        p = (math.ceil(mid / tick) - 1) * tick
        step = -tick
    else:
        p = (math.floor(mid / tick) + 1) * tick
        step = tick
    candidates: list[int] = []
    while tick <= p <= one - tick and spread_cents(p, mid, one) < v:
        candidates.append(p)  # closest first
        p += step
    if not candidates:
        return None

    def value(i: int) -> tuple[float, int]:
        d = spread_cents(candidates[i], mid, one)
        return float(((v - d) / v) ** 2) * math.exp(fill_decay * float(d)), i

    best = max(range(len(candidates)), key=value)
    return candidates[max(best - closer, 0)]


def quote_size(
    price: int, one: int, max_size: int, max_notional: Decimal, min_size: int, share: int = SHARE
) -> int | None:
    """The largest size (units) within `max_size` whose cost to buy at `price` is within `max_notional`
    USD, or None below the reward min size (it would not score)."""
    by_notional = math.floor(Fraction(max_notional) * one * share / price)
    size = min(max_size, by_notional)
    return size if size >= max(min_size, 1) else None


# ---- the strategy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RewardCaptureParams:
    yes: str
    no: str
    one: int  # price units per 1.00: 100 (tick 0.01) or 1000 (tick 0.001)
    rewards: RewardParams
    max_size: int  # size units per quote
    max_notional: Decimal  # USD a buying quote may commit
    max_position: int  # |YES - NO| limit in size units: no YES bid at +max, no YES ask at -max
    fill_decay: float = 1.0  # k, per cent: fill intensity ~ exp(-k * distance)
    tick: int = 1  # price units per tick
    requote_ticks: int = 1  # re-center when the wanted price moves by this many ticks

    def __post_init__(self) -> None:
        if self.yes == self.no or self.tick <= 0 or self.one <= 2 * self.tick or self.one % self.tick:
            raise ConfigError("two distinct tokens, and one a multiple of tick with room for a price")
        if self.max_size <= 0 or self.max_notional <= 0 or self.max_position <= 0:
            raise ConfigError("max_size, max_notional and max_position must be positive")
        if self.fill_decay < 0 or self.requote_ticks < 1:
            raise ConfigError("fill_decay must be >= 0 and requote_ticks >= 1")


class QuotePlan(NamedTuple):
    """The quotes wanted in YES terms (price, size) and the Q_min they would score together."""

    bid: tuple[int, int] | None
    ask: tuple[int, int] | None
    q_min: Fraction


@dataclass
class RewardCapture:
    params: RewardCaptureParams
    name: str = "rewards"
    yes_pos: int = 0
    no_pos: int = 0
    mid: Fraction | None = None
    closer: dict[str, int] = field(default_factory=lambda: {"bid": 0, "ask": 0})
    _tops: dict[str, BookTop] = field(default_factory=dict)
    _quotes: QuotePair = field(init=False)

    def __post_init__(self) -> None:
        self._quotes = QuotePair(self.params.yes)

    @property
    def net(self) -> int:
        return self.yes_pos - self.no_pos

    def plan(self, mid: Fraction) -> QuotePlan:
        """The quotes for a midpoint (YES price units), after limits and the band rule."""
        p = self.params
        rp = p.rewards
        bid = ask = None
        if self.net < p.max_position:
            b = best_price(mid, p.one, p.tick, rp, p.fill_decay, bid=True, closer=self.closer["bid"])
            size = (
                quote_size(b, p.one, p.max_size, p.max_notional, rp.min_size, rp.share)
                if b is not None
                else None
            )
            bid = (b, size) if b is not None and size is not None else None
        if self.net > -p.max_position:
            a = best_price(mid, p.one, p.tick, rp, p.fill_decay, bid=False, closer=self.closer["ask"])
            # the ask is bought as NO at one - a unless YES is held to sell
            size = (
                quote_size(p.one - a, p.one, p.max_size, p.max_notional, rp.min_size, rp.share)
                if a is not None
                else None
            )
            ask = (a, size) if a is not None and size is not None else None
        if not in_band(mid, p.one) and (bid is None or ask is None):
            bid = ask = None  # a lone side scores nothing outside [0.10, 0.90]
        ours = [
            BookOrder(False, s, q[0], q[1]) for s, q in ((Side.BUY, bid), (Side.SELL, ask)) if q is not None
        ]
        q_one, q_two = side_scores(ours, mid, p.one, rp)
        return QuotePlan(bid, ask, q_min(q_one, q_two, mid, p.one, rp.c))

    # ---- callbacks -----------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> list[Intent]:
        p = self.params
        if top.instrument not in (p.yes, p.no):
            return []
        self._tops[top.instrument] = top
        return self._update()

    def _update(self) -> list[Intent]:
        p = self.params
        view = yes_view(self._tops.get(p.yes), self._tops.get(p.no), p.one)
        if view.bid is None or view.ask is None or view.bid >= view.ask:
            self.mid = None
            return self._quotes.cancel_all()
        self.mid = Fraction(view.bid + view.ask, 2)
        plan = self.plan(self.mid)
        q, move = self._quotes, p.requote_ticks * p.tick
        bid = ask = None
        if plan.bid is not None:
            bid = route_quote(p.yes, p.no, p.one, True, plan.bid[0], plan.bid[1], self.yes_pos, self.no_pos)
        if plan.ask is not None:
            ask = route_quote(p.yes, p.no, p.one, False, plan.ask[0], plan.ask[1], self.yes_pos, self.no_pos)
        return q.replace(q.bid, bid, move, "bid") + q.replace(q.ask, ask, move, "ask")

    def on_scoring(self, answers: Mapping[str, bool]) -> list[Intent]:
        """The venue's order-scoring answers (client id -> scoring; the engine adapter maps venue order ids
        to client ids). Each resting quote that does not score is moved one tick closer and re-quoted."""
        q = self._quotes
        resting = {s.client_id: (tag, s) for tag, s in (("bid", q.bid), ("ask", q.ask)) if s.client_id}
        out: list[Intent] = []
        for cid in non_scoring(answers, resting):
            tag, slot = resting[cid]
            self.closer[tag] += 1
            out += q.cancel(slot)
        if out and self.mid is not None:
            out += self._update()
        return out

    def on_order(self, order: OwnOrder) -> list[Intent]:
        """Learn quote ids; a quote partly filled below the reward min size no longer scores: cancel it
        (the next update quotes full size again)."""
        p = self.params
        if order.instrument not in (p.yes, p.no):
            return []
        slot: QuoteSlot | None = self._quotes.learn(order)
        if slot is not None and order.live and order.remaining < p.rewards.min_size:
            return self._quotes.cancel(slot)
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        """Track inventory; a quote partly filled down to less than the reward min size no longer scores:
        cancel it (the next update quotes full size again)."""
        p = self.params
        signed = fill.qty if fill.side == Side.BUY else -fill.qty
        if fill.instrument == p.yes:
            self.yes_pos += signed
        elif fill.instrument == p.no:
            self.no_pos += signed
        slot = self._quotes.filled(fill)
        if (
            slot is not None
            and slot.want is not None
            and 0 < slot.want.qty - slot.filled < p.rewards.min_size
        ):
            return self._quotes.cancel(slot)
        return []

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []

    def on_timer(self, now_ns: int) -> list[Intent]:
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        self._quotes.forget_denied(place)
        return []
