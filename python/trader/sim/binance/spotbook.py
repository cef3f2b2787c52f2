"""The spot book: spot orders and margin orders (from the cross or an isolated wallet) match here.

A new order runs `parse -> filters -> admit -> fund -> match -> respond`; a market order may give
`quoteOrderQty` instead of `quantity` (the quantity is what that much quote buys or sells down the book
now). Fills move balances of the order's wallet and publish `executionReport`s, then the wallet's balances
of both assets (`outboundAccountPosition`, also after a lock or a cancel), to that wallet's user-data
subscribers. Commissions are
charged in the quote asset on both sides by default; `buyer_fee_in_base=True` charges a buyer in the
base asset, as Binance does unless fees are paid with BNB (the buyer receives the quantity minus the fee).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trader.clock import Clock
from trader.sim import matching
from trader.sim.binance.errors import ApiError, insufficient_balance, invalid_symbol, require, unknown_order
from trader.sim.binance.filters import SpotInstrument, spot_filters, spot_units
from trader.sim.binance.limits import Limits
from trader.sim.binance.state import LIVE, SPOT, ZERO, Account, Market, Order, UserKey, order_id_param
from trader.sim.market import BackgroundMarket, MarketParams

# Binance spot's default (VIP 0) tier: 0.10 % maker, 0.10 % taker (the `sim` venue speaks this protocol and
# charges the same); USD-M futures charge their own, 0.02 % / 0.05 % (`futuresbook`)
MAKER_BPS = Decimal(10)
TAKER_BPS = Decimal(10)

UserSink = Callable[[UserKey, Callable[[], dict[str, Any]]], None]
# the margin desk's hooks: funds check with borrowing, and auto-repay after fills
FundsHook = Callable[[str, str, str, Decimal, dict[str, str]], dict[str, Any]]


@dataclass
class Draft:
    """A new spot order after parsing: integer ticks and lots."""

    side: str
    type: str
    tif: str
    qty: int
    price: int
    quote_qty: Decimal = ZERO  # `quoteOrderQty` of a market order


class SpotBook:
    def __init__(
        self,
        inst: SpotInstrument,
        *,
        seed: int,
        clock: Clock,
        limits: Limits,
        emit: UserSink,
        buyer_fee_in_base: bool,
    ) -> None:
        self.inst = inst
        self.symbol, self.base, self.quote = inst.symbol, inst.base, inst.quote
        self.tick, self.step = inst.tick, inst.step
        self.unit = self.tick * self.step
        self.clock, self.limits, self.emit = clock, limits, emit
        self.buyer_fee_in_base = buyer_fee_in_base  # real Binance unless fees are paid in BNB
        self.engine = matching.MatchingEngine(
            maker_fee_bps=MAKER_BPS, taker_fee_bps=TAKER_BPS, unit_notional=self.unit
        )
        params = MarketParams(
            mid=int(inst.mid / self.tick),
            max_qty=inst.max_lots,
            volatility_ticks=inst.volatility_ticks,
            mean_distance_ticks=inst.distance_ticks,
            asset=inst.base,
            unit=float(self.tick),
        )
        self.market = BackgroundMarket(self.engine, params, seed=seed)
        self.market.seed_book(20)
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        # wallet -> (balances, counters) for wallets other than SPOT (the margin desk registers them)
        self.wallets: Callable[[str, str], tuple[dict[str, list[Decimal]], Account]] | None = None
        self.borrow_for: FundsHook | None = None
        self.after_fill: Callable[[Order], None] = lambda o: None
        self.public_trades: Callable[[tuple[matching.Trade, ...]], None] = lambda trades: None

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def fmt(self, units: int, unit: Decimal) -> str:
        return f"{Decimal(units) * unit:.8f}"

    def mid(self) -> Decimal:
        """The spot mid in quote units (the margin desk values assets with it)."""
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if bid is not None and ask is not None:
            return Decimal(bid + ask) * self.tick / 2
        return Decimal(round(self.market.mid)) * self.tick

    def initial_balances(self) -> dict[str, list[Decimal]]:
        return {self.base: [self.inst.base_balance, ZERO], self.quote: [Decimal(1_000_000), ZERO]}

    # ---- wallets -----------------------------------------------------------------------------------

    def balances(self, key: str, wallet: str) -> dict[str, list[Decimal]]:
        if wallet == SPOT:
            return self.accounts[key].balances
        if self.wallets is None:
            raise ApiError(-1100, f"Unknown wallet {wallet!r}.")
        return self.wallets(key, wallet)[0]

    def counters(self, key: str, wallet: str) -> Account:
        """Client ids, submissions, order times and trades of a wallet."""
        if wallet == SPOT or self.wallets is None:
            return self.accounts[key]
        return self.wallets(key, wallet)[1]

    def wallet(self, market: Market, params: dict[str, str], key: str) -> str:
        wallet = market.wallet(params)
        if wallet != SPOT:
            self.balances(key, wallet)  # -11001 for an isolated account that does not exist
        return wallet

    def _ensure_funds(
        self, key: str, wallet: str, asset: str, need: Decimal, params: dict[str, str]
    ) -> dict[str, Any]:
        """Check the free balance before an order; a margin wallet may borrow the shortfall and return
        the fields to add to the response."""
        if wallet != SPOT and self.borrow_for is not None:
            return self.borrow_for(key, wallet, asset, need, params)
        if self.balances(key, wallet)[asset][0] < need:
            raise insufficient_balance()
        return {}

    # ---- new orders --------------------------------------------------------------------------------

    def check_symbol(self, params: dict[str, str], *, mandatory: bool = False, default: bool = False) -> None:
        symbol = (
            require(params, "symbol") if mandatory else params.get("symbol", self.symbol if default else None)
        )
        if symbol != self.symbol:
            raise invalid_symbol()

    def _parse(self, params: dict[str, str]) -> Draft:
        self.check_symbol(params, mandatory=True)
        side = require(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        otype = require(params, "type")
        if otype not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise ApiError(-1116, "Invalid orderType.")
        tif = params.get("timeInForce", "GTC" if otype == "LIMIT_MAKER" else "")
        if otype == "LIMIT" and tif not in ("GTC", "IOC", "FOK"):
            raise ApiError(
                -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
            )
        if "quoteOrderQty" in params and (otype != "MARKET" or "quantity" in params):
            raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if otype == "MARKET" and "quoteOrderQty" in params:
            quote = self._quote_amount(params["quoteOrderQty"])
            return Draft(side, otype, tif, self._lots_for(side, quote), 0, quote)
        qty = spot_units("quantity", require(params, "quantity"), self.step, "LOT_SIZE")
        price = (
            0
            if otype == "MARKET"
            else spot_units("price", require(params, "price"), self.tick, "PRICE_FILTER")
        )
        return Draft(side, otype, tif, qty, price)

    @staticmethod
    def _quote_amount(text: str) -> Decimal:
        try:
            quote = Decimal(text)
        except ArithmeticError:
            raise ApiError(-1100, "Illegal characters found in parameter 'quoteOrderQty'.") from None
        if not quote.is_finite() or quote <= 0:
            raise ApiError(-1013, "Invalid quoteOrderQty.")  # [UNVERIFIED wording]
        return quote

    def _lots_for(self, side: str, quote: Decimal) -> int:
        """The lots `quote` buys (asks upward) or sells (bids downward) at the book's prices now."""
        bids, asks = self.engine.depth(1000)
        levels = sorted(asks) if side == "BUY" else sorted(bids, reverse=True)
        lots, left = 0, quote
        for price, avail in levels:
            per_lot = Decimal(price) * self.unit
            take = min(avail, int(left / per_lot))
            lots, left = lots + take, left - take * per_lot
            if take < avail:
                break
        return lots

    def place(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        """A new order from the market's wallet: parse, filters, order limits, funds, match, respond."""
        wallet = self.wallet(market, params, key)
        d = self._parse(params)
        spot_filters(self.inst, d.qty, d.price, self.engine.best_bid(), self.engine.best_ask())
        counters = self.counters(key, wallet)
        now = self.limits.admit_order(market, counters)
        cid = params.get("newClientOrderId") or f"sim{next(self.order_ids)}{market.cid_suffix}"
        if counters.submit(cid):
            raise ApiError(-2010, "Duplicate order sent.")
        extra = self._fund(key, wallet, d, params)
        order = Order(next(self.order_ids), key, cid, d.side, d.type, d.tif or "GTC", d.price, d.qty, now)
        order.update_ms, order.wallet, order.quote_qty = now, wallet, d.quote_qty
        fills = self._match(order, d, counters, now)
        return self._respond(order, params, fills, now) | extra

    def _fund(self, key: str, wallet: str, d: Draft, params: dict[str, str]) -> dict[str, Any]:
        if d.side == "BUY" and d.quote_qty:
            return self._ensure_funds(key, wallet, self.quote, d.quote_qty * Decimal("1.0005"), params)
        if d.side == "BUY":
            ref = d.price or self.engine.best_ask() or self.engine.best_bid() or 0
            need = Decimal((d.price or ref * 105 // 100) * d.qty) * self.unit * Decimal("1.0005")
            return self._ensure_funds(key, wallet, self.quote, need, params)
        return self._ensure_funds(key, wallet, self.base, Decimal(d.qty) * self.step, params)

    def _match(self, order: Order, d: Draft, counters: Account, now: int) -> dict[int, list[dict[str, Any]]]:
        sim = matching.SimOrder(
            order.order_id,
            order.key,
            matching.Side.BUY if d.side == "BUY" else matching.Side.SELL,
            d.price or None,
            d.qty,
            tif=matching.Tif(d.tif) if d.type == "LIMIT" else matching.Tif.GTC,
            post_only=d.type == "LIMIT_MAKER",
            client_id=order.client_id,
        )
        result = self.engine.submit(sim)
        if not result.accepted:
            if d.type == "LIMIT_MAKER":
                raise ApiError(-2010, "Order would immediately match and take.")
            if d.tif != "FOK":
                raise ApiError(-2010, result.reason)
            order.status = "EXPIRED"
        counters.used_client_ids.add(order.client_id)
        counters.order_times.append(now)
        self.orders[order.order_id] = order
        self.execution(order, "NEW")
        fills = self.settle(result.trades)
        self.public_trades(result.trades)
        if result.resting:
            self._lock(order)
            self.account_position(order.key, order.wallet)
        elif order.status not in ("FILLED", "EXPIRED") or not result.accepted:
            order.status = "EXPIRED"
            self.execution(order, "EXPIRED")
        return fills

    def _lock(self, order: Order) -> None:
        order.locked = self._lock_amount(order)
        balance = self.balances(order.key, order.wallet)[self.quote if order.side == "BUY" else self.base]
        balance[0] -= order.locked
        balance[1] += order.locked

    def _respond(
        self, order: Order, params: dict[str, str], fills: dict[int, list[dict[str, Any]]], now: int
    ) -> dict[str, Any]:
        resp_type = params.get("newOrderRespType", "FULL" if order.type in ("LIMIT", "MARKET") else "ACK")
        body: dict[str, Any] = {
            "symbol": self.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_id,
            "transactTime": now,
        }
        if resp_type in ("RESULT", "FULL"):
            body.update(self.order_json(order, full=False))
            body.update({"workingTime": now, "selfTradePreventionMode": "EXPIRE_MAKER"})
        if resp_type == "FULL":
            body["fills"] = fills.get(order.order_id, [])
        return body

    def _lock_amount(self, o: Order) -> Decimal:
        remaining = o.qty - o.filled
        return Decimal(o.price * remaining) * self.unit if o.side == "BUY" else Decimal(remaining) * self.step

    # ---- fills -------------------------------------------------------------------------------------

    def settle(
        self, trades: tuple[matching.Trade, ...] | list[matching.Trade]
    ) -> dict[int, list[dict[str, Any]]]:
        """Apply trades to API orders and balances; publish executionReports. Returns FULL fills by order."""
        fills: dict[int, list[dict[str, Any]]] = {}
        touched: dict[int, Order] = {}
        for t in trades:
            trade_id = next(self._trade_ids)
            for oid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                o = self.orders.get(oid)
                if o is None:
                    continue
                trade = self._fill(o, t, maker, trade_id)
                fills.setdefault(oid, []).append(
                    {k: trade[k] for k in ("price", "qty", "commission", "commissionAsset")}
                    | {"tradeId": trade_id}
                )
                self.execution(o, "TRADE", trade)
                touched[oid] = o
        for o in touched.values():
            self.after_fill(o)
        for key, wallet in {(o.key, o.wallet) for o in touched.values()}:
            self.account_position(key, wallet)
        return fills

    def _fill(self, o: Order, t: matching.Trade, maker: bool, trade_id: int) -> dict[str, Any]:
        notional = Decimal(t.price * t.qty) * self.unit
        fee, fee_asset = self._move_balances(o, t, maker, notional)
        now = self.now_ms()
        o.filled += t.qty
        o.quote += notional
        o.update_ms = now
        o.status = "FILLED" if o.filled >= o.qty else "PARTIALLY_FILLED"
        trade: dict[str, Any] = {
            "symbol": self.symbol,
            "id": trade_id,
            "orderId": o.order_id,
            "orderListId": -1,
            "price": self.fmt(t.price, self.tick),
            "qty": self.fmt(t.qty, self.step),
            "quoteQty": f"{notional:.8f}",
            "commission": f"{fee:.8f}",
            "commissionAsset": fee_asset,
            "time": now,
            "isBuyer": o.side == "BUY",
            "isMaker": maker,
            "isBestMatch": True,
        }
        trade.update(self.order_extra(o))
        self.counters(o.key, o.wallet).trades.append(trade)
        return trade

    def _move_balances(
        self, o: Order, t: matching.Trade, maker: bool, notional: Decimal
    ) -> tuple[Decimal, str]:
        balances = self.balances(o.key, o.wallet)
        fee = t.maker_fee if maker else t.taker_fee
        b, q = balances[self.base], balances[self.quote]
        if maker:  # release what was locked for this part
            part = Decimal(o.price * t.qty) * self.unit if o.side == "BUY" else Decimal(t.qty) * self.step
            o.locked -= part
            (q if o.side == "BUY" else b)[1] -= part
            (q if o.side == "BUY" else b)[0] += part
        if o.side == "BUY" and self.buyer_fee_in_base:  # Binance without BNB: the buyer pays in base
            fee = (fee / (Decimal(t.price) * self.tick)).quantize(Decimal("0.00000001"))
            q[0] -= notional
            b[0] += Decimal(t.qty) * self.step - fee
            return fee, self.base
        if o.side == "BUY":
            q[0] -= notional + fee
            b[0] += Decimal(t.qty) * self.step
        else:
            b[0] -= Decimal(t.qty) * self.step
            q[0] += notional - fee
        return fee, self.quote

    # ---- queries and cancels -----------------------------------------------------------------------

    def order_extra(self, o: Order) -> dict[str, Any]:
        return {} if o.wallet == SPOT else {"isIsolated": o.wallet != "MARGIN"}

    def order_json(self, o: Order, full: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "symbol": self.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_id,
            "price": self.fmt(o.price, self.tick),
            "origQty": self.fmt(o.qty, self.step),
            "executedQty": self.fmt(o.filled, self.step),
            "cummulativeQuoteQty": f"{o.quote:.8f}",
            "status": o.status,
            "timeInForce": o.tif,
            "type": o.type,
            "side": o.side,
        }
        if full:
            d.update(
                {
                    "stopPrice": "0.00000000",
                    "icebergQty": "0.00000000",
                    "time": o.time_ms,
                    "updateTime": o.update_ms,
                    "isWorking": o.status in LIVE,
                    "workingTime": o.time_ms,
                    "origQuoteOrderQty": f"{o.quote_qty:.8f}",
                    "selfTradePreventionMode": "EXPIRE_MAKER",
                }
            )
        d.update(self.order_extra(o))
        return d

    def find(self, market: Market, params: dict[str, str], key: str) -> Order | None:
        wallet = self.wallet(market, params, key)
        if "orderId" in params:
            o = self.orders.get(order_id_param(params))
            return o if o is not None and o.key == key and o.wallet == wallet else None
        cid = params.get("origClientOrderId")
        if not cid:
            raise ApiError(-1102, market.missing_id)
        for o in reversed(self.orders.values()):
            if o.key == key and o.client_id == cid and o.wallet == wallet:
                return o
        return None

    def orders_of(self, key: str, wallet: str) -> list[Order]:
        return [o for o in self.orders.values() if o.key == key and o.wallet == wallet]

    def live(self, key: str, wallet: str) -> list[Order]:
        return [o for o in self.orders_of(key, wallet) if o.status in LIVE]

    def cancel(self, o: Order, params: dict[str, str]) -> dict[str, Any]:
        return self._cancel(o, params.get("newClientOrderId") or f"cancel{next(self.order_ids)}")

    def _cancel(self, o: Order, cancel_cid: str) -> dict[str, Any]:
        self.engine.cancel(o.order_id)
        balance = self.balances(o.key, o.wallet)[self.quote if o.side == "BUY" else self.base]
        balance[1] -= o.locked
        balance[0] += o.locked
        o.locked = ZERO
        o.status = "CANCELED"
        o.update_ms = self.now_ms()
        self.execution(o, "CANCELED", cancel_cid=cancel_cid)
        self.account_position(o.key, o.wallet)
        d = self.order_json(o, full=False)
        d.update({"origClientOrderId": o.client_id, "clientOrderId": cancel_cid, "transactTime": o.update_ms})
        return d

    def cancel_all(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        wallet = self.wallet(market, params, key)
        self.check_symbol(params)
        live = self.live(key, wallet)
        if not live:
            raise unknown_order()
        return [self._cancel(o, f"cancel{next(self.order_ids)}") for o in live]

    # ---- user data ---------------------------------------------------------------------------------

    def execution(self, o: Order, x: str, trade: dict[str, Any] | None = None, cancel_cid: str = "") -> None:
        self.emit((o.key, o.wallet), lambda: self._execution_report(o, x, trade, cancel_cid))

    def account_position(self, key: str, wallet: str) -> None:
        """`outboundAccountPosition`: the wallet's free and locked balances of the book's two assets."""
        self.emit((key, wallet), lambda: self._account_position(key, wallet))

    def _account_position(self, key: str, wallet: str) -> dict[str, Any]:
        now = self.now_ms()
        balances = self.balances(key, wallet)
        assets = [a for a in (self.base, self.quote) if a in balances]
        rows = [{"a": a, "f": f"{balances[a][0]:.8f}", "l": f"{balances[a][1]:.8f}"} for a in assets]
        return {"e": "outboundAccountPosition", "E": now, "u": now, "B": rows}

    def _execution_report(
        self, o: Order, x: str, trade: dict[str, Any] | None, cancel_cid: str
    ) -> dict[str, Any]:
        now = self.now_ms()
        return {
            "e": "executionReport",
            "E": now,
            "s": self.symbol,
            "c": cancel_cid or o.client_id,
            "S": o.side,
            "o": o.type,
            "f": o.tif,
            "q": self.fmt(o.qty, self.step),
            "p": self.fmt(o.price, self.tick),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": o.client_id if cancel_cid else "",
            "x": x,
            "X": o.status,
            "r": "NONE",
            "i": o.order_id,
            "l": trade["qty"] if trade else "0.00000000",
            "z": self.fmt(o.filled, self.step),
            "L": trade["price"] if trade else "0.00000000",
            "n": trade["commission"] if trade else "0",
            "N": trade["commissionAsset"] if trade else None,
            "T": now,
            "t": trade["id"] if trade else -1,
            "I": now,
            "w": o.status in LIVE,
            "m": bool(trade["isMaker"]) if trade else False,
            "M": False,
            "O": o.time_ms,
            "Z": f"{o.quote:.8f}",
            "Y": trade["quoteQty"] if trade else "0.00000000",
            "Q": f"{o.quote_qty:.8f}",
            "W": o.time_ms,
            "V": "EXPIRE_MAKER",
        }
