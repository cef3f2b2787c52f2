"""Inventory-aware market making in the Avellaneda-Stoikov style.

reservation price  r = s - q * gamma * sigma^2 * tau
optimal spread     d = gamma * sigma^2 * tau + (2 / gamma) * ln(1 + gamma / kappa)
quotes             bid = r - d/2 (floored to the tick), ask = r + d/2 (ceiled to the tick)

`s` is the mid, `q` the inventory in lots, `sigma` the mid's volatility in price units per sqrt(second)
(estimated online from the mids it sees, floored at `min_sigma`), `tau` the horizon in seconds, `kappa` the
order-arrival decay. The arithmetic of the model is floating point (analytics); the quotes it emits are
integer prices on the tick grid and then pass the risk gate like any order. Quotes are post-only and never
cross the touch; no bid at +max_inventory, no ask at -max_inventory; quotes are replaced only when they move
by at least `requote_ticks`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trader.core import Side
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, TradePrint


@dataclass(frozen=True)
class MarketMakerParams:
    instrument: str
    tick: int  # price units per tick
    order_qty: int  # qty units per quote
    max_inventory: int  # qty units
    gamma: float = 0.1  # risk aversion
    kappa: float = 1.5  # order-arrival decay
    tau_s: float = 10.0  # horizon, seconds
    min_sigma: float = 1.0  # price units per sqrt(second)
    sigma_halflife_s: float = 30.0
    requote_ticks: int = 1
    min_spread_bps: float = 0.0  # floor of the quoted spread relative to the mid (altcoins: wide)
    post_only: bool = True  # False where the venue has no post-only flag (brokers)
    allow_short: bool = True  # False: never offer more than the inventory held (equities without shorting)


@dataclass(slots=True)
class _Quote:
    client_id: str | None = None
    price: int | None = None


@dataclass
class MarketMaker:
    params: MarketMakerParams
    name: str = "mm"
    inventory: int = 0
    sigma2: float = 0.0
    _last_mid: float | None = None
    _last_ts: int | None = None
    _quotes: dict[Side, _Quote] = field(default_factory=lambda: {Side.BUY: _Quote(), Side.SELL: _Quote()})
    _arrival_spread: float = field(init=False, default=0.0)
    _min_spread: float = field(init=False, default=0.0)
    _spread_frac: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        p = self.params
        # constants per parameters, computed once (quotes() runs on every book update)
        self._arrival_spread = (2 / p.gamma) * math.log(1 + p.gamma / p.kappa)
        self._min_spread = 2.0 * p.tick
        self._spread_frac = p.min_spread_bps / 10_000

    # ---- model ---------------------------------------------------------------------------------

    def _update_sigma(self, mid: float, ts_ns: int) -> None:
        if self._last_mid is not None and self._last_ts is not None and ts_ns > self._last_ts:
            dt = (ts_ns - self._last_ts) / 1e9
            alpha = 1 - 0.5 ** (dt / self.params.sigma_halflife_s)
            self.sigma2 += alpha * ((mid - self._last_mid) ** 2 / dt - self.sigma2)
        self._last_mid, self._last_ts = mid, ts_ns

    def quotes(self, mid: float) -> tuple[int | None, int | None]:
        """(bid, ask) the model wants now, on the tick grid; None where inventory forbids a side."""
        p = self.params
        sigma2 = max(self.sigma2, p.min_sigma**2)
        lots = self.inventory / p.order_qty
        r = mid - lots * p.gamma * sigma2 * p.tau_s
        spread = p.gamma * sigma2 * p.tau_s + self._arrival_spread
        spread = max(spread, self._min_spread)
        if self._spread_frac:
            spread = max(spread, mid * self._spread_frac)
        bid = math.floor((r - spread / 2) / p.tick) * p.tick
        ask = math.ceil((r + spread / 2) / p.tick) * p.tick
        return (
            bid if self.inventory < p.max_inventory and bid > 0 else None,
            ask
            if self.inventory > -p.max_inventory and (p.allow_short or self.inventory >= p.order_qty)
            else None,
        )

    # ---- callbacks -----------------------------------------------------------------------------

    def on_book(self, top: BookTop) -> list[Intent]:
        if (
            top.instrument != self.params.instrument
            or top.bid is None
            or top.ask is None
            or top.bid >= top.ask
        ):
            return self._cancel_all()
        mid = (top.bid + top.ask) / 2
        self._update_sigma(mid, top.ts_ns)
        bid, ask = self.quotes(mid)
        tick = self.params.tick
        # post-only: never at or through the far touch
        if bid is not None and bid >= top.ask:
            bid = top.ask - tick
        if ask is not None and ask <= top.bid:
            ask = top.bid + tick
        out: list[Intent] = []
        self._replace(Side.BUY, bid, "bid", out)
        self._replace(Side.SELL, ask, "ask", out)
        return out

    def _replace(self, side: Side, price: int | None, tag: str, out: list[Intent]) -> None:
        q = self._quotes[side]
        p = self.params
        if q.price is not None and price is not None and abs(price - q.price) < p.requote_ticks * p.tick:
            return
        if q.client_id is not None:
            out.append(Cancel(q.client_id))
            q.client_id = None
        q.price = price
        if price is not None:
            out.append(Place(p.instrument, side, price, p.order_qty, p.post_only, tag))

    def _cancel_all(self) -> list[Intent]:
        out: list[Intent] = []
        for q in self._quotes.values():
            if q.client_id is not None:
                out.append(Cancel(q.client_id))
            q.client_id, q.price = None, None
        return out

    def on_order(self, order: OwnOrder) -> list[Intent]:
        """Learn the client id of a placed quote, and forget quotes that are done."""
        q = self._quotes[order.side]
        if order.live and order.price == q.price and q.client_id is None:
            q.client_id = order.client_id
        elif not order.live and q.client_id == order.client_id:
            q.client_id, q.price = None, None
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        self.inventory += fill.qty if fill.side == Side.BUY else -fill.qty
        return []

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []

    def on_timer(self, now_ns: int) -> list[Intent]:
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        """Forget a quote the gate refused, so the next book update tries again."""
        q = self._quotes[place.side]
        if q.client_id is None and q.price == place.price:
            q.price = None
        return []
