"""Price-time priority matching in pure Python: limit, market, IOC, FOK, post-only, partial fills, fees.

Prices and quantities are integer units; fees are exact `Decimal`s of the quote currency
(`price * qty * unit_notional * bps / 10_000`). Trades print at the resting order's price.
"""

from __future__ import annotations

import bisect
import enum
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal


class Side(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class Tif(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


@dataclass
class SimOrder:
    order_id: int
    owner: str
    side: Side
    price: int | None  # None: market order
    qty: int
    tif: Tif = Tif.GTC
    post_only: bool = False
    client_id: str = ""
    remaining: int = field(init=False)

    def __post_init__(self) -> None:
        self.remaining = self.qty


@dataclass(frozen=True)
class Trade:
    trade_id: int
    price: int
    qty: int
    maker_order_id: int
    taker_order_id: int
    maker_owner: str
    taker_owner: str
    taker_side: Side
    maker_fee: Decimal
    taker_fee: Decimal


@dataclass(frozen=True)
class Result:
    accepted: bool
    reason: str = ""
    trades: tuple[Trade, ...] = ()
    resting: bool = False


class _Side:
    """One side of the book: price levels (sorted) of FIFO queues."""

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.prices: list[int] = []  # ascending
        self.levels: dict[int, deque[SimOrder]] = {}

    def best(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def add(self, o: SimOrder) -> None:
        if o.price is None:
            raise ValueError("a market order cannot rest")
        q = self.levels.get(o.price)
        if q is None:
            bisect.insort(self.prices, o.price)
            q = self.levels[o.price] = deque()
        q.append(o)

    def remove_level(self, price: int) -> None:
        del self.levels[price]
        self.prices.pop(bisect.bisect_left(self.prices, price))

    def iter_best(self) -> list[int]:
        return list(reversed(self.prices)) if self.is_bid else list(self.prices)

    def depth(self, n: int) -> list[tuple[int, int]]:
        return [(p, sum(o.remaining for o in self.levels[p])) for p in self.iter_best()[:n]]


class MatchingEngine:
    def __init__(self, *, maker_fee_bps: Decimal, taker_fee_bps: Decimal, unit_notional: Decimal) -> None:
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self.unit_notional = unit_notional
        self.bids = _Side(True)
        self.asks = _Side(False)
        self.orders: dict[int, SimOrder] = {}
        self._next_trade = 1

    def _fee(self, price: int, qty: int, bps: Decimal) -> Decimal:
        return Decimal(price * qty) * self.unit_notional * bps / Decimal(10_000)

    def best_bid(self) -> int | None:
        return self.bids.best()

    def best_ask(self) -> int | None:
        return self.asks.best()

    def depth(self, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.bids.depth(n), self.asks.depth(n)

    @staticmethod
    def _crosses(o: SimOrder, level: int) -> bool:
        if o.price is None:
            return True
        return level <= o.price if o.side is Side.BUY else level >= o.price

    def _available(self, o: SimOrder, book: _Side) -> int:
        total = 0
        for p in book.iter_best():
            if not self._crosses(o, p):
                break
            total += sum(r.remaining for r in book.levels[p])
            if total >= o.qty:
                break
        return total

    def submit(self, o: SimOrder) -> Result:
        if o.qty <= 0 or (o.price is not None and o.price <= 0):
            return Result(False, "invalid quantity or price")
        if o.order_id in self.orders:
            return Result(False, "duplicate order id")
        if o.price is None and (o.post_only or o.tif is Tif.GTC):
            # a market order never rests
            o.tif = Tif.IOC
        book = self.asks if o.side is Side.BUY else self.bids
        best = book.best()
        if o.post_only and best is not None and self._crosses(o, best):
            return Result(False, "post-only order would take liquidity")
        if o.tif is Tif.FOK and self._available(o, book) < o.qty:
            return Result(False, "FOK order cannot be filled completely")
        trades: list[Trade] = []
        while o.remaining and (p := book.best()) is not None and self._crosses(o, p):
            queue = book.levels[p]
            maker = queue[0]
            q = min(o.remaining, maker.remaining)
            trades.append(
                Trade(
                    self._next_trade,
                    p,
                    q,
                    maker.order_id,
                    o.order_id,
                    maker.owner,
                    o.owner,
                    o.side,
                    self._fee(p, q, self.maker_fee_bps),
                    self._fee(p, q, self.taker_fee_bps),
                )
            )
            self._next_trade += 1
            maker.remaining -= q
            o.remaining -= q
            if maker.remaining == 0:
                queue.popleft()
                del self.orders[maker.order_id]
                if not queue:
                    book.remove_level(p)
        resting = bool(o.remaining) and o.tif is Tif.GTC and o.price is not None
        if resting:
            (self.bids if o.side is Side.BUY else self.asks).add(o)
            self.orders[o.order_id] = o
        return Result(True, "", tuple(trades), resting)

    def cancel(self, order_id: int) -> SimOrder | None:
        o = self.orders.pop(order_id, None)
        if o is None or o.price is None:
            return None
        book = self.bids if o.side is Side.BUY else self.asks
        queue = book.levels[o.price]
        queue.remove(o)
        if not queue:
            book.remove_level(o.price)
        return o
