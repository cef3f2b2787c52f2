"""A loopback simulator of Kraken spot: REST `/0/public` and `/0/private` and WebSocket v2 (a documented
subset, kraken.md).

REST (`rest.py`): public Time, SystemStatus, AssetPairs, Depth, Ticker (GET); private AddOrder,
AddOrderBatch, AmendOrder, CancelOrder, CancelAll, CancelAllOrdersAfter, OpenOrders, ClosedOrders,
QueryOrders, TradesHistory, Balance, GetWebSocketsToken (POST, form-encoded, or JSON as AddOrderBatch
needs). Answers are Kraken's envelope `{"error": [...], "result": ...}` with HTTP 200 even for errors.
`API-Sign` is checked with the standard library (`hmac`, `hashlib`, `base64`):
base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body))); the nonce must grow strictly per
key (`EAPI:Invalid nonce` otherwise).

WebSocket v2 (`ws.py`): public `/v2` (`book` with Kraken's CRC32 checksum on every message, `trade`,
heartbeats, ping) and private `/ws-auth/v2` (`executions` with a token from GetWebSocketsToken; order entry
`add_order`, `amend_order`, `batch_add`, `cancel_order`, `cancel_all`).

AmendOrder changes an open limit order in place (the same txid; a smaller quantity at the same price
keeps its queue place, anything else re-queues it). AddOrderBatch takes 2 to 15 orders of one pair:
validated as a whole first (one invalid order refuses the request), then placed one by one (an order the
engine refuses, e.g. post-only that would take, is an `error` entry; the others stand).

Rate counters (`rate_tier`: starter, intermediate or pro; None, the default, keeps none; `limits.py`):
the key's REST call counter (`EAPI:Rate limit exceeded`) and the trading engine's counter per key and
pair, with Kraken's costs by order age (`EOrder:Rate limit exceeded`), both decaying at the tier's rate.

Market: XBT/USD and ETH/USD, each a seeded background market (`trader.sim.market`) on the pure-Python
matching engine. Fees at Kraken's default tier (maker 0.25 %, taker 0.40 %), charged in the quote currency.

Deviations: spot only (no margin, leverage, conditional close or stop/take-profit orders); no EditOrder
(the legacy replace) or CancelOrderBatch; CancelAll and the dead-man switch are not charged on the
trading counter (Kraken does not say); `EService: Throttled` (concurrency) is never sent; no `otp`; an
IOC's or a market order's unfilled rest ends `canceled`; the duplicate-cl_ord_id error string is
unconfirmed.
Admin hooks: `state()`, `top()`, `corrupt_checksum()` (the next book update carries a wrong checksum).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import random
import secrets
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from trader.clock import Clock
from trader.sim.kraken import rest, ws
from trader.sim.kraken.limits import Limits, amend_cost, cancel_cost
from trader.sim.kraken.state import (
    COST_MINIMUM,
    DEMO_KEY,
    DEMO_SECRET,
    DUPLICATE_CLIENT_ID,
    INSUFFICIENT_FUNDS,
    INVALID_ARGUMENTS,
    INVALID_PRICE,
    MAKER_BPS,
    NS,
    ORDER_MINIMUM,
    ORDER_PATHS,
    PAIRS,
    POST_ONLY,
    TAKER_BPS,
    TICK_SIZE,
    UNKNOWN_ORDER,
    UNKNOWN_PAIR,
    Account,
    KrakenError,
    Order,
    Pair,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade
from trader.sim.server import VenueServer


class Market:
    def __init__(self, pair: Pair, seed: int) -> None:
        self.pair = pair
        unit = pair.tick * pair.lot
        self.engine = MatchingEngine(maker_fee_bps=MAKER_BPS, taker_fee_bps=TAKER_BPS, unit_notional=unit)
        params = MarketParams(
            mid=pair.mid_ticks,
            min_qty=10_000,
            max_qty=5_000_000,
            market_rate=4.0,
            asset=pair.base,
            unit=float(pair.tick),
        )
        self.market = BackgroundMarket(self.engine, params, seed=seed)
        self.market.seed_book(30)
        self.trade_seq = 0


class KrakenSimServer(VenueServer):
    FAULT_PATHS = ORDER_PATHS
    venue = "kraken"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        accounts: dict[str, str] | None = None,
        cash: Decimal = Decimal(1_000_000),
        coins: Decimal = Decimal(10),
        rate_tier: str | None = None,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.limits = Limits(rate_tier) if rate_tier is not None else None
        self._rng = random.Random(seed)
        self.accounts: dict[str, Account] = {}
        for key, secret in (accounts or {DEMO_KEY: DEMO_SECRET}).items():
            balances = {"ZUSD": cash, "XXBT": coins, "XETH": coins * 10}
            self.accounts[key] = Account(base64.b64decode(secret), balances)
        self.markets = {p.altname: Market(p, seed * 31 + i) for i, p in enumerate(PAIRS)}
        self.orders: dict[str, Order] = {}
        self.resting: dict[int, Order] = {}  # engine id -> our resting order
        self.by_engine: dict[int, Order] = {}  # engine id -> our order
        self.trades: dict[str, dict[str, Any]] = {}  # trade txid -> TradesHistory entry (with its key)
        self.tokens: dict[str, str] = {}  # WebSocket token -> API key
        self.public: dict[web.WebSocketResponse, ws.PublicSub] = {}
        self.private: dict[web.WebSocketResponse, ws.PrivateSub] = {}
        self._ids = itertools.count(1)
        self._bad_checksum = False
        self._since_heartbeat = 0

    @property
    def default_symbol(self) -> str:
        return "XBTUSD"

    def routes(self) -> list[web.RouteDef]:
        return [*rest.routes(self), web.get("/v2", self._public_ws), web.get("/ws-auth/v2", self._private_ws)]

    async def _public_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await ws.public_stream(self, request)

    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await ws.private_stream(self, request)

    def now_ns(self) -> int:
        return self.clock.now_ns()

    # ---- lookups -------------------------------------------------------------------------------------

    def market(self, name: str) -> Market:
        for m in self.markets.values():
            p = m.pair
            if name in (p.altname, p.key, p.wsname, p.symbol):
                return m
        raise KrakenError(UNKNOWN_PAIR)

    def top(self, altname: str = "XBTUSD") -> tuple[int, int]:
        e = self.markets[altname].engine
        return e.best_bid() or 0, e.best_ask() or 0

    def corrupt_checksum(self) -> None:
        """The next book update carries a wrong checksum (one-shot)."""
        self._bad_checksum = True

    def amend_id(self) -> str:
        return self._txid("T")

    def _txid(self, prefix: str) -> str:
        chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        raw = "".join(self._rng.choice(chars) for _ in range(16))
        return f"{prefix}{raw[:5]}-{raw[5:10]}-{raw[10:16]}"

    # ---- orders --------------------------------------------------------------------------------------

    def _units(self, text: str, step: Decimal, error: str) -> int:
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise KrakenError(INVALID_ARGUMENTS) from None
        n = d / step
        if n != n.to_integral_value() or d <= 0:
            raise KrakenError(error)
        return int(n)

    def _held(self, key: str, asset: str) -> Decimal:
        held = Decimal(0)
        for o in self.orders.values():
            if o.key != key or o.status != "open":
                continue
            p, rest_units = o.pair, o.vol - o.vol_exec
            if o.side == "buy" and p.quote == asset and o.price is not None:
                held += Decimal(o.price * rest_units) * p.tick * p.lot * (1 + TAKER_BPS / 10_000)
            elif o.side == "sell" and p.base == asset:
                held += Decimal(rest_units) * p.lot
        return held

    def _check_funds(self, key: str, m: Market, side: str, price: int | None, vol: int) -> None:
        p, acct = m.pair, self.accounts[key]
        if side == "buy":
            ref = price or m.engine.best_ask() or p.mid_ticks
            need = Decimal(ref * vol) * p.tick * p.lot * (1 + TAKER_BPS / 10_000)
            have = acct.balances.get(p.quote, Decimal(0)) - self._held(key, p.quote)
        else:
            need = Decimal(vol) * p.lot
            have = acct.balances.get(p.base, Decimal(0)) - self._held(key, p.base)
        if need > have:
            raise KrakenError(INSUFFICIENT_FUNDS)

    def validate(self, key: str, f: dict[str, str], *, funds: bool = True) -> Order:
        """An order from AddOrder's (or add_order's) fields, checked as Kraken checks them."""
        m = self.market(f.get("pair", ""))
        p = m.pair
        side, ordertype = f.get("type", ""), f.get("ordertype", "")
        tif = f.get("timeinforce", "GTC").upper()
        if (
            side not in ("buy", "sell")
            or ordertype not in ("limit", "market")
            or tif not in ("GTC", "IOC", "GTD")
        ):
            raise KrakenError(INVALID_ARGUMENTS)
        price = self._units(f.get("price", ""), p.tick, TICK_SIZE) if ordertype == "limit" else None
        vol = self._units(f.get("volume", ""), p.lot, INVALID_ARGUMENTS)
        if Decimal(vol) * p.lot < Decimal(p.ordermin):
            raise KrakenError(ORDER_MINIMUM)
        if price is not None and Decimal(price * vol) * p.tick * p.lot < Decimal(p.costmin):
            raise KrakenError(COST_MINIMUM)
        cid = f.get("cl_ord_id", "")
        if cid and any(
            o.cl_ord_id == cid and o.key == key and o.status == "open" for o in self.orders.values()
        ):
            raise KrakenError(DUPLICATE_CLIENT_ID)
        expire = 0
        if tif == "GTD":
            try:
                expire = int(Decimal(f.get("expiretm", "")) * NS)
            except InvalidOperation:
                raise KrakenError(INVALID_ARGUMENTS) from None
            if expire <= self.now_ns():
                raise KrakenError(INVALID_ARGUMENTS)
        if funds:
            self._check_funds(key, m, side, price, vol)
        post = "post" in f.get("oflags", "").split(",")
        userref = int(f.get("userref", "0") or 0)
        o = Order(
            self._txid("O"), key, p, side, ordertype, price, vol, tif, post, cid, userref, self.now_ns()
        )
        o.expiretm = expire
        return o

    def charge(self, key: str, pair: Pair, cost: float) -> None:
        """The trading engine's counter of (key, pair), when the simulator keeps one."""
        if self.limits is not None and cost:
            error = self.limits.trade(key, pair.altname, cost, self.now_ns())
            if error:
                raise KrakenError(error)

    def place(self, key: str, f: dict[str, str], cost: float = 1) -> Order:
        o = self.validate(key, f)
        m = self.market(o.pair.altname)
        best = m.engine.best_ask() if o.side == "buy" else m.engine.best_bid()
        crosses = (
            best is not None
            and o.price is not None
            and (o.price - best) * (1 if o.side == "buy" else -1) >= 0
        )
        if o.post_only and crosses:
            raise KrakenError(POST_ONLY)
        if o.ordertype == "market" and best is None:
            raise KrakenError(INVALID_PRICE)
        self.charge(key, o.pair, cost)
        o.engine_id, o.touched = next(self._ids), self.now_ns()
        self.orders[o.txid] = o
        self.by_engine[o.engine_id] = o
        ws.execution(self, o, "pending_new")
        ws.execution(self, o, "new")
        side = Side.BUY if o.side == "buy" else Side.SELL
        tif = Tif.IOC if o.tif == "IOC" or o.price is None else Tif.GTC
        sim = SimOrder(o.engine_id, key, side, o.price, o.vol, tif, client_id=o.cl_ord_id)
        result = m.engine.submit(sim)
        if result.resting:
            self.resting[o.engine_id] = o
        self._settle(m, result.trades)
        if not result.resting and o.status == "open":
            self._close(o, "canceled", "Unfilled remainder (IOC or market)")
        return o

    def _close(self, o: Order, status: str, reason: str = "") -> None:
        o.status, o.reason, o.closetm = status, reason, self.now_ns()
        self.resting.pop(o.engine_id, None)
        ws.execution(self, o, status)

    def cancel(self, key: str, ref: str) -> int:
        """CancelOrder by txid, cl_ord_id or userref: how many were canceled."""
        found = [
            o
            for o in self.orders.values()
            if o.key == key and o.status == "open" and ref in (o.txid, o.cl_ord_id, str(o.userref or ""))
        ]
        if not found:
            raise KrakenError(UNKNOWN_ORDER)
        now = self.now_ns()
        for o in found:
            self.charge(key, o.pair, cancel_cost(now - o.touched))
        for o in found:
            self.market(o.pair.altname).engine.cancel(o.engine_id)
            self._close(o, "canceled", "User requested")
        return len(found)

    def place_batch(self, key: str, pair: str, orders: list[dict[str, str]]) -> list[Order | KrakenError]:
        """AddOrderBatch / batch_add: 2 to 15 orders of one pair. The whole batch is validated first (one
        invalid order refuses all of it, nothing placed); then each is placed, and one refused by the
        engine (funds, post-only, the rate counter) leaves the others placed. Costs n/2 on the trading
        counter, charged up front."""
        m = self.market(pair)
        if not 2 <= len(orders) <= 15:
            raise KrakenError(INVALID_ARGUMENTS)
        fields = [{**f, "pair": m.pair.altname} for f in orders]
        cids = [f["cl_ord_id"] for f in fields if f.get("cl_ord_id")]
        if len(set(cids)) != len(cids):
            raise KrakenError(DUPLICATE_CLIENT_ID)
        for f in fields:
            self.validate(key, f, funds=False)
        self.charge(key, m.pair, len(fields) / 2)
        out: list[Order | KrakenError] = []
        for f in fields:
            try:
                out.append(self.place(key, f, cost=0))
            except KrakenError as e:
                out.append(e)
        return out

    def amend(self, key: str, f: dict[str, str]) -> Order:
        """AmendOrder / amend_order: a new total quantity (`order_qty`, above what filled) and/or limit
        price (`limit_price`) for an open limit order, in place: the same txid. A smaller quantity at the
        same price keeps the order's place in the queue; anything else re-queues it (and may trade)."""
        ref = f.get("txid") or f.get("order_id") or f.get("cl_ord_id") or ""
        if not ref or not (f.get("order_qty") or f.get("limit_price")):
            raise KrakenError(INVALID_ARGUMENTS)
        o = next(
            (
                o
                for o in self.orders.values()
                if o.key == key and o.status == "open" and ref in (o.txid, o.cl_ord_id)
            ),
            None,
        )
        if o is None or o.price is None:
            raise KrakenError(UNKNOWN_ORDER)
        p, m = o.pair, self.market(o.pair.altname)
        vol = self._units(f["order_qty"], p.lot, INVALID_ARGUMENTS) if f.get("order_qty") else o.vol
        price = self._units(f["limit_price"], p.tick, TICK_SIZE) if f.get("limit_price") else o.price
        if vol <= o.vol_exec:
            raise KrakenError(INVALID_ARGUMENTS)
        if Decimal(vol) * p.lot < Decimal(p.ordermin):
            raise KrakenError(ORDER_MINIMUM)
        best = m.engine.best_ask() if o.side == "buy" else m.engine.best_bid()
        if o.post_only and best is not None and (price - best) * (1 if o.side == "buy" else -1) >= 0:
            raise KrakenError(POST_ONLY)
        o.status = "amending"  # its own hold does not count against the new one
        try:
            self._check_funds(key, m, o.side, price, vol - o.vol_exec)
        finally:
            o.status = "open"
        now = self.now_ns()
        self.charge(key, p, amend_cost(now - o.touched))
        rest_units, trades = vol - o.vol_exec, []
        if price == o.price and vol <= o.vol:
            m.engine.orders[o.engine_id].remaining = rest_units  # keeps its place
        else:
            m.engine.cancel(o.engine_id)
            self.resting.pop(o.engine_id, None)
            side = Side.BUY if o.side == "buy" else Side.SELL
            sim = SimOrder(o.engine_id, key, side, price, rest_units, Tif.GTC, client_id=o.cl_ord_id)
            result = m.engine.submit(sim)
            if result.resting:
                self.resting[o.engine_id] = o
            trades = list(result.trades)
        o.vol, o.price, o.touched = vol, price, now
        ws.execution(self, o, "amended")
        self._settle(m, trades)
        return o

    def cancel_all(self, key: str) -> int:
        n = 0
        for o in [o for o in self.orders.values() if o.key == key and o.status == "open"]:
            self.market(o.pair.altname).engine.cancel(o.engine_id)
            self._close(o, "canceled", "User requested")
            n += 1
        return n

    def _settle(self, m: Market, trades: Iterable[Trade]) -> None:
        for t in trades:
            m.trade_seq += 1
            ws.public_trade(self, m, t)
            for engine_id, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                o = self.by_engine.get(engine_id)
                if o is not None:
                    self._fill(o, t, maker)

    def _fill(self, o: Order, t: Trade, maker: bool) -> None:
        p, acct = o.pair, self.accounts[o.key]
        vol, cost = Decimal(t.qty) * p.lot, Decimal(t.price * t.qty) * p.tick * p.lot
        fee = (cost * (MAKER_BPS if maker else TAKER_BPS) / 10_000).quantize(Decimal("0.00001"))
        sign = 1 if o.side == "buy" else -1
        acct.balances[p.base] = acct.balances.get(p.base, Decimal(0)) + sign * vol
        acct.balances[p.quote] = acct.balances.get(p.quote, Decimal(0)) - sign * cost - fee
        o.vol_exec += t.qty
        o.cost += cost
        o.fee += fee
        tid = self._txid("T")
        o.trades.append(tid)
        now = self.now_ns()
        self.trades[tid] = {
            "key": o.key,
            "ordertxid": o.txid,
            "postxid": self._txid("P"),
            "pair": p.key,
            "time": now / NS,
            "type": o.side,
            "ordertype": o.ordertype,
            "price": p.price_text(t.price),
            "cost": f"{cost:.5f}",
            "fee": f"{fee:.5f}",
            "vol": p.vol_text(t.qty),
            "margin": "0.00000",
            "maker": maker,
            "misc": "",
            "trade_id": t.trade_id,
        }
        ws.execution(self, o, "trade", trade=(tid, t, maker, fee))
        if o.vol_exec >= o.vol:
            o.status, o.closetm = "closed", now
            self.resting.pop(o.engine_id, None)
            ws.execution(self, o, "filled")

    # ---- the background market, timers -----------------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        now = self.now_ns()
        for m in self.markets.values():
            self._settle(m, m.market.step(dt_ns))
        for o in [o for o in self.orders.values() if o.status == "open" and o.expiretm and o.expiretm <= now]:
            self.market(o.pair.altname).engine.cancel(o.engine_id)
            self._close(o, "expired", "Order expired")
        for key, acct in self.accounts.items():
            if acct.dead_man_at and acct.dead_man_at <= now:
                acct.dead_man_at = 0
                acct.dead_man_fired += 1
                self.cancel_all(key)
        if self.faults.stale_feed:
            return
        self._since_heartbeat += dt_ns
        beat = self._since_heartbeat >= NS
        if beat:
            self._since_heartbeat = 0
        if ws.publish_books(self, bad_checksum=self._bad_checksum, heartbeat=beat):
            self._bad_checksum = False

    def check_signature(self, key: str, path: str, nonce: str, body: bytes, sign: str) -> bool:
        import hashlib
        import hmac

        acct = self.accounts[key]
        message = path.encode() + hashlib.sha256(nonce.encode() + body).digest()
        good = base64.b64encode(hmac.new(acct.secret, message, hashlib.sha512).digest()).decode()
        try:
            base64.b64decode(sign, validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(good, sign)

    def new_token(self, key: str) -> str:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = key
        return token

    def state(self) -> dict[str, Any]:
        return {
            "accounts": {
                key: {
                    "balances": {a: str(v) for a, v in acct.balances.items()},
                    "dead_man": {"armed": bool(acct.dead_man_at), "fired": acct.dead_man_fired},
                    "last_nonce": acct.last_nonce,
                }
                for key, acct in self.accounts.items()
            },
            "orders": {txid: {**o.json(), "key": o.key} for txid, o in self.orders.items()},
            "trades": dict(self.trades),
        }
