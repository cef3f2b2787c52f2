"""The USD-M futures book: a perpetual with its own background market, one-way positions, cross or
isolated margin, self-trade prevention and the dead-man switch.

A new order runs `parse -> filters -> admit -> guard -> match -> respond` (the futures steps differ from
spot's in their codes: GTX that would take is -5022 and FOK that cannot fill is -5021, both not
recorded; reduceOnly is rejected with -2022 when the position is flat, on the same side, or smaller).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trader.clock import Clock
from trader.sim import matching
from trader.sim.binance.errors import ApiError, invalid_symbol, require
from trader.sim.binance.filters import (
    ALGO_TYPES,
    CLIENT_ID,
    FUTURES,
    STP_MODES,
    futures_price_filters,
    futures_qty_filters,
    futures_units,
)
from trader.sim.binance.limits import Limits
from trader.sim.binance.state import (
    FUTURES_WALLET,
    LIVE,
    ZERO,
    Account,
    FuturesAccount,
    FuturesOrder,
    Market,
    money,
    order_id_param,
)
from trader.sim.market import BackgroundMarket, MarketParams

Sink = Callable[[str, dict[str, Any] | Callable[[], dict[str, Any]]], None]
Trades = tuple[matching.Trade, ...] | list[matching.Trade]


def fpx(ticks: int) -> str:
    return f"{Decimal(ticks) * FUTURES.tick:.2f}"


def fqty(lots: int) -> str:
    return f"{Decimal(lots) * FUTURES.step:.3f}"


@dataclass
class Draft:
    side: str
    type: str
    tif: str
    qty: int
    price: int
    reduce_only: bool
    stp: str


class FuturesBook:
    def __init__(
        self,
        symbol: str,
        quote: str,
        *,
        seed: int,
        clock: Clock,
        limits: Limits,
        emit: Sink,
        public_trades: Callable[[Trades], None],
    ) -> None:
        self.symbol, self.quote = symbol, quote
        self.clock, self.limits, self.emit, self.public_trades = clock, limits, emit, public_trades
        self.engine = matching.MatchingEngine(
            maker_fee_bps=Decimal(2), taker_fee_bps=Decimal(5), unit_notional=FUTURES.tick * FUTURES.step
        )
        self.market = BackgroundMarket(
            self.engine,
            MarketParams(
                mid=500_000,
                max_qty=200,
                mean_distance_ticks=3.0,
                asset="BTC",
                unit=float(FUTURES.tick),
                perp=True,
            ),
            seed=seed + 1,
        )
        self.market.seed_book(20)
        self.orders: dict[int, FuturesOrder] = {}
        self.accounts: dict[str, FuturesAccount] = {}
        self._order_ids = itertools.count(4_000_000_001)
        self._trade_ids = itertools.count(1)

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def mark(self) -> Decimal:
        """The mark price: the mid of the futures book."""
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if bid is not None and ask is not None:
            return Decimal(bid + ask) * FUTURES.tick / 2
        return Decimal(round(self.market.mid)) * FUTURES.tick

    def check_symbol(self, params: dict[str, str], *, mandatory: bool = False, default: bool = False) -> None:
        symbol = (
            require(params, "symbol") if mandatory else params.get("symbol", self.symbol if default else None)
        )
        if symbol != self.symbol:
            raise invalid_symbol()

    # ---- margin arithmetic -------------------------------------------------------------------------

    def live(self, key: str, wallet: str = "") -> list[FuturesOrder]:
        return [o for o in self.orders.values() if o.key == key and o.status in LIVE]

    def orders_of(self, key: str, wallet: str = "") -> list[FuturesOrder]:
        return [o for o in self.orders.values() if o.key == key]

    def _price(self, o: FuturesOrder) -> Decimal:
        return Decimal(o.price) * FUTURES.tick if o.price else self.mark()

    def open_order_margin(self, key: str, extra: FuturesOrder | None = None) -> Decimal:
        """Initial margin of open orders: the part of each side beyond what would close the position."""
        fa = self.accounts[key]
        orders = [*self.live(key), *([extra] if extra is not None else [])]
        amt = fa.position.amt
        total = ZERO
        for side, offset in (("BUY", max(0, -amt)), ("SELL", max(0, amt))):
            same = [o for o in orders if o.side == side and not o.reduce_only]
            lots = sum(o.qty - o.filled for o in same)
            if not lots:
                continue
            notional = sum((self._price(o) * (o.qty - o.filled) * FUTURES.step for o in same), ZERO)
            opening = max(0, lots - offset)
            total += notional * opening / lots / fa.leverage
        return total

    def upnl(self, key: str) -> Decimal:
        p = self.accounts[key].position
        return (self.mark() - p.entry) * p.amt * FUTURES.step if p.amt else ZERO

    def position_margin(self, key: str) -> Decimal:
        fa = self.accounts[key]
        if fa.margin_type == "ISOLATED":
            return fa.position.isolated_wallet
        return abs(fa.position.amt) * FUTURES.step * self.mark() / fa.leverage

    def available(self, key: str, extra: FuturesOrder | None = None) -> Decimal:
        fa = self.accounts[key]
        cross_wallet = fa.wallet - fa.position.isolated_wallet
        if fa.margin_type == "CROSSED":
            cross_wallet += self.upnl(key) - self.position_margin(key)
        return cross_wallet - self.open_order_margin(key, extra)

    def side_notional(self, key: str, side: str) -> Decimal:
        return sum(
            (self._price(o) * (o.qty - o.filled) * FUTURES.step for o in self.live(key) if o.side == side),
            ZERO,
        )

    # ---- new orders --------------------------------------------------------------------------------

    def _parse(self, params: dict[str, str]) -> Draft:
        self.check_symbol(params, mandatory=True)
        side = require(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        otype = require(params, "type")
        if otype in ALGO_TYPES:
            raise ApiError(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        if otype not in ("LIMIT", "MARKET"):
            raise ApiError(-1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") != "BOTH":
            raise ApiError(-4061, "Order's position side does not match user's setting.")
        tif = self._tif(otype, params)
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        stp = params.get("selfTradePreventionMode", "NONE")
        if stp not in STP_MODES:
            raise ApiError(-1100, "Illegal characters found in parameter 'selfTradePreventionMode'.")
        qty = futures_units("quantity", require(params, "quantity"), FUTURES.step, 3)
        futures_qty_filters(qty, otype == "MARKET")
        price = 0 if otype == "MARKET" else futures_units("price", require(params, "price"), FUTURES.tick, 2)
        return Draft(side, otype, tif, qty, price, reduce_only, stp)

    @staticmethod
    def _tif(otype: str, params: dict[str, str]) -> str:
        if otype != "LIMIT":
            return "GTC"
        tif = params.get("timeInForce", "")
        if not tif:
            raise ApiError(
                -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
            )
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise ApiError(-1115, "Invalid timeInForce.")
        return tif

    def place(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        fa = self.accounts[key]
        d = self._parse(params)
        futures_price_filters(d.side, d.price, d.qty, self.mark(), d.reduce_only)
        now = self.limits.admit_order(market, fa.counters)
        cid = params.get("newClientOrderId") or f"sim{next(self._order_ids)}{market.cid_suffix}"
        if not CLIENT_ID.match(cid):
            raise ApiError(-4015, "Client order id is not valid.")
        if fa.counters.submit(cid):
            raise ApiError(-4116, "ClientOrderId is duplicated.")
        amt = fa.position.amt
        if d.reduce_only and (amt == 0 or (amt > 0) == (d.side == "BUY") or d.qty > abs(amt)):
            raise ApiError(-2022, "ReduceOnly Order is rejected.")
        order = FuturesOrder(
            next(self._order_ids),
            key,
            cid,
            d.side,
            d.type,
            d.tif,
            d.price,
            d.qty,
            d.reduce_only,
            d.stp,
            now,
            now,
        )
        sim = self._guard(order)
        fa.counters.used_client_ids.add(cid)
        fa.counters.order_times.append(now)
        self.orders[order.order_id] = order
        ack = self.order_json(order)
        self._match(order, sim, now)
        return self.order_json(order) if params.get("newOrderRespType", "ACK") == "RESULT" else ack

    def _guard(self, order: FuturesOrder) -> matching.SimOrder:
        """The checks that need the account and the book: margin, GTX and FOK."""
        side = order.side
        if not order.reduce_only and self.available(order.key, extra=order) < 0:
            raise ApiError(-2019, "Margin is insufficient.")
        sim = matching.SimOrder(
            order.order_id,
            order.key,
            matching.Side.BUY if side == "BUY" else matching.Side.SELL,
            order.price or None,
            order.qty,
            tif=matching.Tif(order.tif) if order.tif in ("IOC", "FOK") else matching.Tif.GTC,
            post_only=order.tif == "GTX",
            client_id=order.client_id,
        )
        best = (self.engine.asks if side == "BUY" else self.engine.bids).best()
        if (
            order.tif == "GTX"
            and best is not None
            and (order.price >= best if side == "BUY" else order.price <= best)
        ):
            raise ApiError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                "The order will not be recorded in the order history",
            )
        if order.tif == "FOK" and self._fillable(sim) < order.qty:
            raise ApiError(
                -5021,
                "Due to the order could not be filled immediately, the FOK order has been rejected. "
                "The order will not be recorded in the order history",
            )
        return sim

    def _match(self, order: FuturesOrder, sim: matching.SimOrder, now: int) -> None:
        self.emit_order(order, "NEW")
        stopped = self._self_trade(sim, order) if order.tif not in ("FOK", "GTX") else False
        result = self.engine.submit(sim)
        if not result.accepted:  # cannot happen after the checks above; keep the venue consistent anyway
            order.status = "EXPIRED"
            self.emit_order(order, "EXPIRED")
        self.settle(result.trades)
        self.public_trades(result.trades)
        if order.status in LIVE and not result.resting:
            order.status = "EXPIRED_IN_MATCH" if stopped else "EXPIRED"
            order.update_ms = now
            self.emit_order(order, "EXPIRED")

    def _levels_through(self, o: matching.SimOrder) -> list[int]:
        """The opposite book's prices `o` can reach, best first."""
        book = self.engine.asks if o.side is matching.Side.BUY else self.engine.bids
        out = []
        for p in book.iter_best():
            if o.price is not None and (p > o.price if o.side is matching.Side.BUY else p < o.price):
                break
            out.append(p)
        return out

    def _fillable(self, o: matching.SimOrder) -> int:
        book = self.engine.asks if o.side is matching.Side.BUY else self.engine.bids
        total = 0
        for p in self._levels_through(o):
            total += sum(r.remaining for r in book.levels[p])
            if total >= o.qty:
                break
        return total

    def _self_trade(self, sim: matching.SimOrder, order: FuturesOrder) -> bool:
        """Self-trade prevention by the taker's mode. Returns whether the taker is stopped short."""
        if order.stp == "NONE":
            return False
        book = self.engine.asks if sim.side is matching.Side.BUY else self.engine.bids
        own: list[int] = []
        first_own: int | None = None
        for p in self._levels_through(sim):
            mine = [r.order_id for r in book.levels[p] if r.owner == order.key]
            if mine and first_own is None:
                first_own = p
            own += mine
        if not own:
            return False
        if order.stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
            for oid in own:
                self.engine.cancel(oid)
                maker = self.orders[oid]
                maker.status, maker.update_ms = "EXPIRED_IN_MATCH", self.now_ms()
                self.emit_order(maker, "EXPIRED")
        if order.stp in ("EXPIRE_TAKER", "EXPIRE_BOTH") and first_own is not None:
            sim.price = first_own - 1 if sim.side is matching.Side.BUY else first_own + 1
            sim.tif = matching.Tif.IOC
            return True
        return False

    # ---- fills -------------------------------------------------------------------------------------

    def _apply_fill(self, o: FuturesOrder, price: int, qty: int, fee: Decimal) -> Decimal:
        """Position, wallet and isolated margin after a fill of `o`; returns the realized PnL."""
        fa = self.accounts[o.key]
        pos = fa.position
        px = Decimal(price) * FUTURES.tick
        signed = qty if o.side == "BUY" else -qty
        realized = ZERO
        isolated = fa.margin_type == "ISOLATED"
        size = abs(pos.amt)
        if pos.amt == 0 or (pos.amt > 0) == (signed > 0):
            pos.entry = (pos.entry * size + px * qty) / (size + qty)
            if isolated:
                pos.isolated_wallet += px * qty * FUTURES.step / fa.leverage
            pos.amt += signed
        else:
            close = min(size, qty)
            realized = (px - pos.entry) * close * FUTURES.step * (1 if pos.amt > 0 else -1)
            pos.isolated_wallet -= pos.isolated_wallet * close / size
            pos.amt += signed
            if pos.amt == 0:
                pos.entry = ZERO
            elif close < qty:  # flipped: the rest opens at this price
                pos.entry = px
                if isolated:
                    pos.isolated_wallet = px * (qty - close) * FUTURES.step / fa.leverage
        pos.realized += realized
        pos.update_ms = self.now_ms()
        fa.wallet += realized - fee
        return realized

    def settle(self, trades: Trades) -> None:
        for t in trades:
            trade_id = next(self._trade_ids)
            for oid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                o = self.orders.get(oid)
                if o is not None:
                    self._fill(o, t, maker, trade_id)

    def _fill(self, o: FuturesOrder, t: matching.Trade, maker: bool, trade_id: int) -> None:
        now = self.now_ms()
        fee = t.maker_fee if maker else t.taker_fee
        realized = self._apply_fill(o, t.price, t.qty, fee)
        notional = Decimal(t.price * t.qty) * FUTURES.tick * FUTURES.step
        o.filled += t.qty
        o.quote += notional
        o.update_ms = now
        o.status = "FILLED" if o.filled >= o.qty else "PARTIALLY_FILLED"
        trade = {
            "buyer": o.side == "BUY",
            "commission": money(fee),
            "commissionAsset": self.quote,
            "id": trade_id,
            "maker": maker,
            "orderId": o.order_id,
            "price": fpx(t.price),
            "qty": fqty(t.qty),
            "quoteQty": money(notional),
            "realizedPnl": money(realized),
            "side": o.side,
            "positionSide": "BOTH",
            "symbol": self.symbol,
            "time": now,
        }
        self.accounts[o.key].counters.trades.append(trade)
        self.emit_order(o, "TRADE", trade)
        self.emit_account(o.key, "ORDER")

    # ---- queries and cancels -----------------------------------------------------------------------

    def order_json(self, o: FuturesOrder) -> dict[str, Any]:
        avg = o.quote / (Decimal(o.filled) * FUTURES.step) if o.filled else ZERO
        return {
            "orderId": o.order_id,
            "symbol": self.symbol,
            "status": o.status,
            "clientOrderId": o.client_id,
            "price": fpx(o.price),
            "avgPrice": f"{avg:.5f}",
            "origQty": fqty(o.qty),
            "executedQty": fqty(o.filled),
            "cumQty": fqty(o.filled),
            "cumQuote": money(o.quote),
            "timeInForce": o.tif,
            "type": o.type,
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side,
            "positionSide": "BOTH",
            "stopPrice": "0.00",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": o.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": o.stp,
            "goodTillDate": 0,
            "time": o.time_ms,
            "updateTime": o.update_ms,
        }

    def wallet(self, market: Market, params: dict[str, str], key: str) -> str:
        return FUTURES_WALLET

    def counters(self, key: str, wallet: str = "") -> Account:
        return self.accounts[key].counters

    def find(self, market: Market, params: dict[str, str], key: str) -> FuturesOrder | None:
        self.check_symbol(params)
        if "orderId" in params:
            o = self.orders.get(order_id_param(params))
            return o if o is not None and o.key == key else None
        cid = params.get("origClientOrderId")
        if not cid:
            raise ApiError(-1102, market.missing_id)
        for o in reversed(self.orders.values()):
            if o.key == key and o.client_id == cid:
                return o
        return None

    def cancel(self, o: FuturesOrder, params: dict[str, str] | None = None) -> dict[str, Any]:
        self.engine.cancel(o.order_id)
        o.status, o.update_ms = "CANCELED", self.now_ms()
        self.emit_order(o, "CANCELED")
        return self.order_json(o)

    def cancel_all(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        self.check_symbol(params, mandatory=True)
        for o in self.live(key):
            self.cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def check_countdowns(self) -> None:
        """The dead-man switch: cancel every open order of an account whose countdown ran out."""
        now = self.now_ms()
        for key, fa in self.accounts.items():
            if fa.countdown_deadline_ms and now >= fa.countdown_deadline_ms:
                fa.countdown_deadline_ms, fa.countdown_ms = 0, 0
                fa.countdown_fired += 1
                for o in self.live(key):
                    self.cancel(o)
                    fa.countdown_canceled.append(o.order_id)

    # ---- user data ---------------------------------------------------------------------------------

    def emit_order(self, o: FuturesOrder, x: str, trade: dict[str, Any] | None = None) -> None:
        self.emit(o.key, lambda: self._order_update(o, x, trade))

    def _order_update(self, o: FuturesOrder, x: str, trade: dict[str, Any] | None) -> dict[str, Any]:
        now = self.now_ms()
        avg = o.quote / (Decimal(o.filled) * FUTURES.step) if o.filled else ZERO
        body = {
            "s": self.symbol,
            "c": o.client_id,
            "S": o.side,
            "o": o.type,
            "f": o.tif,
            "q": fqty(o.qty),
            "p": fpx(o.price),
            "ap": f"{avg:.5f}",
            "sp": "0",
            "x": x,
            "X": o.status,
            "i": o.order_id,
            "l": trade["qty"] if trade else "0",
            "z": fqty(o.filled),
            "L": trade["price"] if trade else "0",
            "N": self.quote,
            "n": trade["commission"] if trade else "0",
            "T": now,
            "t": trade["id"] if trade else 0,
            "b": money(self.side_notional(o.key, "BUY")),
            "a": money(self.side_notional(o.key, "SELL")),
            "m": bool(trade["maker"]) if trade else False,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": o.type,
            "ps": "BOTH",
            "cp": False,
            "rp": trade["realizedPnl"] if trade else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": o.stp,
            "pm": "NONE",
            "gtd": 0,
        }
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": body}

    def break_even(self, key: str) -> Decimal:
        p = self.accounts[key].position
        fee_rate = Decimal("0.0005")
        return p.entry * (1 + fee_rate) if p.amt > 0 else p.entry * (1 - fee_rate) if p.amt < 0 else ZERO

    def emit_account(self, key: str, reason: str) -> None:
        self.emit(key, lambda: self._account_update(key, reason))

    def _account_update(self, key: str, reason: str) -> dict[str, Any]:
        fa = self.accounts[key]
        p = fa.position
        now = self.now_ms()
        balance = {
            "a": self.quote,
            "wb": money(fa.wallet),
            "cw": money(fa.wallet - p.isolated_wallet),
            "bc": "0",
        }
        position = {
            "s": self.symbol,
            "pa": fqty(p.amt),
            "ep": f"{p.entry:.8f}",
            "bep": f"{self.break_even(key):.8f}",
            "cr": money(p.realized),
            "up": money(self.upnl(key)),
            "mt": "isolated" if fa.margin_type == "ISOLATED" else "cross",
            "iw": money(p.isolated_wallet),
            "ps": "BOTH",
        }
        return {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {"m": reason, "B": [balance], "P": [position]},
        }
