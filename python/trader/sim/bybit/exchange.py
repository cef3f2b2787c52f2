"""The Bybit simulator's spot exchange: one matching engine per instrument, a seeded background market,
the account's balance checks and the private events each change produces."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from trader.sim.bybit.state import (
    BAD_PRECISION,
    BELOW_MIN,
    BELOW_NOTIONAL,
    DUPLICATE_LINK_ID,
    INSTRUMENTS,
    INSUFFICIENT,
    ORDER_NOT_EXISTS,
    PARAMS,
    POST_ONLY_CROSS,
    QTY_PRECISION,
    SPOT_ORDER_NOT_EXISTS,
    Account,
    ApiError,
    Execution,
    Instrument,
    Order,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade

API = "api"
_TIF = {"GTC": Tif.GTC, "IOC": Tif.IOC, "FOK": Tif.FOK, "PostOnly": Tif.GTC}


def _units(text: object, step: str, code: int, what: str) -> int:
    try:
        d = Decimal(str(text)) / Decimal(step)
    except (InvalidOperation, ValueError):
        raise ApiError(PARAMS, f"params error: {what} invalid") from None
    if d != d.to_integral_value() or d < 0:
        raise ApiError(code, f"Order {what} has too many decimals.")
    return int(d)


class Book:
    """One instrument: its engine, background market and the public book's update id."""

    def __init__(self, inst: Instrument, seed: int) -> None:
        self.inst = inst
        self.engine = MatchingEngine(
            maker_fee_bps=inst.maker_fee * 10_000,
            taker_fee_bps=inst.taker_fee * 10_000,
            unit_notional=inst.unit_notional,
        )
        qty = int(Decimal("0.001") / Decimal(inst.precision))
        params = MarketParams(mid=inst.mid, min_qty=qty, max_qty=qty * 50)
        self.market = BackgroundMarket(self.engine, params, seed)
        self.market.seed_book(20)
        self.u = 1  # orderbook update id
        self.seq = 1000  # cross sequence


