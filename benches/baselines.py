"""Plain-Python versions of what the core does, written the way a careful Python bot would: the
same-run baselines of the benches. Exact arithmetic (integer units), like the core."""

from collections import deque
from dataclasses import dataclass, field

import orjson
from sortedcontainers import SortedDict


def to_units(s: str, scale: int) -> int:
    """Exact decimal string -> integer units of 10^-scale (what the core's spec does)."""
    whole, _, frac = s.partition(".")
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise ValueError(f"{s} has more than {scale} decimals")
        frac = frac[:scale]
    return int(whole + frac.ljust(scale, "0"))


class PyBook:
    """SortedDict ladders (bids keyed by negated price so the best is first)."""

    def __init__(self, price_scale: int, qty_scale: int) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.price_scale = price_scale
        self.qty_scale = qty_scale
        self.last_id = 0
        self.first = True

    def snapshot(self, last_id: int) -> None:
        self.bids.clear()
        self.asks.clear()
        self.last_id = last_id
        self.first = True

    def set_level(self, is_bid: bool, price: int, qty: int) -> None:
        side = self.bids if is_bid else self.asks
        key = -price if is_bid else price
        if qty == 0:
            side.pop(key, None)
        else:
            side[key] = qty

    def best_bid(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        k, q = self.bids.peekitem(0)
        return -k, q

    def apply_binance_depth(self, raw: bytes) -> bool:
        m = orjson.loads(raw)
        first, last = m["U"], m["u"]
        if last <= self.last_id:
            return False
        nxt = self.last_id + 1
        if (first > nxt) if self.first else (first != nxt):
            raise ValueError("gap")
        ps, qs = self.price_scale, self.qty_scale
        updates = [(True, to_units(p, ps), to_units(q, qs)) for p, q in m["b"]]
        updates += [(False, to_units(p, ps), to_units(q, qs)) for p, q in m["a"]]
        for is_bid, p, q in updates:
            self.set_level(is_bid, p, q)
        self.last_id = last
        self.first = False
        return True


@dataclass
class PyInstrument:
    tick: int
    lot: int
    min_qty: int
    min_notional: int
    factor: int
    max_order_qty: int
    max_order_notional: int
    max_position: int
    max_open_orders: int
    collar_bps: int
    bid: int = 0
    ask: int = 0
    ref_ns: int = 0
    position: int = 0
    open_buy: int = 0
    open_sell: int = 0
    open_orders: int = 0
    resting_buys: SortedDict = field(default_factory=SortedDict)
    resting_sells: SortedDict = field(default_factory=SortedDict)


class PyGate:
    """The same per-order, aggregate, state and throttle checks as the core gate, in Python."""

    def __init__(
        self, inst: PyInstrument, max_gross: int, max_open: int, per_sec: int, max_age_ns: int
    ) -> None:
        self.inst = inst
        self.max_gross = max_gross
        self.max_open = max_open
        self.per_sec = per_sec
        self.max_age_ns = max_age_ns
        self.window: deque[int] = deque()
        self.recent: dict[tuple[int, bool, int, int], int] = {}
        self.orders: dict[int, tuple[bool, int, int]] = {}
        self.next_key = 1
        self.halted = False
        self.killed = False
        self.gross = 0

    # one straight-line function on purpose: split into calls, the baseline would be slower and flatter
    # the ratio against the Rust gate
    def check(self, buy: bool, price: int, qty: int, now_ns: int) -> int | str:  # noqa: C901
        i = self.inst
        if self.killed:
            return "kill"
        if self.halted:
            return "halted"
        if qty <= 0 or price <= 0:
            return "invalid"
        if price % i.tick or qty % i.lot:
            return "step"
        if qty < i.min_qty or qty > i.max_order_qty:
            return "size"
        if now_ns - i.ref_ns > self.max_age_ns:
            return "stale"
        far = i.ask if buy else i.bid
        if far <= 0:
            return "noref"
        if buy and price * 10_000 > far * (10_000 + i.collar_bps):
            return "collar"
        if not buy and price * 10_000 < far * (10_000 - i.collar_bps):
            return "collar"
        notional = price * qty * i.factor
        if notional < i.min_notional or notional > i.max_order_notional:
            return "notional"
        key = (0, buy, price, qty)
        t = self.recent.get(key)
        if t is not None and now_ns - t <= 100_000_000:
            return "duplicate"
        if buy and i.resting_sells and i.resting_sells.peekitem(0)[0] <= price:
            return "self-cross"
        if not buy and i.resting_buys and i.resting_buys.peekitem(-1)[0] >= price:
            return "self-cross"
        worst = i.position + i.open_buy + qty if buy else i.open_sell + qty - i.position
        if worst > i.max_position:
            return "position"
        mark_x2 = i.bid + i.ask
        gross = max(
            abs(i.position + i.open_buy + (qty if buy else 0)),
            abs(i.position - i.open_sell - (0 if buy else qty)),
        )
        if gross * mark_x2 * i.factor // 2 > self.max_gross:
            return "gross"
        if i.open_orders >= i.max_open_orders or len(self.orders) >= self.max_open:
            return "open-orders"
        w = self.window
        while w and w[0] <= now_ns - 1_000_000_000:
            w.popleft()
        if len(w) >= self.per_sec:
            return "rate"
        w.append(now_ns)
        self.recent[key] = now_ns
        k = self.next_key
        self.next_key += 1
        self.orders[k] = (buy, price, qty)
        if buy:
            i.open_buy += qty
            i.resting_buys[price] = i.resting_buys.get(price, 0) + 1
        else:
            i.open_sell += qty
            i.resting_sells[price] = i.resting_sells.get(price, 0) + 1
        i.open_orders += 1
        return k

    def on_closed(self, key: int) -> None:
        buy, price, qty = self.orders.pop(key)
        i = self.inst
        side = i.resting_buys if buy else i.resting_sells
        side[price] -= 1
        if not side[price]:
            del side[price]
        if buy:
            i.open_buy -= qty
        else:
            i.open_sell -= qty
        i.open_orders -= 1
