"""The Bybit simulator's exchange: one matching engine per (category, instrument), a seeded background
market, the unified account's balance and margin checks, linear positions with periodic funding, and the
private events each change produces."""

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
    LINEAR,
    ORDER_NOT_EXISTS,
    PARAMS,
    POST_ONLY_CROSS,
    QTY_PRECISION,
    REDUCE_ONLY,
    SPOT_ORDER_NOT_EXISTS,
    Account,
    ApiError,
    Execution,
    Instrument,
    Order,
    Position,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade

API = "api"
LEVERAGE = 10  # linear: initial margin is notional / 10
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
        qty = max(1, int(Decimal("0.001") / Decimal(inst.precision)))
        params = MarketParams(
            mid=inst.mid,
            min_qty=qty,
            max_qty=qty * 50,
            asset=inst.base,
            unit=float(inst.tick),
            perp=inst.category == "linear",
        )
        self.market = BackgroundMarket(self.engine, params, seed)
        self.market.seed_book(20)
        self.u = 1  # orderbook update id
        self.seq = 1000  # cross sequence


class Exchange:
    def __init__(self, seed: int, now_ms: Callable[[], int]) -> None:
        instruments = [*INSTRUMENTS.values(), *LINEAR.values()]
        self.books = {(i.category, i.symbol): Book(i, seed + n) for n, i in enumerate(instruments)}
        self.positions = {s: Position(s) for s in LINEAR}
        self.fundings: list[dict[str, Any]] = []  # execType Funding rows
        self.account = Account()
        self.orders: dict[str, Order] = {}  # orderId -> order
        self.by_link: dict[str, str] = {}  # orderLinkId -> orderId
        self.engine_ids: dict[int, str] = {}  # matching engine id -> orderId
        self.executions: list[Execution] = []
        self.now_ms = now_ms
        self.events: list[tuple[str, dict[str, Any]]] = []  # ("order"|"execution", json) to publish
        self.trades: list[tuple[tuple[str, str], Trade]] = []  # ((category, symbol), trade) to publish
        self._next = 1

    @staticmethod
    def listed() -> list[tuple[str, str]]:
        """(category, symbol) of every simulated instrument."""
        return [(i.category, i.symbol) for i in (*INSTRUMENTS.values(), *LINEAR.values())]

    def book(self, category: str, symbol: str) -> Book:
        b = self.books.get((category, symbol))
        if b is None:
            raise ApiError(PARAMS, f"params error: category {category!r} or symbol {symbol!r} invalid")
        return b

    def of(self, o: Order) -> Book:
        return self.books[(o.category, o.symbol)]

    def _id(self) -> int:
        self._next += 1
        return self._next

    def locked(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for o in self.orders.values():
            if not o.open or o.price is None:
                continue
            inst = self.of(o).inst
            left = o.qty - o.filled
            if o.category == "linear":
                if not o.reduce_only:
                    margin = Decimal(o.price * left) * inst.unit_notional / LEVERAGE
                    out[inst.quote] = out.get(inst.quote, Decimal(0)) + margin
            elif o.side == "Buy":
                amt = Decimal(o.price * left) * inst.unit_notional * (1 + inst.taker_fee)
                out[inst.quote] = out.get(inst.quote, Decimal(0)) + amt
            else:
                out[inst.base] = out.get(inst.base, Decimal(0)) + Decimal(left) * Decimal(inst.precision)
        return out

    def _check_funds(self, inst: Instrument, side: str, price: int, qty: int) -> None:
        locked = self.locked()
        coins = self.account.coins
        if inst.category == "linear":
            need = Decimal(price * qty) * inst.unit_notional * (Decimal(1) / LEVERAGE + inst.taker_fee)
            free = coins.get(inst.quote, Decimal(0)) - locked.get(inst.quote, Decimal(0)) - self.margin_used()
        elif side == "Buy":
            need = Decimal(price * qty) * inst.unit_notional * (1 + inst.taker_fee)
            free = coins.get(inst.quote, Decimal(0)) - locked.get(inst.quote, Decimal(0))
        else:
            need = Decimal(qty) * Decimal(inst.precision)
            free = coins.get(inst.base, Decimal(0)) - locked.get(inst.base, Decimal(0))
        if need > free:
            raise ApiError(INSUFFICIENT, "Insufficient balance.")

    def margin_used(self) -> Decimal:
        return sum(
            (abs(pos.cost) / LEVERAGE for pos in self.positions.values() if pos.size), start=Decimal(0)
        )

    def _validate(self, p: dict[str, Any]) -> tuple[Book, str, str, str, int | None, int]:
        b = self.book(str(p.get("category", "")), str(p.get("symbol", "")))
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
        reduce_only = str(p.get("reduceOnly", "")).lower() == "true"
        if reduce_only:
            self._check_reduce(inst, side, qty)
        else:
            fund_price = price if price is not None else (b.engine.best_ask() or inst.mid) * 11 // 10
            self._check_funds(inst, side, fund_price, qty)
        eid = self._id()
        oid = f"{eid:019d}"
        o = Order(oid, link or f"sim-{eid}", inst.symbol, side, otype, tif, price, qty, self.now_ms())
        o.category, o.reduce_only = inst.category, reduce_only
        self.orders[oid] = o
        self.by_link[o.link_id] = oid
        self.engine_ids[eid] = oid
        return self._enter(b, o, eid)

    def _enter(self, b: Book, o: Order, eid: int) -> Order:
        """Put (or put back) `o` into the book as engine order `eid`: its trades, its events."""
        side, tif = Side.BUY if o.side == "Buy" else Side.SELL, o.tif
        r = b.engine.submit(
            SimOrder(eid, API, side, o.price, o.qty - o.filled, _TIF[tif], post_only=tif == "PostOnly")
        )
        if not r.accepted:
            o.status = "Cancelled" if tif == "PostOnly" or o.filled else "Rejected"
            o.reject_reason = POST_ONLY_CROSS if tif == "PostOnly" else "EC_" + r.reason.replace(" ", "")
            self._order_event(o)
            return o
        self._order_event(o)
        self.apply((b.inst.category, b.inst.symbol), list(r.trades))
        if not r.resting and o.open:
            o.status = "PartiallyFilledCanceled" if o.filled else "Cancelled"
            o.cancel_type = "CancelByUser"
            self._order_event(o)
        return o

    def amend(self, p: dict[str, Any]) -> Order:
        """A new price and/or quantity for an open limit order (it loses its queue position here)."""
        o = self.find(p)
        if not o.open or o.price is None:
            raise ApiError(ORDER_NOT_EXISTS, "order not exists or too late to replace")
        b = self.of(o)
        inst = b.inst
        price = _units(p["price"], inst.tick, BAD_PRECISION, "price") if p.get("price") else o.price
        qty = _units(p["qty"], inst.precision, QTY_PRECISION, "qty") if p.get("qty") else o.qty
        if qty <= o.filled or price <= 0:
            raise ApiError(
                PARAMS, "params error: qty must exceed the filled quantity, price must be positive"
            )
        eid = int(o.order_id)
        b.engine.cancel(eid)
        o.price, o.qty = price, qty
        return self._enter(b, o, eid)

    def _check_reduce(self, inst: Instrument, side: str, qty: int) -> None:
        pos = self.positions.get(inst.symbol) if inst.category == "linear" else None
        if pos is None:
            raise ApiError(PARAMS, "params error: reduceOnly is for derivatives")
        closes = -pos.size if side == "Buy" else pos.size
        if closes <= 0:
            raise ApiError(REDUCE_ONLY, "current position is zero, cannot fix reduce-only order qty")

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
        self.of(o).engine.cancel(eid)
        o.status = "PartiallyFilledCanceled" if o.filled else "Cancelled"
        o.cancel_type = "CancelByUser"
        o.updated_ms = self.now_ms()
        self._order_event(o)
        return o

    def cancel_all(self, category: str, symbol: str) -> list[Order]:
        return [
            self.cancel({"orderId": o.order_id})
            for o in list(self.orders.values())
            if o.open and o.category == category and (not symbol or o.symbol == symbol)
        ]

    def _order_event(self, o: Order) -> None:
        o.updated_ms = self.now_ms()
        self.events.append(("order", o.json(self.of(o).inst)))

    def _settle(self, o: Order, inst: Instrument, price: int, qty: int, fee: Decimal) -> None:
        value = Decimal(price * qty) * inst.unit_notional
        base = Decimal(qty) * Decimal(inst.precision)
        coins = self.account.coins
        sign = 1 if o.side == "Buy" else -1
        self.events.append(("wallet", {"accountType": "UNIFIED"}))  # its balances: filled in on publish
        if inst.category == "linear":
            realized = self.positions[inst.symbol].fill(sign * qty, price, inst.unit_notional)
            coins[inst.quote] = coins.get(inst.quote, Decimal(0)) + realized - fee
            self.events.append(("position", self.positions[inst.symbol].json(inst, price)))
        else:
            coins[inst.base] = coins.get(inst.base, Decimal(0)) + sign * base
            coins[inst.quote] = coins.get(inst.quote, Decimal(0)) - sign * value - fee
        o.filled += qty
        o.cum_value += value
        o.cum_fee += fee
        o.status = "Filled" if o.filled == o.qty else "PartiallyFilled"

    def apply(self, key: tuple[str, str], trades: list[Trade]) -> None:
        """Book the API side of each trade and queue its order and execution events."""
        b = self.books[key]
        inst = b.inst
        symbol = inst.symbol
        for t in trades:
            self.trades.append((key, t))
            for eid, maker, fee in (
                (t.maker_order_id, True, t.maker_fee),
                (t.taker_order_id, False, t.taker_fee),
            ):
                oid = self.engine_ids.get(eid)
                if oid is None:
                    continue
                o = self.orders[oid]
                self._settle(o, inst, t.price, t.qty, fee)
                b.seq += 1
                x = Execution(
                    f"{symbol}-{t.trade_id}-{eid}", o, t.price, t.qty, fee, maker, self.now_ms(), b.seq
                )
                self.executions.append(x)
                self._order_event(o)
                self.events.append(("execution", x.json(inst)))

    def step(self, dt_ns: int) -> None:
        for key, b in self.books.items():
            self.apply(key, b.market.step(dt_ns))

    def mark(self, symbol: str) -> int:
        b = self.books[("linear", symbol)]
        bid, ask = b.engine.best_bid(), b.engine.best_ask()
        return (bid + ask) // 2 if bid is not None and ask is not None else int(b.market.mid)

    def settle_funding(self) -> None:
        """One funding settlement: each open linear position pays (or receives) size x mark x rate."""
        for symbol, pos in self.positions.items():
            if not pos.size:
                continue
            inst = self.books[("linear", symbol)].inst
            mark = self.mark(symbol)
            fee = Decimal(pos.size * mark) * inst.unit_notional * inst.funding_rate  # > 0: paid
            coins = self.account.coins
            coins[inst.quote] = coins.get(inst.quote, Decimal(0)) - fee
            self.fundings.append(
                {
                    "category": "linear",
                    "symbol": symbol,
                    "orderId": "",
                    "orderLinkId": "",
                    "side": "Buy" if pos.size > 0 else "Sell",
                    "execId": f"funding-{symbol}-{len(self.fundings) + 1}",
                    "execPrice": inst.price_text(mark),
                    "execQty": inst.qty_text(abs(pos.size)),
                    "execValue": str(abs(Decimal(pos.size * mark) * inst.unit_notional)),
                    "execFee": str(fee),
                    "feeRate": str(inst.funding_rate),
                    "execType": "Funding",
                    "isMaker": False,
                    "execTime": str(self.now_ms()),
                }
            )