class Exchange:
    def __init__(self, seed: int, now_ms: Callable[[], int]) -> None:
        self.books = {s: Book(i, seed + n) for n, (s, i) in enumerate(INSTRUMENTS.items())}
        self.account = Account()
        self.orders: dict[str, Order] = {}  # orderId -> order
        self.by_link: dict[str, str] = {}  # orderLinkId -> orderId
        self.engine_ids: dict[int, str] = {}  # matching engine id -> orderId
        self.executions: list[Execution] = []
        self.now_ms = now_ms
        self.events: list[tuple[str, dict[str, Any]]] = []  # ("order"|"execution", json) to publish
        self.trades: list[tuple[str, Trade]] = []  # (symbol, trade) to publish
        self._next = 1

    def book(self, symbol: str) -> Book:
        b = self.books.get(symbol)
        if b is None:
            raise ApiError(PARAMS, "params error: symbol invalid")
        return b

    def _id(self) -> int:
        self._next += 1
        return self._next

    def locked(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for o in self.orders.values():
            if not o.open or o.price is None:
                continue
            inst = self.books[o.symbol].inst
            left = o.qty - o.filled
            if o.side == "Buy":
                amt = Decimal(o.price * left) * inst.unit_notional * (1 + inst.taker_fee)
                out[inst.quote] = out.get(inst.quote, Decimal(0)) + amt
            else:
                out[inst.base] = out.get(inst.base, Decimal(0)) + Decimal(left) * Decimal(inst.precision)
        return out

    def _check_funds(self, inst: Instrument, side: str, price: int, qty: int) -> None:
        locked = self.locked()
        coins = self.account.coins
        if side == "Buy":
            need = Decimal(price * qty) * inst.unit_notional * (1 + inst.taker_fee)
            free = coins.get(inst.quote, Decimal(0)) - locked.get(inst.quote, Decimal(0))
        else:
            need = Decimal(qty) * Decimal(inst.precision)
            free = coins.get(inst.base, Decimal(0)) - locked.get(inst.base, Decimal(0))
        if need > free:
            raise ApiError(INSUFFICIENT, "Insufficient balance.")

    def _validate(self, p: dict[str, Any]) -> tuple[Book, str, str, str, int | None, int]:
        if p.get("category") != "spot":
            raise ApiError(PARAMS, "params error: category only spot is simulated")
        b = self.book(str(p.get("symbol", "")))
        inst = b.inst
        side, otype, tif = str(p.get("side")), str(p.get("orderType")), str(p.get("timeInForce") or "GTC")
        if side not in ("Buy", "Sell") or otype not in ("Limit", "Market") or tif not in _TIF:
            raise ApiError(PARAMS, "params error: side, orderType or timeInForce invalid")
        qty = _units(p.get("qty"), inst.precision, QTY_PRECISION, "qty")
        if qty < _units(inst.min_qty, inst.precision, PARAMS, "min") or qty <= 0:
            raise ApiError(BELOW_MIN, "Order quantity below the lower limit.")
        price = None
        if otype == "Limit":
            price = _units(p.get("price"), inst.tick, BAD_PRECISION, "price")
            if price <= 0:
                raise ApiError(PARAMS, "params error: price invalid")
        ref = price if price is not None else (b.engine.best_ask() or inst.mid)
        if Decimal(ref * qty) * inst.unit_notional < Decimal(inst.min_amt):
            raise ApiError(BELOW_NOTIONAL, "Order value exceeded lower limit.")
        return b, side, otype, tif, price, qty

    def create(self, p: dict[str, Any]) -> Order:
        b, side, otype, tif, price, qty = self._validate(p)
        link = str(p.get("orderLinkId") or "")
        if link and link in self.by_link:
            raise ApiError(DUPLICATE_LINK_ID, "OrderLinkedID is duplicate")
        inst = b.inst
        fund_price = price if price is not None else (b.engine.best_ask() or inst.mid) * 11 // 10
        self._check_funds(inst, side, fund_price, qty)
        eid = self._id()
        oid = f"{eid:019d}"
        o = Order(oid, link or f"sim-{eid}", inst.symbol, side, otype, tif, price, qty, self.now_ms())
        self.orders[oid] = o
        self.by_link[o.link_id] = oid
        self.engine_ids[eid] = oid
        sim = SimOrder(
            eid,
            API,
            Side.BUY if side == "Buy" else Side.SELL,
            price,
            qty,
            _TIF[tif],
            post_only=tif == "PostOnly",
        )
        r = b.engine.submit(sim)
        if not r.accepted:
            o.status = "Cancelled" if tif == "PostOnly" else "Rejected"
            o.reject_reason = POST_ONLY_CROSS if tif == "PostOnly" else "EC_" + r.reason.replace(" ", "")
            self._order_event(o)
            return o
        self._order_event(o)
        self.apply(inst.symbol, list(r.trades))
        if not r.resting and o.open:
            o.status = "PartiallyFilledCanceled" if o.filled else "Cancelled"
            o.cancel_type = "CancelByUser"
            self._order_event(o)
        return o

    def find(self, p: dict[str, Any], code: int = ORDER_NOT_EXISTS) -> Order:
        oid = str(p.get("orderId") or "") or self.by_link.get(str(p.get("orderLinkId") or ""), "")
        o = self.orders.get(oid)
        if o is None:
            raise ApiError(code, "Order does not exist.")
        return o

    def cancel(self, p: dict[str, Any]) -> Order:
        o = self.find(p, SPOT_ORDER_NOT_EXISTS)
        if not o.open:
            raise ApiError(SPOT_ORDER_NOT_EXISTS, "Order does not exist.")
        eid = int(o.order_id)
        self.books[o.symbol].engine.cancel(eid)
        o.status = "PartiallyFilledCanceled" if o.filled else "Cancelled"
        o.cancel_type = "CancelByUser"
        o.updated_ms = self.now_ms()
        self._order_event(o)
        return o

    def cancel_all(self, symbol: str) -> list[Order]:
        return [
            self.cancel({"orderId": o.order_id})
            for o in list(self.orders.values())
            if o.open and (not symbol or o.symbol == symbol)
        ]

    def _order_event(self, o: Order) -> None:
        o.updated_ms = self.now_ms()
        self.events.append(("order", o.json(self.books[o.symbol].inst)))

    def _settle(self, o: Order, inst: Instrument, price: int, qty: int, fee: Decimal) -> None:
        value = Decimal(price * qty) * inst.unit_notional
        base = Decimal(qty) * Decimal(inst.precision)
        coins = self.account.coins
        sign = 1 if o.side == "Buy" else -1
        coins[inst.base] = coins.get(inst.base, Decimal(0)) + sign * base
        coins[inst.quote] = coins.get(inst.quote, Decimal(0)) - sign * value - fee
        o.filled += qty
        o.cum_value += value
        o.cum_fee += fee
        o.status = "Filled" if o.filled == o.qty else "PartiallyFilled"

    def apply(self, symbol: str, trades: list[Trade]) -> None:
        """Book the API side of each trade and queue its order and execution events."""
        inst = self.books[symbol].inst
        for t in trades:
            self.trades.append((symbol, t))
            for eid, maker, fee in (
                (t.maker_order_id, True, t.maker_fee),
                (t.taker_order_id, False, t.taker_fee),
            ):
                oid = self.engine_ids.get(eid)
                if oid is None:
                    continue
                o = self.orders[oid]
                self._settle(o, inst, t.price, t.qty, fee)
                b = self.books[symbol]
                b.seq += 1
                x = Execution(
                    f"{symbol}-{t.trade_id}-{eid}", o, t.price, t.qty, fee, maker, self.now_ms(), b.seq
                )
                self.executions.append(x)
                self._order_event(o)
                self.events.append(("execution", x.json(inst)))

    def step(self, dt_ns: int) -> None:
        for symbol, b in self.books.items():
            self.apply(symbol, b.market.step(dt_ns))
