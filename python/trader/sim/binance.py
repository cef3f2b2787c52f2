"""One loopback Binance: spot (everything `SpotSimServer` does), USD-M futures and cross/isolated margin,
on one port, so the `binance` connector and the official SDK (python-binance) trade against it unmodified.

Futures (`/fapi/...`, its own perpetual book and background market, same symbol name):
ping, time, exchangeInfo, depth; signed: order (POST LIMIT GTC/IOC/FOK/GTX and MARKET, positionSide BOTH,
reduceOnly, newClientOrderId, newOrderRespType ACK|RESULT, selfTradePreventionMode; GET; DELETE),
openOrder, openOrders, allOrders, allOpenOrders (DELETE), userTrades, leverage, marginType,
countdownCancelAll (the dead-man switch), v2/v3 positionRisk, balance and account; listenKey
(POST/PUT/DELETE). Streams on the routed paths: `/public/ws/<s>@depth@100ms` (`pu` chain),
`/public/ws/<s>@bookTicker`, `/market/ws/<s>@aggTrade`, `/market/ws/<s>@markPrice[@1s]`, the combined
`/public|market/stream?streams=` forms, and user data on `/private/ws?listenKey=..&events=..` or
`/private/ws/<listenKey>` (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ACCOUNT_CONFIG_UPDATE, listenKeyExpired).
WebSocket API `/ws-fapi/v1`: order.place, order.status, order.cancel, account.balance, account.position,
account.status (and their v2/ forms), userDataStream.start/ping/stop.

Margin (`/sapi/v1/...`, orders match on the spot book): margin/order (POST with sideEffectType
NO_SIDE_EFFECT | MARGIN_BUY | AUTO_REPAY | AUTO_BORROW_REPAY; GET; DELETE), margin/openOrders (GET, DELETE),
margin/allOrders, margin/myTrades, margin/account, margin/isolated/account, margin/maxBorrowable,
margin/borrow-repay and the older margin/loan + margin/repay (python-binance 1.0.37 still calls those),
and the margin listenKeys (`/sapi/v1/userDataStream[/isolated]`, then `/ws/<listenKey>` for
executionReports). `isIsolated=TRUE` + `symbol` selects the isolated BTCUSDT account.

Auth everywhere: HMAC-SHA256 keys or Ed25519 keys (`ed25519_accounts={api_key: public_key_pem}`), checked
with stdlib `hmac` / `cryptography` over the exact query+body bytes (REST) or the sorted `k=v` params
(WebSocket API); never with `trader._core`.

Choices and deviations (not taken from Binance unless said):
- futures: tick 0.10, step 0.001, min notional 100 USDT, PERCENT_PRICE 0.95..1.05 of the mark price,
  fees 2 bps maker / 5 bps taker in USDT, default leverage 20 (1..125), one-way mode only; mark price =
  the futures mid; no funding, no liquidation (`liquidationPrice` is "0"), maintenance margin 0.4 %.
  Initial margin of open orders nets against an opposite position; isolated margin moves
  `notional/leverage` into the position's isolated wallet on open and releases it pro rata on reduce.
- GTX that would take: -5022, and FOK that cannot fill: -5021, both not recorded (current Binance
  behaviour, e.g. binance/binance-futures-connector-java#51; older accounts saw an EXPIRED order).
- reduceOnly is rejected (-2022) when the position is flat, on the same side, or smaller than the order.
- STP (futures, taker's mode; default NONE): EXPIRE_MAKER / EXPIRE_BOTH expire the own resting orders the
  taker would reach; EXPIRE_TAKER / EXPIRE_BOTH stop the taker before its own best order (queue position
  at that price is ignored). Expired orders get status EXPIRED_IN_MATCH. Spot and margin have no STP.
- futures depth ids jump irregularly between events (as on Binance, only `pu` == previous `u` holds);
  a REST snapshot first publishes the pending diff, so `lastUpdateId` equals the `u` of an event.
- margin: cross 3x (borrow allowed while liabilities <= 2 x net equity, i.e. margin level >= 1.5),
  isolated 10x (liabilities <= 9 x equity) -- our pick, -3006 past it; no interest accrual, no
  liquidation; repaying more than owed repays the whole debt; a borrow made by MARGIN_BUY stays even if
  the order is then rejected. Margin assets are valued at the spot mid.
- request weight: spot `/api` 6000/min, futures `/fapi` 2400/min, and every `/sapi` endpoint its own
  12000/min budget (Binance's SAPI IP limits are per endpoint); orders: spot 200/10 s, futures 300/10 s
  and 1200/1 min per account, margin per wallet like spot.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web

from trader.clock import Clock
from trader.sim import matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.spot import LIVE, SPOT, Account, ApiError, Order, SpotSimServer, Subscriber, UserKey

MARGIN = "MARGIN"
F_TICK, F_STEP = Decimal("0.1"), Decimal("0.001")
F_MIN_QTY, F_MAX_QTY, F_MARKET_MAX_QTY = Decimal("0.001"), Decimal("1000"), Decimal("120")
F_MIN_NOTIONAL = Decimal(100)
F_UP, F_DOWN = Decimal("1.05"), Decimal("0.95")
MAINT_RATE = Decimal("0.004")
LISTEN_KEY_TTL_MS = 60 * 60 * 1000
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
SIDE_EFFECTS = ("NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY")
ZERO = Decimal(0)


def _money(d: Decimal) -> str:
    return f"{d:.8f}"


@dataclass
class FuturesOrder:
    order_id: int
    key: str
    client_id: str
    side: str
    type: str
    tif: str
    price: int  # ticks; 0 for market
    qty: int  # lots
    reduce_only: bool
    stp: str
    time_ms: int
    update_ms: int
    filled: int = 0
    quote: Decimal = ZERO
    status: str = "NEW"


@dataclass
class Position:
    amt: int = 0  # signed lots
    entry: Decimal = ZERO  # average entry price
    realized: Decimal = ZERO  # accumulated realized PnL
    isolated_wallet: Decimal = ZERO
    update_ms: int = 0


@dataclass
class FuturesAccount:
    wallet: Decimal
    leverage: int = 20
    margin_type: str = "CROSSED"
    position: Position = field(default_factory=Position)
    used_client_ids: set[str] = field(default_factory=set)
    submissions: dict[str, int] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    order_times: list[int] = field(default_factory=list)  # ms of new orders in the last minute
    countdown_ms: int = 0
    countdown_deadline_ms: int = 0
    countdown_fired: int = 0
    countdown_canceled: list[int] = field(default_factory=list)


@dataclass
class MarginWallet:
    balances: dict[str, list[Decimal]]  # asset -> [free, locked]
    max_leverage: int
    counters: Account  # client ids, submissions, order times and trades of this wallet
    borrowed: dict[str, Decimal] = field(default_factory=dict)
    interest: dict[str, Decimal] = field(default_factory=dict)

    def debt(self, asset: str) -> Decimal:
        return self.borrowed.get(asset, ZERO) + self.interest.get(asset, ZERO)


Method = Callable[[dict[str, str], str, Account], Any]


class BinanceSimServer(SpotSimServer):
    venue = "binance"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        venue: str = "binance",
        step_ms: int = 100,
        weight_limit: int = 6000,
        orders_per_10s: int = 200,
        accounts: dict[str, str] | None = None,
        ed25519_accounts: dict[str, str] | None = None,
        futures_symbol: str = "BTCUSDT",
        futures_weight_limit: int = 2400,
        futures_orders_per_10s: int = 300,
        futures_orders_per_1m: int = 1200,
        futures_wallet: Decimal = Decimal(100_000),
        margin_cross_usdt: Decimal = Decimal(10_000),
        margin_isolated_usdt: Decimal = Decimal(1_000),
        cross_margin_leverage: int = 3,
        isolated_margin_leverage: int = 10,
        symbol: str = "BTCUSDT",
        buyer_fee_in_base: bool = False,
    ) -> None:
        super().__init__(
            symbol=symbol,
            buyer_fee_in_base=buyer_fee_in_base,
            seed=seed,
            clock=clock,
            venue=venue,
            step_ms=step_ms,
            weight_limit=weight_limit,
            orders_per_10s=orders_per_10s,
            accounts=accounts,
            ed25519_accounts=ed25519_accounts,
        )
        self.f_symbol = futures_symbol
        self.f_weight_limit = futures_weight_limit
        self.f_orders_per_10s, self.f_orders_per_1m = futures_orders_per_10s, futures_orders_per_1m
        self.f_engine = matching.MatchingEngine(
            maker_fee_bps=Decimal(2), taker_fee_bps=Decimal(5), unit_notional=F_TICK * F_STEP
        )
        self.f_market = BackgroundMarket(
            self.f_engine, MarketParams(mid=500_000, max_qty=200, mean_distance_ticks=3.0), seed=seed + 1
        )
        self.f_market.seed_book(20)
        self.f_orders: dict[int, FuturesOrder] = {}
        self._f_order_ids = itertools.count(4_000_000_001)
        self._f_trade_ids = itertools.count(1)
        self._tran_ids = itertools.count(100_000_001)
        self.f_last_u = 7_000_000
        self._f_events = 0
        self._f_gap = self._gap_seen = False
        self._f_published = self._f_levels()
        self._f_top: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._f_mark_second = 0
        self.f_public_subs: dict[web.WebSocketResponse, tuple[set[str], bool]] = {}
        self.f_market_subs: dict[web.WebSocketResponse, tuple[set[str], bool]] = {}
        self.f_user_subs: dict[str, set[tuple[web.WebSocketResponse, frozenset[str] | None, str]]] = {}
        self.f_listen_keys: dict[str, tuple[str, int]] = {}  # listenKey -> (api key, expiry ms)
        self.futures: dict[str, FuturesAccount] = {}
        self.margin: dict[str, dict[str, MarginWallet]] = {}
        self._side_effects: dict[tuple[str, str, str], str] = {}
        self.listen_tokens: dict[str, tuple[str, str, int]] = {}  # token -> (api key, wallet, expiry ms)
        self._token_subs: list[tuple[UserKey, Subscriber, int]] = []
        for key in self.accounts:
            self.futures[key] = FuturesAccount(wallet=futures_wallet)
            self.margin[key] = {
                MARGIN: MarginWallet(
                    {self.base: [ZERO, ZERO], self.quote: [margin_cross_usdt, ZERO]},
                    cross_margin_leverage,
                    Account(b"", {}),
                ),
                f"ISOLATED:{self.symbol}": MarginWallet(
                    {self.base: [ZERO, ZERO], self.quote: [margin_isolated_usdt, ZERO]},
                    isolated_margin_leverage,
                    Account(b"", {}),
                ),
            }

    # ---- formatting, prices ------------------------------------------------------------------------

    @staticmethod
    def fpx(ticks: int) -> str:
        return f"{Decimal(ticks) * F_TICK:.2f}"

    @staticmethod
    def fqty(lots: int) -> str:
        return f"{Decimal(lots) * F_STEP:.3f}"

    def mark(self) -> Decimal:
        """The futures mark price: the mid of the futures book."""
        bid, ask = self.f_engine.best_bid(), self.f_engine.best_ask()
        if bid is not None and ask is not None:
            return Decimal(bid + ask) * F_TICK / 2
        return Decimal(round(self.f_market.mid)) * F_TICK

    def _f_levels(self) -> tuple[dict[int, int], dict[int, int]]:
        bids, asks = self.f_engine.depth(5000)
        return dict(bids), dict(asks)

    # ---- budgets -----------------------------------------------------------------------------------

    def _bucket(self, path: str) -> tuple[str, int]:
        if path.startswith("/fapi/") or path.startswith("/ws-fapi/"):
            return "fapi", self.f_weight_limit
        if path.startswith("/sapi/"):
            return path, 12_000
        return super()._bucket(path)

    def _order_headers_for(self, path: str, key: str) -> dict[str, str]:
        if path.startswith("/fapi/") or path.startswith("/ws-fapi/"):
            fa = self.futures[key]
            now = self.now_ms()
            return {
                "X-MBX-ORDER-COUNT-10S": str(sum(1 for t in fa.order_times if t > now - 10_000)),
                "X-MBX-ORDER-COUNT-1M": str(sum(1 for t in fa.order_times if t > now - 60_000)),
            }
        if path.startswith("/sapi/"):
            return {}
        return super()._order_headers_for(path, key)

    def _ws_rate_limits(self, path: str, key: str) -> list[dict[str, Any]]:
        if not path.startswith("/fapi/"):
            return super()._ws_rate_limits(path, key)
        used, limit = self.used_weight(path)
        out: list[dict[str, Any]] = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limit,
                "count": used,
            }
        ]
        if key:
            h = self._order_headers_for(path, key)
            out += [
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": self.f_orders_per_10s,
                    "count": int(h["X-MBX-ORDER-COUNT-10S"]),
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.f_orders_per_1m,
                    "count": int(h["X-MBX-ORDER-COUNT-1M"]),
                },
            ]
        return out

    # ---- routes ------------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        r = self.rest
        f = "/fapi"
        futures = [
            r("GET", f"{f}/v1/ping", self.ping, 1),
            r("GET", f"{f}/v1/time", self.time, 1),
            r("GET", f"{f}/v1/exchangeInfo", self.f_exchange_info, 1),
            r("GET", f"{f}/v1/depth", self.f_depth, self._f_depth_weight),
            r("POST", f"{f}/v1/order", self.f_new_order, 0, signed=True),
            r("GET", f"{f}/v1/order", self.f_get_order, 1, signed=True),
            r("DELETE", f"{f}/v1/order", self.f_cancel_order, 1, signed=True),
            r("GET", f"{f}/v1/openOrder", self.f_open_order, 1, signed=True),
            r("GET", f"{f}/v1/openOrders", self.f_open_orders, self._f_open_orders_weight, signed=True),
            r("GET", f"{f}/v1/allOrders", self.f_all_orders, 5, signed=True),
            r("DELETE", f"{f}/v1/allOpenOrders", self.f_cancel_all, 1, signed=True),
            r("GET", f"{f}/v1/userTrades", self.f_user_trades, 5, signed=True),
            r("POST", f"{f}/v1/leverage", self.f_leverage, 1, signed=True),
            r("POST", f"{f}/v1/marginType", self.f_margin_type, 1, signed=True),
            r("POST", f"{f}/v1/countdownCancelAll", self.f_countdown, 10, signed=True),
            r("GET", f"{f}/v2/positionRisk", self.f_position_v2, 5, signed=True),
            r("GET", f"{f}/v3/positionRisk", self.f_position_v3, 5, signed=True),
            r("GET", f"{f}/v2/balance", self.f_balance, 5, signed=True),
            r("GET", f"{f}/v3/balance", self.f_balance, 5, signed=True),
            r("GET", f"{f}/v2/account", self.f_account, 5, signed=True),
            r("GET", f"{f}/v3/account", self.f_account, 5, signed=True),
            web.post(f"{f}/v1/listenKey", self.f_listen_key),
            web.put(f"{f}/v1/listenKey", self.f_listen_key),
            web.delete(f"{f}/v1/listenKey", self.f_listen_key),
            web.get("/public/ws", self.f_public_ws),
            web.get("/public/ws/{streams:.*}", self.f_public_ws),
            web.get("/public/stream", self.f_public_ws),
            web.get("/market/ws", self.f_market_ws),
            web.get("/market/ws/{streams:.*}", self.f_market_ws),
            web.get("/market/stream", self.f_market_ws),
            web.get("/private/ws", self.f_private_ws),
            web.get("/private/ws/{listen_key}", self.f_private_ws),
            web.get("/private/stream", self.f_private_ws),
            web.get("/ws-fapi/v1", self.f_ws_api),
        ]
        s = "/sapi/v1"
        margin = [
            r("POST", f"{s}/margin/order", self.m_new_order, 6, signed=True),
            r("GET", f"{s}/margin/order", self.m_get_order, 10, signed=True),
            r("DELETE", f"{s}/margin/order", self.m_cancel_order, 10, signed=True),
            r("GET", f"{s}/margin/openOrders", self.m_open_orders, 10, signed=True),
            r("DELETE", f"{s}/margin/openOrders", self.m_cancel_open_orders, 1, signed=True),
            r("GET", f"{s}/margin/allOrders", self.m_all_orders, 200, signed=True),
            r("GET", f"{s}/margin/myTrades", self.m_my_trades, 10, signed=True),
            r("GET", f"{s}/margin/account", self.m_account, 10, signed=True),
            r("GET", f"{s}/margin/isolated/account", self.m_isolated_account, 10, signed=True),
            r("GET", f"{s}/margin/maxBorrowable", self.m_max_borrowable, 50, signed=True),
            r("POST", f"{s}/margin/borrow-repay", self.m_borrow_repay, 1500, signed=True),
            r("POST", f"{s}/margin/loan", self.m_loan, 3000, signed=True),
            r("POST", f"{s}/margin/repay", self.m_repay, 3000, signed=True),
            r("POST", f"{s}/userListenToken", self.m_listen_token, 1, signed=True),
            web.post(f"{s}/userDataStream", self.m_listen_key),
            web.put(f"{s}/userDataStream", self.m_listen_key),
            web.delete(f"{s}/userDataStream", self.m_listen_key),
            web.post(f"{s}/userDataStream/isolated", self.m_listen_key),
            web.put(f"{s}/userDataStream/isolated", self.m_listen_key),
            web.delete(f"{s}/userDataStream/isolated", self.m_listen_key),
        ]
        return [*super().routes(), *futures, *margin]

    # ---- futures: public ---------------------------------------------------------------------------

    def f_exchange_info(self, params: dict[str, str]) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.f_weight_limit,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.f_orders_per_1m,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": self.f_orders_per_10s,
                },
            ],
            "exchangeFilters": [],
            "assets": [{"asset": self.quote, "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [
                {
                    "symbol": self.f_symbol,
                    "pair": self.f_symbol,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": self.base,
                    "quoteAsset": self.quote,
                    "marginAsset": self.quote,
                    "pricePrecision": 2,
                    "quantityPrecision": 3,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": "0.10",
                            "maxPrice": "4529764",
                            "tickSize": f"{F_TICK:.2f}",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": f"{F_MIN_QTY:.3f}",
                            "maxQty": f"{F_MAX_QTY:.3f}",
                            "stepSize": f"{F_STEP:.3f}",
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": f"{F_MIN_QTY:.3f}",
                            "maxQty": f"{F_MARKET_MAX_QTY:.3f}",
                            "stepSize": f"{F_STEP:.3f}",
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": f"{F_MIN_NOTIONAL}"},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": f"{F_UP:.4f}",
                            "multiplierDown": f"{F_DOWN:.4f}",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": ["LIMIT", "MARKET"],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                }
            ],
        }

    @staticmethod
    def _f_depth_weight(params: dict[str, str]) -> int:
        limit = int(params.get("limit", "500") or 500)
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20

    def f_depth(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        limit = int(params.get("limit", "500") or 500)
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise ApiError(
                -1100,
                "Illegal characters found in parameter 'limit'; "
                "legal range is '5, 10, 20, 50, 100, 500, 1000'.",
            )
        self._f_publish_depth()  # the snapshot then sits exactly on an event's `u`
        bids, asks = self.f_engine.depth(limit)
        now = self.now_ms()
        return {
            "lastUpdateId": self.f_last_u,
            "E": now,
            "T": now,
            "bids": [[self.fpx(p), self.fqty(q)] for p, q in bids],
            "asks": [[self.fpx(p), self.fqty(q)] for p, q in asks],
        }

    # ---- futures: orders ---------------------------------------------------------------------------

    def _f_units(self, name: str, text: str, unit: Decimal, places: int) -> int:
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.") from None
        if not d.is_finite():
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.")
        if d <= 0:
            if name == "quantity":
                raise ApiError(-4003, "Quantity less than or equal to zero.")
            raise ApiError(-4001, "Price less than 0.")
        if d != d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
            raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
        q = d / unit
        if q != q.to_integral_value():
            if name == "quantity":
                raise ApiError(-4023, "Quantity not increased by step size.")
            raise ApiError(-4014, "Price not increased by tick size.")
        return int(q)

    def _fa(self, key: str) -> FuturesAccount:
        return self.futures[key]

    def _f_live(self, key: str) -> list[FuturesOrder]:
        return [o for o in self.f_orders.values() if o.key == key and o.status in LIVE]

    def _f_price(self, o: FuturesOrder) -> Decimal:
        return Decimal(o.price) * F_TICK if o.price else self.mark()

    def _open_order_margin(self, key: str, extra: FuturesOrder | None = None) -> Decimal:
        """Initial margin of open orders: the part of each side beyond what would close the position."""
        fa = self._fa(key)
        orders = [*self._f_live(key), *([extra] if extra is not None else [])]
        amt = fa.position.amt
        total = ZERO
        for side, offset in (("BUY", max(0, -amt)), ("SELL", max(0, amt))):
            same = [o for o in orders if o.side == side and not o.reduce_only]
            lots = sum(o.qty - o.filled for o in same)
            if not lots:
                continue
            notional = sum((self._f_price(o) * (o.qty - o.filled) * F_STEP for o in same), ZERO)
            opening = max(0, lots - offset)
            total += notional * opening / lots / fa.leverage
        return total

    def _upnl(self, key: str) -> Decimal:
        p = self._fa(key).position
        return (self.mark() - p.entry) * p.amt * F_STEP if p.amt else ZERO

    def _position_margin(self, key: str) -> Decimal:
        fa = self._fa(key)
        if fa.margin_type == "ISOLATED":
            return fa.position.isolated_wallet
        return abs(fa.position.amt) * F_STEP * self.mark() / fa.leverage

    def _available(self, key: str, extra: FuturesOrder | None = None) -> Decimal:
        fa = self._fa(key)
        cross_wallet = fa.wallet - fa.position.isolated_wallet
        if fa.margin_type == "CROSSED":
            cross_wallet += self._upnl(key) - self._position_margin(key)
        return cross_wallet - self._open_order_margin(key, extra)

    def _f_side_notional(self, key: str, side: str) -> Decimal:
        return sum(
            (self._f_price(o) * (o.qty - o.filled) * F_STEP for o in self._f_live(key) if o.side == side),
            ZERO,
        )

    def f_new_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        fa = self._fa(key)
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        side = self._require(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        otype = self._require(params, "type")
        if otype in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"):
            raise ApiError(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        if otype not in ("LIMIT", "MARKET"):
            raise ApiError(-1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") != "BOTH":
            raise ApiError(-4061, "Order's position side does not match user's setting.")
        tif = params.get("timeInForce", "")
        if otype == "LIMIT":
            if not tif:
                raise ApiError(
                    -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
                )
            if tif not in ("GTC", "IOC", "FOK", "GTX"):
                raise ApiError(-1115, "Invalid timeInForce.")
        else:
            tif = "GTC"
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        stp = params.get("selfTradePreventionMode", "NONE")
        if stp not in STP_MODES:
            raise ApiError(-1100, "Illegal characters found in parameter 'selfTradePreventionMode'.")
        qty = self._f_units("quantity", self._require(params, "quantity"), F_STEP, 3)
        if Decimal(qty) * F_STEP < F_MIN_QTY:
            raise ApiError(-4004, "Quantity less than min quantity.")
        if Decimal(qty) * F_STEP > (F_MARKET_MAX_QTY if otype == "MARKET" else F_MAX_QTY):
            raise ApiError(-4005, "Quantity greater than max quantity.")
        price = 0 if otype == "MARKET" else self._f_units("price", self._require(params, "price"), F_TICK, 2)
        mark = self.mark()
        if price:
            px = Decimal(price) * F_TICK
            if side == "BUY" and px > mark * F_UP:
                raise ApiError(-4016, f"Limit price can't be higher than {mark * F_UP:.2f}.")
            if side == "SELL" and px < mark * F_DOWN:
                raise ApiError(-4024, f"Limit price can't be lower than {mark * F_DOWN:.2f}.")
        ref = Decimal(price) * F_TICK if price else mark
        if not reduce_only and ref * qty * F_STEP < F_MIN_NOTIONAL:
            raise ApiError(
                -4164,
                f"Order's notional must be no smaller than {F_MIN_NOTIONAL} (unless you choose reduce only).",
            )
        now = self.now_ms()
        fa.order_times = [t for t in fa.order_times if t > now - 60_000]
        if sum(1 for t in fa.order_times if t > now - 10_000) >= self.f_orders_per_10s:
            raise ApiError(
                -1015,
                f"Too many new orders; current limit is {self.f_orders_per_10s} orders per TEN_SECONDS.",
                429,
            )
        if len(fa.order_times) >= self.f_orders_per_1m:
            raise ApiError(
                -1015, f"Too many new orders; current limit is {self.f_orders_per_1m} orders per MINUTE.", 429
            )
        cid = params.get("newClientOrderId") or f"sim{next(self._f_order_ids)}f"
        if not CLIENT_ID.match(cid):
            raise ApiError(-4015, "Client order id is not valid.")
        fa.submissions[cid] = fa.submissions.get(cid, 0) + 1
        if cid in fa.used_client_ids:
            raise ApiError(-4116, "ClientOrderId is duplicated.")
        amt = fa.position.amt
        if reduce_only and (amt == 0 or (amt > 0) == (side == "BUY") or qty > abs(amt)):
            raise ApiError(-2022, "ReduceOnly Order is rejected.")
        order = FuturesOrder(
            next(self._f_order_ids), key, cid, side, otype, tif, price, qty, reduce_only, stp, now, now
        )
        if not reduce_only and self._available(key, extra=order) < 0:
            raise ApiError(-2019, "Margin is insufficient.")
        sim = matching.SimOrder(
            order.order_id,
            key,
            matching.Side.BUY if side == "BUY" else matching.Side.SELL,
            price or None,
            qty,
            tif=matching.Tif(tif) if tif in ("IOC", "FOK") else matching.Tif.GTC,
            post_only=tif == "GTX",
            client_id=cid,
        )
        book = self.f_engine.asks if side == "BUY" else self.f_engine.bids
        best = book.best()
        if tif == "GTX" and best is not None and (price >= best if side == "BUY" else price <= best):
            raise ApiError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                "The order will not be recorded in the order history",
            )
        if tif == "FOK" and self._f_fillable(sim) < qty:
            raise ApiError(
                -5021,
                "Due to the order could not be filled immediately, the FOK order has been rejected. "
                "The order will not be recorded in the order history",
            )
        fa.used_client_ids.add(cid)
        fa.order_times.append(now)
        self.f_orders[order.order_id] = order
        ack = self._f_order_json(order)
        self._f_emit_order(order, "NEW")
        stopped = self._f_self_trade(sim, order) if tif not in ("FOK", "GTX") else False
        result = self.f_engine.submit(sim)
        if not result.accepted:  # cannot happen after the checks above; keep the venue consistent anyway
            order.status = "EXPIRED"
            self._f_emit_order(order, "EXPIRED")
        self._f_settle(result.trades)
        self._f_public_trades(result.trades)
        if order.status in LIVE and not result.resting:
            order.status = "EXPIRED_IN_MATCH" if stopped else "EXPIRED"
            order.update_ms = now
            self._f_emit_order(order, "EXPIRED")
        if params.get("newOrderRespType", "ACK") == "RESULT":
            return self._f_order_json(order)
        return ack

    def _f_fillable(self, o: matching.SimOrder) -> int:
        book = self.f_engine.asks if o.side is matching.Side.BUY else self.f_engine.bids
        total = 0
        for p in book.iter_best():
            if o.price is not None and (p > o.price if o.side is matching.Side.BUY else p < o.price):
                break
            total += sum(r.remaining for r in book.levels[p])
            if total >= o.qty:
                break
        return total

    def _f_self_trade(self, sim: matching.SimOrder, order: FuturesOrder) -> bool:
        """Self-trade prevention by the taker's mode. Returns whether the taker is stopped short."""
        if order.stp == "NONE":
            return False
        book = self.f_engine.asks if sim.side is matching.Side.BUY else self.f_engine.bids
        own: list[int] = []
        first_own: int | None = None
        for p in book.iter_best():
            if sim.price is not None and (p > sim.price if sim.side is matching.Side.BUY else p < sim.price):
                break
            mine = [r.order_id for r in book.levels[p] if r.owner == order.key]
            if mine and first_own is None:
                first_own = p
            own += mine
        if not own:
            return False
        if order.stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
            for oid in own:
                self.f_engine.cancel(oid)
                maker = self.f_orders[oid]
                maker.status, maker.update_ms = "EXPIRED_IN_MATCH", self.now_ms()
                self._f_emit_order(maker, "EXPIRED")
        if order.stp in ("EXPIRE_TAKER", "EXPIRE_BOTH") and first_own is not None:
            sim.price = first_own - 1 if sim.side is matching.Side.BUY else first_own + 1
            sim.tif = matching.Tif.IOC
            return True
        return False

    def _f_apply_fill(self, o: FuturesOrder, price: int, qty: int, fee: Decimal) -> Decimal:
        """Position, wallet and isolated margin after a fill of `o`; returns the realized PnL."""
        fa = self._fa(o.key)
        pos = fa.position
        px = Decimal(price) * F_TICK
        signed = qty if o.side == "BUY" else -qty
        realized = ZERO
        if pos.amt == 0 or (pos.amt > 0) == (signed > 0):
            size = abs(pos.amt)
            pos.entry = (pos.entry * size + px * qty) / (size + qty)
            if fa.margin_type == "ISOLATED":
                pos.isolated_wallet += px * qty * F_STEP / fa.leverage
            pos.amt += signed
        else:
            size = abs(pos.amt)
            close = min(size, qty)
            realized = (px - pos.entry) * close * F_STEP * (1 if pos.amt > 0 else -1)
            pos.isolated_wallet -= pos.isolated_wallet * close / size
            pos.amt += signed
            if pos.amt == 0:
                pos.entry = ZERO
            elif close < qty:  # flipped: the rest opens at this price
                pos.entry = px
                if fa.margin_type == "ISOLATED":
                    pos.isolated_wallet = px * (qty - close) * F_STEP / fa.leverage
        pos.realized += realized
        pos.update_ms = self.now_ms()
        fa.wallet += realized - fee
        return realized

    def _f_settle(self, trades: tuple[matching.Trade, ...] | list[matching.Trade]) -> None:
        now = self.now_ms()
        for t in trades:
            trade_id = next(self._f_trade_ids)
            for oid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                o = self.f_orders.get(oid)
                if o is None:
                    continue
                fee = t.maker_fee if maker else t.taker_fee
                realized = self._f_apply_fill(o, t.price, t.qty, fee)
                notional = Decimal(t.price * t.qty) * F_TICK * F_STEP
                o.filled += t.qty
                o.quote += notional
                o.update_ms = now
                o.status = "FILLED" if o.filled >= o.qty else "PARTIALLY_FILLED"
                trade = {
                    "buyer": o.side == "BUY",
                    "commission": _money(fee),
                    "commissionAsset": self.quote,
                    "id": trade_id,
                    "maker": maker,
                    "orderId": o.order_id,
                    "price": self.fpx(t.price),
                    "qty": self.fqty(t.qty),
                    "quoteQty": _money(notional),
                    "realizedPnl": _money(realized),
                    "side": o.side,
                    "positionSide": "BOTH",
                    "symbol": self.f_symbol,
                    "time": now,
                }
                self._fa(o.key).trades.append(trade)
                self._f_emit_order(o, "TRADE", trade)
                self._f_emit_account(o.key, "ORDER")

    def _f_public_trades(self, trades: tuple[matching.Trade, ...] | list[matching.Trade]) -> None:
        if self.faults.stale_feed:
            return
        now = self.now_ms()
        for t in trades:
            self._publish(
                f"{self.f_symbol.lower()}@aggTrade",
                {
                    "e": "aggTrade",
                    "E": now,
                    "s": self.f_symbol,
                    "a": t.trade_id,
                    "p": self.fpx(t.price),
                    "q": self.fqty(t.qty),
                    "f": t.trade_id,
                    "l": t.trade_id,
                    "T": now,
                    "m": t.taker_side is matching.Side.SELL,
                },
                self.f_market_subs,
            )

    def _f_order_json(self, o: FuturesOrder) -> dict[str, Any]:
        avg = o.quote / (Decimal(o.filled) * F_STEP) if o.filled else ZERO
        return {
            "orderId": o.order_id,
            "symbol": self.f_symbol,
            "status": o.status,
            "clientOrderId": o.client_id,
            "price": self.fpx(o.price),
            "avgPrice": f"{avg:.5f}",
            "origQty": self.fqty(o.qty),
            "executedQty": self.fqty(o.filled),
            "cumQty": self.fqty(o.filled),
            "cumQuote": _money(o.quote),
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

    def _f_find(self, key: str, params: dict[str, str]) -> FuturesOrder | None:
        if params.get("symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        if "orderId" in params:
            try:
                o = self.f_orders.get(int(params["orderId"]))
            except ValueError:
                raise ApiError(-1100, "Illegal characters found in parameter 'orderId'.") from None
            return o if o is not None and o.key == key else None
        cid = params.get("origClientOrderId")
        if not cid:
            raise ApiError(-1102, "Either orderId or origClientOrderId must be sent.")
        for o in reversed(self.f_orders.values()):
            if o.key == key and o.client_id == cid:
                return o
        return None

    def f_get_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        o = self._f_find(key, params)
        if o is None:
            raise ApiError(-2013, "Order does not exist.")
        return self._f_order_json(o)

    def f_open_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        o = self._f_find(key, params)
        if o is None or o.status not in LIVE:
            raise ApiError(-2013, "Order does not exist.")
        return self._f_order_json(o)

    def _f_cancel(self, o: FuturesOrder) -> dict[str, Any]:
        self.f_engine.cancel(o.order_id)
        o.status, o.update_ms = "CANCELED", self.now_ms()
        self._f_emit_order(o, "CANCELED")
        return self._f_order_json(o)

    def f_cancel_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        o = self._f_find(key, params)
        if o is None or o.status not in LIVE:
            raise ApiError(-2011, "Unknown order sent.")
        return self._f_cancel(o)

    def f_cancel_all(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        for o in self._f_live(key):
            self._f_cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    @staticmethod
    def _f_open_orders_weight(params: dict[str, str]) -> int:
        return 1 if params.get("symbol") else 40

    def f_open_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        if params.get("symbol", self.f_symbol) != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        return [self._f_order_json(o) for o in self._f_live(key)]

    def f_all_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        limit = min(int(params.get("limit", "500")), 1000)
        return [self._f_order_json(o) for o in self.f_orders.values() if o.key == key][-limit:]

    def f_user_trades(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        return self.trades_of(params, self._fa(key).trades)

    def f_leverage(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        text = self._require(params, "leverage")
        try:
            lev = int(text)
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in parameter 'leverage'.") from None
        if not 1 <= lev <= 125:
            raise ApiError(-4028, f"Leverage {lev} is not valid")
        fa = self._fa(key)
        old, fa.leverage = fa.leverage, lev
        if self._available(key) < 0:
            fa.leverage = old
            raise ApiError(-2027, "Exceeded the maximum allowable position at current leverage.")
        now = self.now_ms()
        self._f_emit(
            key, {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now, "ac": {"s": self.f_symbol, "l": lev}}
        )
        return {"leverage": lev, "maxNotionalValue": self._max_notional(lev), "symbol": self.f_symbol}

    @staticmethod
    def _max_notional(lev: int) -> str:
        """A simplified BTCUSDT leverage bracket table (numbers unverified)."""
        if lev > 100:
            return "300000"
        if lev > 50:
            return "800000"
        if lev > 20:
            return "3000000"
        return "12000000"

    def f_margin_type(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        kind = self._require(params, "marginType").upper()
        if kind not in ("ISOLATED", "CROSSED"):
            raise ApiError(
                -1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed."
            )
        fa = self._fa(key)
        if kind == fa.margin_type:
            raise ApiError(-4046, "No need to change margin type.")
        if self._f_live(key):
            raise ApiError(-4047, "Margin type cannot be changed if there exists open orders.")
        if fa.position.amt:
            raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
        fa.margin_type = kind
        return {"code": 200, "msg": "success"}

    def f_countdown(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        if self._require(params, "symbol") != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        text = params.get("countdownTime", "")
        if text == "":
            raise ApiError(
                -1102, "Mandatory parameter 'countdownTime' was not sent, was empty/null, or malformed."
            )
        try:
            ms = int(text)
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in parameter 'countdownTime'.") from None
        if ms < 0:
            raise ApiError(-1100, "Illegal characters found in parameter 'countdownTime'.")
        fa = self._fa(key)
        fa.countdown_ms = ms
        fa.countdown_deadline_ms = self.now_ms() + ms if ms else 0
        return {"symbol": self.f_symbol, "countdownTime": str(ms)}

    def _check_countdowns(self) -> None:
        now = self.now_ms()
        for key, fa in self.futures.items():
            if fa.countdown_deadline_ms and now >= fa.countdown_deadline_ms:
                fa.countdown_deadline_ms, fa.countdown_ms = 0, 0
                fa.countdown_fired += 1
                for o in self._f_live(key):
                    self._f_cancel(o)
                    fa.countdown_canceled.append(o.order_id)

    # ---- futures: account --------------------------------------------------------------------------

    def _f_position_fields(self, key: str) -> dict[str, Any]:
        fa = self._fa(key)
        p = fa.position
        mark = self.mark()
        notional = p.amt * F_STEP * mark
        fee_rate = Decimal("0.0005")
        bep = p.entry * (1 + fee_rate) if p.amt > 0 else p.entry * (1 - fee_rate) if p.amt < 0 else ZERO
        return {
            "symbol": self.f_symbol,
            "positionSide": "BOTH",
            "positionAmt": self.fqty(p.amt),
            "entryPrice": f"{p.entry:.8f}",
            "breakEvenPrice": f"{bep:.8f}",
            "markPrice": f"{mark:.8f}",
            "unRealizedProfit": _money(self._upnl(key)),
            "liquidationPrice": "0",
            "isolatedMargin": _money(
                p.isolated_wallet + self._upnl(key) if fa.margin_type == "ISOLATED" else ZERO
            ),
            "notional": _money(notional),
            "marginAsset": self.quote,
            "isolatedWallet": _money(p.isolated_wallet),
            "initialMargin": _money(self._position_margin(key) + self._open_order_margin(key)),
            "maintMargin": _money(abs(notional) * MAINT_RATE),
            "positionInitialMargin": _money(self._position_margin(key)),
            "openOrderInitialMargin": _money(self._open_order_margin(key)),
            "adl": 0,
            "bidNotional": _money(self._f_side_notional(key, "BUY")),
            "askNotional": _money(self._f_side_notional(key, "SELL")),
            "updateTime": p.update_ms,
        }

    def f_position_v3(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        if params.get("symbol", self.f_symbol) != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        if not self._fa(key).position.amt and not self._f_live(key):
            return []  # v3 lists only symbols with a position or open orders
        return [self._f_position_fields(key)]

    def f_position_v2(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        if params.get("symbol", self.f_symbol) != self.f_symbol:
            raise ApiError(-1121, "Invalid symbol.")
        fa = self._fa(key)
        d = self._f_position_fields(key)
        return [
            {
                "entryPrice": d["entryPrice"],
                "breakEvenPrice": d["breakEvenPrice"],
                "marginType": "isolated" if fa.margin_type == "ISOLATED" else "cross",
                "isAutoAddMargin": "false",
                "isolatedMargin": d["isolatedMargin"],
                "leverage": str(fa.leverage),
                "liquidationPrice": "0",
                "markPrice": d["markPrice"],
                "maxNotionalValue": self._max_notional(fa.leverage),
                "positionAmt": d["positionAmt"],
                "notional": d["notional"],
                "isolatedWallet": d["isolatedWallet"],
                "symbol": self.f_symbol,
                "unRealizedProfit": d["unRealizedProfit"],
                "positionSide": "BOTH",
                "updateTime": d["updateTime"],
            }
        ]

    def _f_totals(self, key: str) -> dict[str, str]:
        fa = self._fa(key)
        upnl = self._upnl(key)
        cross_upnl = upnl if fa.margin_type == "CROSSED" else ZERO
        pos_im, order_im = self._position_margin(key), self._open_order_margin(key)
        avail = self._available(key)
        maint = abs(fa.position.amt) * F_STEP * self.mark() * MAINT_RATE
        return {
            "walletBalance": _money(fa.wallet),
            "unrealizedProfit": _money(upnl),
            "marginBalance": _money(fa.wallet + upnl),
            "maintMargin": _money(maint),
            "initialMargin": _money(pos_im + order_im),
            "positionInitialMargin": _money(pos_im),
            "openOrderInitialMargin": _money(order_im),
            "crossWalletBalance": _money(fa.wallet - fa.position.isolated_wallet),
            "crossUnPnl": _money(cross_upnl),
            "availableBalance": _money(avail),
            "maxWithdrawAmount": _money(max(avail, ZERO)),
        }

    def f_balance(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        t = self._f_totals(key)
        return [
            {
                "accountAlias": hashlib.sha256(key.encode()).hexdigest()[:4],
                "asset": self.quote,
                "balance": t["walletBalance"],
                "crossWalletBalance": t["crossWalletBalance"],
                "crossUnPnl": t["crossUnPnl"],
                "availableBalance": t["availableBalance"],
                "maxWithdrawAmount": t["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": self.now_ms(),
            }
        ]

    def f_account(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        t = self._f_totals(key)
        fa = self._fa(key)
        pos = self._f_position_fields(key)
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            "totalInitialMargin": t["initialMargin"],
            "totalMaintMargin": t["maintMargin"],
            "totalWalletBalance": t["walletBalance"],
            "totalUnrealizedProfit": t["unrealizedProfit"],
            "totalMarginBalance": t["marginBalance"],
            "totalPositionInitialMargin": t["positionInitialMargin"],
            "totalOpenOrderInitialMargin": t["openOrderInitialMargin"],
            "totalCrossWalletBalance": t["crossWalletBalance"],
            "totalCrossUnPnl": t["crossUnPnl"],
            "availableBalance": t["availableBalance"],
            "maxWithdrawAmount": t["maxWithdrawAmount"],
            "assets": [{"asset": self.quote, **t, "marginAvailable": True, "updateTime": self.now_ms()}],
            "positions": [
                {
                    "symbol": self.f_symbol,
                    "positionSide": "BOTH",
                    "positionAmt": pos["positionAmt"],
                    "unrealizedProfit": pos["unRealizedProfit"],
                    "isolatedMargin": pos["isolatedMargin"],
                    "notional": pos["notional"],
                    "isolatedWallet": pos["isolatedWallet"],
                    "initialMargin": pos["initialMargin"],
                    "maintMargin": pos["maintMargin"],
                    "positionInitialMargin": pos["positionInitialMargin"],
                    "openOrderInitialMargin": pos["openOrderInitialMargin"],
                    "leverage": str(fa.leverage),
                    "isolated": fa.margin_type == "ISOLATED",
                    "entryPrice": pos["entryPrice"],
                    "breakEvenPrice": pos["breakEvenPrice"],
                    "maxNotional": self._max_notional(fa.leverage),
                    "bidNotional": pos["bidNotional"],
                    "askNotional": pos["askNotional"],
                    "updateTime": pos["updateTime"],
                }
            ],
        }

    # ---- futures: user data ------------------------------------------------------------------------

    def _f_listen_key_for(self, key: str) -> str:
        now = self.now_ms()
        for lk, (owner, expiry) in self.f_listen_keys.items():
            if owner == key and expiry > now:
                self.f_listen_keys[lk] = (owner, now + LISTEN_KEY_TTL_MS)
                return lk
        lk = hashlib.sha256(f"fapi{key}{self.seed}{now}".encode()).hexdigest()
        self.f_listen_keys[lk] = (key, now + LISTEN_KEY_TTL_MS)
        return lk

    def _f_listen_key_call(self, method: str, key: str) -> dict[str, Any]:
        if method == "POST":
            return {"listenKey": self._f_listen_key_for(key)}
        now = self.now_ms()
        live = [lk for lk, (owner, expiry) in self.f_listen_keys.items() if owner == key and expiry > now]
        if not live:
            raise ApiError(-1125, "This listenKey does not exist.")
        if method == "PUT":
            self.f_listen_keys[live[0]] = (key, now + LISTEN_KEY_TTL_MS)
            return {"listenKey": live[0]}
        for lk in live:
            del self.f_listen_keys[lk]
        return {}

    async def f_listen_key(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-MBX-APIKEY", "")
        headers: dict[str, str] = {}
        try:
            headers = self._charge(request.path, 1)
            if key not in self.accounts:
                raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            body = self._f_listen_key_call(request.method, key)
        except ApiError as e:
            if e.retry_after:
                headers["Retry-After"] = str(e.retry_after)
            return self._error(e, headers)
        return web.Response(body=orjson.dumps(body), content_type="application/json", headers=headers)

    def _f_emit(self, key: str, event: dict[str, Any]) -> None:
        for ws, events, lk in list(self.f_user_subs.get(key, ())):
            if events is None or event["e"] in events or event["e"] == "listenKeyExpired":
                payload = {"stream": lk, "data": event} if lk else event
                self.send(ws, orjson.dumps(payload))

    def _f_emit_order(self, o: FuturesOrder, x: str, trade: dict[str, Any] | None = None) -> None:
        if not self.f_user_subs.get(o.key):
            return
        now = self.now_ms()
        avg = o.quote / (Decimal(o.filled) * F_STEP) if o.filled else ZERO
        self._f_emit(
            o.key,
            {
                "e": "ORDER_TRADE_UPDATE",
                "E": now,
                "T": now,
                "o": {
                    "s": self.f_symbol,
                    "c": o.client_id,
                    "S": o.side,
                    "o": o.type,
                    "f": o.tif,
                    "q": self.fqty(o.qty),
                    "p": self.fpx(o.price),
                    "ap": f"{avg:.5f}",
                    "sp": "0",
                    "x": x,
                    "X": o.status,
                    "i": o.order_id,
                    "l": trade["qty"] if trade else "0",
                    "z": self.fqty(o.filled),
                    "L": trade["price"] if trade else "0",
                    "N": self.quote,
                    "n": trade["commission"] if trade else "0",
                    "T": now,
                    "t": trade["id"] if trade else 0,
                    "b": _money(self._f_side_notional(o.key, "BUY")),
                    "a": _money(self._f_side_notional(o.key, "SELL")),
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
                },
            },
        )

    def _f_emit_account(self, key: str, reason: str) -> None:
        if not self.f_user_subs.get(key):
            return
        fa = self._fa(key)
        p = fa.position
        now = self.now_ms()
        bep = self._f_position_fields(key)["breakEvenPrice"]
        self._f_emit(
            key,
            {
                "e": "ACCOUNT_UPDATE",
                "E": now,
                "T": now,
                "a": {
                    "m": reason,
                    "B": [
                        {
                            "a": self.quote,
                            "wb": _money(fa.wallet),
                            "cw": _money(fa.wallet - p.isolated_wallet),
                            "bc": "0",
                        }
                    ],
                    "P": [
                        {
                            "s": self.f_symbol,
                            "pa": self.fqty(p.amt),
                            "ep": f"{p.entry:.8f}",
                            "bep": bep,
                            "cr": _money(p.realized),
                            "up": _money(self._upnl(key)),
                            "mt": "isolated" if fa.margin_type == "ISOLATED" else "cross",
                            "iw": _money(p.isolated_wallet),
                            "ps": "BOTH",
                        }
                    ],
                },
            },
        )

    async def f_private_ws(self, request: web.Request) -> web.StreamResponse:
        lk = request.match_info.get("listen_key") or request.query.get("listenKey", "")
        owner = self.f_listen_keys.get(lk)
        if owner is None or owner[1] <= self.now_ms():
            return self._error(ApiError(-1125, "This listenKey does not exist."))
        key = owner[0]
        events_q = request.query.get("events")
        events = frozenset(e for e in events_q.split("/") if e) if events_q else None
        combined = request.path.startswith("/private/stream")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        entry = (ws, events, lk if combined else "")
        self.f_user_subs.setdefault(key, set()).add(entry)
        try:
            async for _ in ws:
                pass
        finally:
            self.f_user_subs[key].discard(entry)
            self.sockets.discard(ws)
        return ws

    def _check_listen_keys(self) -> None:
        now = self.now_ms()
        for lk, (key, expiry) in list(self.f_listen_keys.items()):
            if expiry <= now:
                del self.f_listen_keys[lk]
                self._f_emit(key, {"e": "listenKeyExpired", "E": now, "listenKey": lk})

    # ---- futures: market data ----------------------------------------------------------------------

    async def f_public_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._f_streams(request, self.f_public_subs)

    async def f_market_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._f_streams(request, self.f_market_subs)

    async def _f_streams(
        self, request: web.Request, subs: dict[web.WebSocketResponse, tuple[set[str], bool]]
    ) -> web.WebSocketResponse:
        combined = request.path.endswith("/stream")
        path = request.match_info.get("streams", "")
        streams = set(request.query.get("streams", "").split("/")) if combined else set(path.split("/"))
        return await self.serve_streams(request, streams, combined, subs)

    def _f_publish_depth(self) -> None:
        bids, asks = self._f_levels()
        old_bids, old_asks = self._f_published
        b = [
            [self.fpx(p), self.fqty(bids.get(p, 0))]
            for p in sorted(set(bids) | set(old_bids), reverse=True)
            if bids.get(p, 0) != old_bids.get(p, 0)
        ]
        a = [
            [self.fpx(p), self.fqty(asks.get(p, 0))]
            for p in sorted(set(asks) | set(old_asks))
            if asks.get(p, 0) != old_asks.get(p, 0)
        ]
        if not b and not a:
            return
        self._f_published = (bids, asks)
        self._f_events += 1
        first = self.f_last_u + 1 + self._f_events % 3  # ids jump between events; only `pu` chains
        pu, self.f_last_u = self.f_last_u, first + len(a) + len(b) - 1
        if self._f_gap:  # the injected gap: this event is never sent
            self._f_gap = False
            return
        if self.faults.stale_feed:
            return
        now = self.now_ms()
        sym = self.f_symbol.lower()
        ev = {"e": "depthUpdate", "E": now, "T": now, "s": self.f_symbol, "U": first, "u": self.f_last_u}
        ev.update({"pu": pu, "b": b, "a": a})
        for stream in (f"{sym}@depth@100ms", f"{sym}@depth", f"{sym}@depth@500ms"):
            self._publish(stream, ev, self.f_public_subs)
        bid = max(bids) if bids else 0
        ask = min(asks) if asks else 0
        top = (bid, bids.get(bid, 0), ask, asks.get(ask, 0))
        if top != self._f_top:
            self._f_top = top
            self._publish(
                f"{sym}@bookTicker",
                {
                    "e": "bookTicker",
                    "u": self.f_last_u,
                    "s": self.f_symbol,
                    "b": self.fpx(top[0]),
                    "B": self.fqty(top[1]),
                    "a": self.fpx(top[2]),
                    "A": self.fqty(top[3]),
                    "T": now,
                    "E": now,
                },
                self.f_public_subs,
            )

    def _f_publish_mark(self) -> None:
        now = self.now_ms()
        if now // 1000 == self._f_mark_second or self.faults.stale_feed:
            return
        self._f_mark_second = now // 1000
        mark = self.mark()
        ev = {
            "e": "markPriceUpdate",
            "E": now,
            "s": self.f_symbol,
            "p": f"{mark:.8f}",
            "ap": f"{mark:.8f}",
            "P": f"{mark:.8f}",
            "i": f"{self.mid():.8f}",
            "r": "0.00000000",
            "T": (now // 28_800_000 + 1) * 28_800_000,
        }
        sym = self.f_symbol.lower()
        self._publish(f"{sym}@markPrice", ev, self.f_market_subs)
        self._publish(f"{sym}@markPrice@1s", ev, self.f_market_subs)

    def on_step(self, dt_ns: int) -> None:
        if self.faults.sequence_gap and not self._gap_seen:  # one gap on the futures feed too
            self._f_gap = True
        self._gap_seen = self.faults.sequence_gap
        super().on_step(dt_ns)
        trades = self.f_market.step(dt_ns)
        self._f_settle(
            [t for t in trades if t.maker_order_id in self.f_orders or t.taker_order_id in self.f_orders]
        )
        self._f_public_trades(trades)
        self._f_publish_depth()
        self._f_publish_mark()
        self._check_countdowns()
        self._check_listen_keys()
        self._check_listen_tokens()

    # ---- futures: WebSocket API --------------------------------------------------------------------

    async def f_ws_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self.serve_ws_api(request, self._f_ws_call, "/fapi/v1/order")

    def _f_ws_methods(self) -> dict[str, tuple[Method, int]]:
        return {
            "order.place": (self.f_new_order, 0),
            "order.status": (self.f_get_order, 1),
            "order.cancel": (self.f_cancel_order, 1),
            "account.balance": (self.f_balance, 5),
            "v2/account.balance": (self.f_balance, 5),
            "account.position": (self.f_position_v2, 5),
            "v2/account.position": (self.f_position_v3, 5),
            "account.status": (self.f_account, 5),
            "v2/account.status": (self.f_account, 5),
        }

    def _f_ws_call(
        self,
        ws: web.WebSocketResponse,
        method: str,
        params: dict[str, Any],
        mine: list[tuple[UserKey, Subscriber]],
    ) -> tuple[Any, str]:
        path = "/fapi/v1/order"
        if method.startswith("userDataStream."):
            self._charge(path, 1)
            key = str(params.get("apiKey", ""))
            if key not in self.accounts:
                raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            verb = {
                "userDataStream.start": "POST",
                "userDataStream.ping": "PUT",
                "userDataStream.stop": "DELETE",
            }
            if method not in verb:
                raise ApiError(-1100, f"Unknown method {method!r}.")
            return self._f_listen_key_call(verb[method], key), ""
        return self._ws_dispatch(path, self._f_ws_methods(), method, params)

    # ---- margin ------------------------------------------------------------------------------------

    def _m_wallet(self, key: str, params: dict[str, str]) -> tuple[str, MarginWallet]:
        isolated = params.get("isIsolated", "FALSE").upper() == "TRUE"
        if not isolated:
            return MARGIN, self.margin[key][MARGIN]
        symbol = self._require(params, "symbol")
        wallet = f"ISOLATED:{symbol}"
        found = self.margin[key].get(wallet)
        if found is None:
            raise ApiError(-11001, "Isolated margin account does not exist.")
        return wallet, found

    def _balances(self, key: str, wallet: str) -> dict[str, list[Decimal]]:
        if wallet == SPOT:
            return super()._balances(key, wallet)
        return self.margin[key][wallet].balances

    def _trade_log(self, key: str, wallet: str) -> list[dict[str, Any]]:
        if wallet == SPOT:
            return super()._trade_log(key, wallet)
        return self.margin[key][wallet].counters.trades

    def _order_extra(self, o: Order) -> dict[str, Any]:
        if o.wallet == SPOT:
            return {}
        return {"isIsolated": o.wallet != MARGIN}

    def _price_of(self, asset: str) -> Decimal:
        return Decimal(1) if asset == self.quote else self.mid()

    def _m_totals(self, w: MarginWallet) -> tuple[Decimal, Decimal]:
        """(total asset value, total liability) in the quote asset."""
        assets = sum(((v[0] + v[1]) * self._price_of(a) for a, v in w.balances.items()), ZERO)
        debt = sum((w.debt(a) * self._price_of(a) for a in w.balances), ZERO)
        return assets, debt

    def _m_level(self, w: MarginWallet) -> Decimal:
        assets, debt = self._m_totals(w)
        return assets / debt if debt else Decimal(999)

    def _m_max_borrow(self, w: MarginWallet, asset: str) -> Decimal:
        assets, debt = self._m_totals(w)
        room = (w.max_leverage - 1) * (assets - debt) - debt
        return max(ZERO, room / self._price_of(asset)).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)

    def _m_borrow(self, w: MarginWallet, asset: str, amount: Decimal) -> None:
        if asset not in w.balances:
            raise ApiError(-3027, "Not a valid margin asset.")
        if amount > self._m_max_borrow(w, asset):
            raise ApiError(-3006, "Your borrow amount has exceed maximum borrow amount.")
        w.balances[asset][0] += amount
        w.borrowed[asset] = w.borrowed.get(asset, ZERO) + amount

    def _m_repay(self, w: MarginWallet, asset: str, amount: Decimal) -> Decimal:
        if asset not in w.balances:
            raise ApiError(-3027, "Not a valid margin asset.")
        debt = w.debt(asset)
        if debt <= 0:
            raise ApiError(-3015, "Repayment amount exceeds borrow amount.")
        pay = min(amount, debt)
        if w.balances[asset][0] < pay:
            raise ApiError(-3041, "Balance is not enough")
        w.balances[asset][0] -= pay
        interest = min(pay, w.interest.get(asset, ZERO))
        w.interest[asset] = w.interest.get(asset, ZERO) - interest
        w.borrowed[asset] = w.borrowed.get(asset, ZERO) - (pay - interest)
        return pay

    def _ensure_funds(
        self, key: str, wallet: str, asset: str, need: Decimal, params: dict[str, str]
    ) -> dict[str, Any]:
        if wallet == SPOT:
            return super()._ensure_funds(key, wallet, asset, need, params)
        w = self.margin[key][wallet]
        free = w.balances[asset][0]
        effect = params.get("sideEffectType", "NO_SIDE_EFFECT")
        if free >= need:
            return {}
        if effect not in ("MARGIN_BUY", "AUTO_BORROW_REPAY"):
            raise ApiError(-2010, "Account has insufficient balance for requested action.")
        short = (need - free).quantize(Decimal("0.00000001"))
        self._m_borrow(w, asset, short)
        return {"marginBuyBorrowAmount": _money(short), "marginBuyBorrowAsset": asset}

    def _after_fill(self, o: Order) -> None:
        if o.wallet == SPOT:
            return
        effect = self._side_effects.get((o.key, o.wallet, o.client_id))
        if effect not in ("AUTO_REPAY", "AUTO_BORROW_REPAY"):
            return
        w = self.margin[o.key][o.wallet]
        asset = self.base if o.side == "BUY" else self.quote  # what the fill brought in
        pay = min(w.debt(asset), w.balances[asset][0])
        if pay > 0:
            self._m_repay(w, asset, pay)

    def m_new_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        wallet, w = self._m_wallet(key, params)
        effect = params.get("sideEffectType", "NO_SIDE_EFFECT")
        if effect not in SIDE_EFFECTS:
            raise ApiError(-1100, "Illegal characters found in parameter 'sideEffectType'.")
        params = dict(params)
        cid = params.get("newClientOrderId") or f"sim{next(self._order_ids)}m"
        params["newClientOrderId"] = cid
        if cid not in w.counters.used_client_ids:
            self._side_effects[(key, wallet, cid)] = effect
        body = self.place(params, key, w.counters, wallet)
        body["isIsolated"] = wallet != MARGIN
        return body

    def m_get_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        wallet, _ = self._m_wallet(key, params)
        return self.query(params, key, wallet)

    def m_cancel_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        wallet, _ = self._m_wallet(key, params)
        return self.cancel(params, key, wallet)

    def m_open_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        wallet, _ = self._m_wallet(key, params)
        return [self._order_json(o) for o in self._live(key, wallet)]

    def m_cancel_open_orders(
        self, params: dict[str, str], key: str, account: Account
    ) -> list[dict[str, Any]]:
        wallet, _ = self._m_wallet(key, params)
        return self.cancel_all(params, key, wallet)

    def m_all_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        wallet, _ = self._m_wallet(key, params)
        limit = min(int(params.get("limit", "500")), 500)
        return [self._order_json(o) for o in self.orders.values() if o.key == key and o.wallet == wallet][
            -limit:
        ]

    def m_my_trades(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        _, w = self._m_wallet(key, params)
        return self.trades_of(params, w.counters.trades)

    def _m_assets(self, w: MarginWallet) -> list[dict[str, Any]]:
        return [
            {
                "asset": a,
                "borrowed": _money(w.borrowed.get(a, ZERO)),
                "free": _money(v[0]),
                "interest": _money(w.interest.get(a, ZERO)),
                "locked": _money(v[1]),
                "netAsset": _money(v[0] + v[1] - w.debt(a)),
            }
            for a, v in w.balances.items()
        ]

    def m_account(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        w = self.margin[key][MARGIN]
        assets, debt = self._m_totals(w)
        btc = self._price_of(self.base)
        return {
            "created": True,
            "borrowEnabled": True,
            "marginLevel": _money(self._m_level(w)),
            "collateralMarginLevel": _money(self._m_level(w)),
            "totalAssetOfBtc": _money(assets / btc),
            "totalLiabilityOfBtc": _money(debt / btc),
            "totalNetAssetOfBtc": _money((assets - debt) / btc),
            "TotalCollateralValueInUSDT": _money(assets),
            "totalOpenOrderLossInUsdt": "0.00000000",
            "tradeEnabled": True,
            "transferInEnabled": True,
            "transferOutEnabled": True,
            "accountType": "MARGIN_1",
            "userAssets": self._m_assets(w),
        }

    def m_isolated_account(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        wanted = set(params["symbols"].split(",")) if params.get("symbols") else None
        btc = self._price_of(self.base)
        out: list[dict[str, Any]] = []
        total_assets = total_debt = ZERO
        for wallet, w in self.margin[key].items():
            if not wallet.startswith("ISOLATED:"):
                continue
            symbol = wallet.partition(":")[2]
            if wanted is not None and symbol not in wanted:
                continue
            assets, debt = self._m_totals(w)
            total_assets += assets
            total_debt += debt
            sides: dict[str, Any] = {}
            for name, a in (("baseAsset", self.base), ("quoteAsset", self.quote)):
                v = w.balances[a]
                sides[name] = {
                    "asset": a,
                    "borrowEnabled": True,
                    "borrowed": _money(w.borrowed.get(a, ZERO)),
                    "free": _money(v[0]),
                    "interest": _money(w.interest.get(a, ZERO)),
                    "locked": _money(v[1]),
                    "netAsset": _money(v[0] + v[1] - w.debt(a)),
                    "netAssetOfBtc": _money((v[0] + v[1] - w.debt(a)) * self._price_of(a) / btc),
                    "repayEnabled": True,
                    "totalAsset": _money(v[0] + v[1]),
                }
            level = self._m_level(w)
            out.append(
                {
                    **sides,
                    "symbol": symbol,
                    "isolatedCreated": True,
                    "enabled": True,
                    "marginLevel": _money(level),
                    "marginLevelStatus": "EXCESSIVE" if level >= 2 else "NORMAL",
                    "marginRatio": _money(Decimal(w.max_leverage)),
                    "indexPrice": _money(self.mid()),
                    "liquidatePrice": "0.00000000",
                    "liquidateRate": "0.00000000",
                    "tradeEnabled": True,
                }
            )
        return {
            "assets": out,
            "totalAssetOfBtc": _money(total_assets / btc),
            "totalLiabilityOfBtc": _money(total_debt / btc),
            "totalNetAssetOfBtc": _money((total_assets - total_debt) / btc),
        }

    def m_max_borrowable(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        _, w = self._m_wallet(key, params)
        asset = self._require(params, "asset")
        if asset not in w.balances:
            raise ApiError(-3027, "Not a valid margin asset.")
        amount = self._m_max_borrow(w, asset)
        return {"amount": _money(amount), "borrowLimit": _money(amount + w.borrowed.get(asset, ZERO))}

    def _m_amount(self, params: dict[str, str]) -> Decimal:
        try:
            amount = Decimal(self._require(params, "amount"))
        except InvalidOperation:
            raise ApiError(-1100, "Illegal characters found in parameter 'amount'.") from None
        if not amount.is_finite() or amount <= 0:
            raise ApiError(-1100, "Illegal characters found in parameter 'amount'.")
        return amount

    def m_borrow_repay(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        kind = self._require(params, "type")
        if kind not in ("BORROW", "REPAY"):
            raise ApiError(-1100, "Illegal characters found in parameter 'type'.")
        return self.m_loan(params, key, account) if kind == "BORROW" else self.m_repay(params, key, account)

    def m_loan(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        _, w = self._m_wallet(key, params)
        self._m_borrow(w, self._require(params, "asset"), self._m_amount(params))
        return {"tranId": next(self._tran_ids)}

    def m_repay(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        _, w = self._m_wallet(key, params)
        self._m_repay(w, self._require(params, "asset"), self._m_amount(params))
        return {"tranId": next(self._tran_ids)}

    def m_listen_token(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        """A margin listenToken, for `userDataStream.subscribe.listenToken` on the WebSocket API."""
        wallet, _ = self._m_wallet(key, params)
        try:
            validity = int(params.get("validity", "86400000") or 86_400_000)
        except ValueError:
            raise ApiError(-1100, "Illegal characters found in parameter 'validity'.") from None
        if not 0 < validity <= 86_400_000:
            raise ApiError(-1100, "Illegal characters found in parameter 'validity'.")
        expiry = self.now_ms() + validity
        digest = hashlib.sha256(
            f"{key}{wallet}{expiry}{len(self.listen_tokens)}{self.seed}".encode()
        ).digest()
        token = base64.b64encode(digest + digest[:20]).decode().rstrip("=")
        self.listen_tokens[token] = (key, wallet, expiry)
        return {"token": token, "expirationTime": expiry}

    def _ws_call(
        self,
        ws: web.WebSocketResponse,
        method: str,
        params: dict[str, Any],
        mine: list[tuple[UserKey, Subscriber]],
    ) -> tuple[Any, str]:
        if method != "userDataStream.subscribe.listenToken":
            return super()._ws_call(ws, method, params, mine)
        self._charge("/api/v3/order", 2)
        found = self.listen_tokens.get(str(params.get("listenToken", "")))
        if found is None or found[2] <= self.now_ms():
            raise ApiError(-1209, "Invalid listenToken.")
        key, wallet, expiry = found
        sub_id = next(self._sub_ids)
        entry: Subscriber = (ws, sub_id)
        self.user_subs.setdefault((key, wallet), set()).add(entry)
        mine.append(((key, wallet), entry))
        self._token_subs.append(((key, wallet), entry, expiry))
        return {"subscriptionId": sub_id, "expirationTime": expiry}, ""

    def _check_listen_tokens(self) -> None:
        now = self.now_ms()
        for item in [x for x in self._token_subs if x[2] <= now]:
            owner, (ws, sub_id), _ = item
            self._token_subs.remove(item)
            self.user_subs.get(owner, set()).discard((ws, sub_id))
            ev = {"subscriptionId": sub_id, "event": {"e": "eventStreamTerminated", "E": now}}
            self.send(ws, orjson.dumps(ev))
        for token, (_, _, expiry) in list(self.listen_tokens.items()):
            if expiry <= now:
                del self.listen_tokens[token]

    async def m_listen_key(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-MBX-APIKEY", "")
        if key not in self.accounts:
            return self._error(ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401))
        wallet = MARGIN
        if request.path.endswith("/isolated"):
            wallet = f"ISOLATED:{request.query.get('symbol', '')}"
            if wallet not in self.margin[key]:
                return self._error(ApiError(-11001, "Isolated margin account does not exist."))
        if request.method == "POST":
            return web.json_response({"listenKey": self._new_listen_key(key, wallet)})
        return web.json_response({})

    # ---- admin -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        out = super().state()
        for key, fa in self.futures.items():
            p = fa.position
            t = self._f_totals(key)
            out[key]["futures"] = {
                "wallet": _money(fa.wallet),
                "available": t["availableBalance"],
                "leverage": fa.leverage,
                "marginType": fa.margin_type,
                "position": {
                    "positionAmt": self.fqty(p.amt),
                    "entryPrice": f"{p.entry:.8f}",
                    "unRealizedProfit": _money(self._upnl(key)),
                    "realized": _money(p.realized),
                    "isolatedWallet": _money(p.isolated_wallet),
                },
                "orders": [
                    {
                        "clientOrderId": o.client_id,
                        "orderId": o.order_id,
                        "status": o.status,
                        "side": o.side,
                        "price": self.fpx(o.price),
                        "origQty": self.fqty(o.qty),
                        "executedQty": self.fqty(o.filled),
                        "reduceOnly": o.reduce_only,
                    }
                    for o in self.f_orders.values()
                    if o.key == key
                ],
                "submissions": fa.submissions,
                "trades": fa.trades,
                "countdown": {
                    "armed": bool(fa.countdown_deadline_ms),
                    "countdownTime": fa.countdown_ms,
                    "deadlineMs": fa.countdown_deadline_ms,
                    "fired": fa.countdown_fired,
                    "canceled": fa.countdown_canceled,
                },
            }
            out[key]["margin"] = {
                wallet: {
                    "assets": {
                        a: {
                            "free": _money(v[0]),
                            "locked": _money(v[1]),
                            "borrowed": _money(w.borrowed.get(a, ZERO)),
                            "interest": _money(w.interest.get(a, ZERO)),
                        }
                        for a, v in w.balances.items()
                    },
                    "marginLevel": _money(self._m_level(w)),
                    "orders": [
                        {
                            "clientOrderId": o.client_id,
                            "orderId": o.order_id,
                            "status": o.status,
                            "side": o.side,
                            "executedQty": self.fmt(o.filled, self.step),
                        }
                        for o in self.orders.values()
                        if o.key == key and o.wallet == wallet
                    ],
                    "submissions": w.counters.submissions,
                }
                for wallet, w in self.margin[key].items()
            }
        return out
