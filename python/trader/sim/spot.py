"""A loopback simulator of the Binance spot API (a documented subset), the protocol of the `sim` venue.

REST (`/api/v3/...`): ping, time, exchangeInfo, depth; signed (`X-MBX-APIKEY`, `timestamp`/`recvWindow`
window; HMAC-SHA256 hex or Ed25519 base64 keys): order (POST LIMIT, MARKET, LIMIT_MAKER with GTC/IOC/FOK;
GET; DELETE), openOrders (GET, DELETE), allOrders, myTrades, account, and the legacy listenKey endpoints.
WebSocket: `/ws/<stream>` and `/stream?streams=...` (`<symbol>@depth@100ms` diffs that continue the REST
snapshot's `lastUpdateId`, `<symbol>@trade`, `<symbol>@bookTicker`), live SUBSCRIBE; `/ws/<listenKey>`;
and the WebSocket API `/ws-api/v3`: `userDataStream.subscribe.signature` (the current way to get
`executionReport`s), `order.place`, `order.status`, `order.cancel`, `openOrders.status`,
`openOrders.cancelAll` (the same order logic and limits as REST).

Errors use Binance's codes and messages; request weight per minute and orders per 10 s are enforced
with `X-MBX-USED-WEIGHT-1M` / `X-MBX-ORDER-COUNT-10S`, 429 + Retry-After, then 418. Signatures are
checked with the standard library's `hmac` and `cryptography`'s Ed25519, independently of the core under
test. Money is Decimal or integer units. Commissions are charged in the quote asset on both sides by
default; `buyer_fee_in_base=True` charges a buyer in the base asset, as Binance does unless fees are
paid with BNB (the buyer receives the quantity minus the fee).

`trader.sim.binance.BinanceSimServer` extends this server with USD-M futures and margin; the hooks it
uses are the `wallet` of an order (`SPOT`, `MARGIN`, `ISOLATED:<symbol>`), `_balances`, `_trade_log`,
`_ensure_funds`, `_after_fill` and `_bucket`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import orjson
from aiohttp import WSMsgType, web

from trader.clock import Clock
from trader.sim import matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.server import VenueServer

if TYPE_CHECKING:  # `cryptography` is needed only when Ed25519 accounts are configured
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DEMO_KEY = "sim-demo-key"
DEMO_SECRET = "sim-demo-secret"  # noqa: S105 - the simulator's published demo credential

SPOT = "SPOT"
LIVE = ("NEW", "PARTIALLY_FILLED")

WEIGHTS = {
    "/api/v3/ping": 1,
    "/api/v3/time": 1,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/order": 1,
    "/api/v3/openOrders": 6,
    "/api/v3/allOrders": 20,
    "/api/v3/myTrades": 20,
    "/api/v3/account": 20,
    "/api/v3/userDataStream": 2,
}

Weight = int | Callable[[dict[str, str]], int]
Subscriber = tuple[web.WebSocketResponse, int | None]
UserKey = tuple[str, str]  # (api key, wallet)


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400, retry_after: int = 0) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.retry_after = code, msg, status, retry_after


@dataclass(frozen=True)
class SpotInstrument:
    """The one symbol a simulator lists: its filters, starting mid and the demo account's base balance."""

    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    mid: Decimal
    base_balance: Decimal
    max_lots: int = 200  # largest background order, in lots
    percent_up: Decimal = Decimal(5)  # PERCENT_PRICE_BY_SIDE multipliers around the mid
    percent_down: Decimal = Decimal("0.2")
    volatility_ticks: float = 2.0  # the background market's mid move per second, in ticks
    distance_ticks: float = 4.0  # mean distance of background limit orders from the mid


INSTRUMENTS = {
    i.symbol: i
    for i in (
        SpotInstrument(
            "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
            Decimal(9000), Decimal(5), Decimal(50000), Decimal(10),
        ),
        # altcoins: a coarse lot, a fine tick and a tighter price band, like their real filters
        SpotInstrument(
            "DOGEUSDT", "DOGE", "USDT", Decimal("0.00001"), Decimal(1), Decimal(1),
            Decimal(9_000_000), Decimal(1), Decimal("0.15"), Decimal(100_000), max_lots=2000,
            percent_up=Decimal("1.5"), percent_down=Decimal("0.5"), volatility_ticks=15, distance_ticks=25,
        ),
        SpotInstrument(
            "SOLUSDT", "SOL", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
            Decimal(90000), Decimal(5), Decimal(150), Decimal(500), max_lots=5000,
            percent_up=Decimal("1.5"), percent_down=Decimal("0.5"), volatility_ticks=3, distance_ticks=8,
        ),
    )
}  # fmt: skip


@dataclass
class Account:
    secret: bytes
    balances: dict[str, list[Decimal]]  # asset -> [free, locked]
    used_client_ids: set[str] = field(default_factory=set)
    submissions: dict[str, int] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    order_times: list[int] = field(default_factory=list)  # ms of recent new orders (10 s window)
    public_key: Ed25519PublicKey | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never the secret
        kind = "ed25519" if self.public_key is not None else "hmac"
        return f"Account({kind}, assets={sorted(self.balances)})"


@dataclass
class Order:
    order_id: int
    key: str
    client_id: str
    side: str
    type: str
    tif: str
    price: int  # 0 for market
    qty: int
    time_ms: int
    filled: int = 0
    quote: Decimal = Decimal(0)
    status: str = "NEW"
    locked: Decimal = Decimal(0)  # what is still locked for the resting remainder
    update_ms: int = 0
    wallet: str = SPOT


@dataclass
class _Bucket:
    minute: int = 0
    used: int = 0
    blocked_until_ms: int = 0
    banned_until_ms: int = 0


def _ws_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class SpotSimServer(VenueServer):
    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        venue: str = "sim",
        step_ms: int = 100,
        weight_limit: int = 6000,
        orders_per_10s: int = 200,
        accounts: dict[str, str] | None = None,
        ed25519_accounts: dict[str, str] | None = None,
        symbol: str = "BTCUSDT",
        buyer_fee_in_base: bool = False,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.buyer_fee_in_base = buyer_fee_in_base  # real Binance unless fees are paid in BNB
        self.venue = venue
        if symbol not in INSTRUMENTS:
            raise ValueError(f"the simulator lists {', '.join(INSTRUMENTS)}, not {symbol!r}")
        self.instrument = inst = INSTRUMENTS[symbol]
        self.symbol, self.base, self.quote = inst.symbol, inst.base, inst.quote
        self.tick, self.step = inst.tick, inst.step
        self.min_qty, self.min_notional = inst.min_qty, inst.min_notional
        self.unit = self.tick * self.step
        self.engine = matching.MatchingEngine(
            maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(5), unit_notional=self.unit
        )
        mid = int(inst.mid / self.tick)
        params = MarketParams(
            mid=mid,
            max_qty=inst.max_lots,
            volatility_ticks=inst.volatility_ticks,
            mean_distance_ticks=inst.distance_ticks,
        )
        self.market = BackgroundMarket(self.engine, params, seed=seed)
        self.market.seed_book(20)
        self.weight_limit, self.orders_per_10s = weight_limit, orders_per_10s
        self.accounts: dict[str, Account] = {}
        if accounts is None and not ed25519_accounts:
            accounts = {DEMO_KEY: DEMO_SECRET}
        for key, secret in (accounts or {}).items():
            self.accounts[key] = Account(secret.encode(), self._initial_balances())
        for key, pem in (ed25519_accounts or {}).items():
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            public = load_pem_public_key(pem.encode())
            if not isinstance(public, Ed25519PublicKey):
                raise ValueError(f"the public key of {key!r} is not an Ed25519 key")
            self.accounts[key] = Account(b"", self._initial_balances(), public_key=public)
        self.orders: dict[int, Order] = {}
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._buckets: dict[str, _Bucket] = {}
        self._ip_banned_until_ms = 0
        self.last_update_id = 1000
        self._published = self._levels()
        self._top: tuple[int, int, int, int] = (0, 0, 0, 0)
        self.market_subs: dict[web.WebSocketResponse, tuple[set[str], bool]] = {}
        self.user_subs: dict[UserKey, set[Subscriber]] = {}
        self.listen_keys: dict[str, UserKey] = {}
        self._sub_ids = itertools.count(0)

    def _initial_balances(self) -> dict[str, list[Decimal]]:
        return {
            self.base: [self.instrument.base_balance, Decimal(0)],
            self.quote: [Decimal(1_000_000), Decimal(0)],
        }

    # ---- helpers -----------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def fmt(self, units: int, unit: Decimal) -> str:
        return f"{Decimal(units) * unit:.8f}"

    def _units(self, name: str, text: str, unit: Decimal, filter_name: str) -> int:
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.") from None
        if not d.is_finite() or d <= 0:
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.")
        q = d / unit
        if q != q.to_integral_value():
            raise ApiError(-1013, f"Filter failure: {filter_name}")
        return int(q)

    def _levels(self) -> tuple[dict[int, int], dict[int, int]]:
        bids, asks = self.engine.depth(5000)
        return dict(bids), dict(asks)

    def _error(self, e: ApiError, extra: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            body=orjson.dumps({"code": e.code, "msg": e.msg}),
            status=e.status,
            content_type="application/json",
            headers=extra,
        )

    def mid(self) -> Decimal:
        """The spot mid in quote units (the margin simulator values assets with it)."""
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if bid is not None and ask is not None:
            return Decimal(bid + ask) * self.tick / 2
        return Decimal(round(self.market.mid)) * self.tick

    # ---- request weight, auth ----------------------------------------------------------------------

    def _bucket(self, path: str) -> tuple[str, int]:
        """Which request-weight budget a path draws on, and its limit per minute."""
        return "api", self.weight_limit

    def _charge(self, path: str, weight: int) -> dict[str, str]:
        """Take `weight` from the path's budget: 429 + Retry-After past it, then a 418 ban."""
        name, limit = self._bucket(path)
        b = self._buckets.setdefault(name, _Bucket())
        now = self.now_ms()
        if now < self._ip_banned_until_ms:
            raise ApiError(
                -1003,
                "Way too many requests; IP banned.",
                418,
                max(1, (self._ip_banned_until_ms - now) // 1000),
            )
        if now < b.banned_until_ms:
            raise ApiError(
                -1003, "Way too many requests; IP banned.", 418, max(1, (b.banned_until_ms - now) // 1000)
            )
        if now < b.blocked_until_ms:  # kept going after a 429: ban
            b.banned_until_ms = now + 120_000
            raise ApiError(-1003, "Way too many requests; IP banned for 120 seconds.", 418, 120)
        minute = now // 60_000
        used = (b.used if b.minute == minute else 0) + weight
        b.minute, b.used = minute, used
        if used > limit:
            b.blocked_until_ms = (minute + 1) * 60_000
            raise ApiError(
                -1003,
                f"Too many requests; current limit of IP is {limit} requests per minute.",
                429,
                max(1, (b.blocked_until_ms - now) // 1000),
            )
        return {"X-MBX-USED-WEIGHT-1M": str(used)}

    def ban(self, seconds: int = 120) -> None:
        """Ban this IP (every budget) for `seconds`, as if another client here had kept going past a
        429: every request then gets 418 with Retry-After."""
        self._ip_banned_until_ms = self.now_ms() + seconds * 1000

    async def _ban(self, request: web.Request) -> web.Response:
        try:
            seconds = int(request.query.get("seconds", "120"))
        except ValueError:
            return web.json_response({"error": "seconds must be an integer"}, status=400)
        self.ban(seconds)
        return web.json_response({"bannedUntil": self._ip_banned_until_ms})

    def used_weight(self, path: str) -> tuple[int, int]:
        """(used this minute, limit) of the budget `path` draws on."""
        name, limit = self._bucket(path)
        b = self._buckets.get(name)
        used = b.used if b is not None and b.minute == self.now_ms() // 60_000 else 0
        return used, limit

    async def _params(self, request: web.Request) -> tuple[dict[str, str], str, str]:
        query = request.raw_path.partition("?")[2]  # as sent: the signature covers the encoded bytes
        body = (await request.read()).decode() if request.can_read_body else ""
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        return params, query, body

    def _verify(self, account: Account, payload: str, signature: str) -> None:
        """HMAC-SHA256 hex (case-insensitive) or Ed25519 base64 over `payload`; -1022 otherwise."""
        bad = ApiError(-1022, "Signature for this request is not valid.")
        if account.public_key is not None:
            from cryptography.exceptions import InvalidSignature

            if "%" in signature:  # URL-encoded where it should not have been (a JSON field)
                signature = unquote(signature)
            try:
                raw = base64.b64decode(signature, validate=True)
                account.public_key.verify(raw, payload.encode())
            except (binascii.Error, ValueError, InvalidSignature):
                raise bad from None
            return
        good = hmac.new(account.secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(good, signature.lower()):
            raise bad

    def _check_time(self, params: dict[str, str]) -> None:
        try:
            ts = int(params["timestamp"])
            window = int(float(params.get("recvWindow", "5000") or 5000))
        except (KeyError, ValueError):
            raise ApiError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            ) from None
        if window > 60_000:
            raise ApiError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if ts >= now + 1000 or now - ts > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _auth(
        self, request: web.Request, params: dict[str, str], query: str, body: str
    ) -> tuple[str, Account]:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        account = self.accounts.get(key)
        if account is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        sig = params.get("signature")
        if not sig:
            raise ApiError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        payload = "".join(
            "&".join(p for p in part.split("&") if not p.startswith("signature="))
            for part in (query, body)
            if part
        )
        self._verify(account, payload, sig)
        self._check_time(params)
        return key, account

    def _ws_auth(self, params: dict[str, Any]) -> tuple[str, Account, dict[str, str]]:
        """A signed WebSocket API request: `apiKey`, `timestamp`, `signature` over the other params
        sorted by name (`k=v&...`). Returns the key, its account and the params as strings."""
        key = str(params.get("apiKey", ""))
        account = self.accounts.get(key)
        if account is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        sig = str(params.get("signature", ""))
        if not sig:
            raise ApiError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        payload = "&".join(f"{k}={_ws_value(params[k])}" for k in sorted(params) if k != "signature")
        self._verify(account, payload, sig)
        strs = {k: _ws_value(v) for k, v in params.items()}
        self._check_time(strs)
        return key, account, strs

    def _depth_weight(self, params: dict[str, str]) -> int:
        limit = int(params.get("limit", "100") or 100)
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    def _order_headers(self, key: str) -> dict[str, str]:
        account = self.accounts[key]
        now = self.now_ms()
        return {"X-MBX-ORDER-COUNT-10S": str(sum(1 for t in account.order_times if t > now - 10_000))}

    # ---- routes ------------------------------------------------------------------------------------

    def rest(
        self, method: str, path: str, fn: Callable[..., Any], weight: Weight, *, signed: bool = False
    ) -> web.RouteDef:
        """A REST route around `fn(params)` (or `fn(params, key, account)` when signed): weight, auth,
        Binance error bodies, usage headers. The WebSocket API calls the same `fn`s."""
        orders = method == "POST" and path.endswith("/order")

        async def handler(request: web.Request) -> web.Response:
            headers: dict[str, str] = {}
            try:
                params, query, body = await self._params(request)
                w = weight(params) if callable(weight) else weight
                headers = self._charge(request.path, w)
                if signed:
                    key, account = self._auth(request, params, query, body)
                    try:
                        result = fn(params, key, account)
                    finally:
                        if orders:
                            headers.update(self._order_headers_for(path, key))
                else:
                    result = fn(params)
            except ApiError as e:
                if e.retry_after:
                    headers["Retry-After"] = str(e.retry_after)
                return self._error(e, headers)
            except ValueError:  # a number that does not parse (limit=abc, orderId=x, ...)
                return self._error(ApiError(-1100, "Illegal characters found in a parameter."), headers)
            return web.Response(body=orjson.dumps(result), content_type="application/json", headers=headers)

        return web.route(method, path, handler)

    def _order_headers_for(self, path: str, key: str) -> dict[str, str]:
        return self._order_headers(key)

    def routes(self) -> list[web.RouteDef]:
        r = self.rest
        return [
            r("GET", "/api/v3/ping", self.ping, 1),
            r("GET", "/api/v3/time", self.time, 1),
            r("GET", "/api/v3/exchangeInfo", self.exchange_info, 20),
            r("GET", "/api/v3/depth", self.depth, self._depth_weight),
            r("POST", "/api/v3/order", self.new_order, 1, signed=True),
            r("GET", "/api/v3/order", self.get_order, 4, signed=True),
            r("DELETE", "/api/v3/order", self.cancel_order, 1, signed=True),
            r("GET", "/api/v3/openOrders", self.open_orders, 6, signed=True),
            r("DELETE", "/api/v3/openOrders", self.cancel_open_orders, 1, signed=True),
            r("GET", "/api/v3/allOrders", self.all_orders, 20, signed=True),
            r("GET", "/api/v3/myTrades", self.my_trades, 20, signed=True),
            r("GET", "/api/v3/account", self.account, 20, signed=True),
            web.post("/api/v3/userDataStream", self.listen_key),
            web.put("/api/v3/userDataStream", self.listen_key),
            web.delete("/api/v3/userDataStream", self.listen_key),
            web.get("/ws", self.market_ws),
            web.get("/ws/{streams:.*}", self.market_ws),
            web.get("/stream", self.market_ws),
            web.get("/ws-api/v3", self.ws_api),
            web.post("/sim/ban", self._ban),
        ]

    def ping(self, params: dict[str, str]) -> dict[str, Any]:
        return {}

    def time(self, params: dict[str, str]) -> dict[str, Any]:
        return {"serverTime": self.now_ms()}

    def exchange_info(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("symbol", self.symbol) != self.symbol:
            raise ApiError(-1121, "Invalid symbol.")
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weight_limit,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": self.orders_per_10s,
                },
            ],
            "exchangeFilters": [],
            "symbols": [
                {
                    "symbol": self.symbol,
                    "status": "TRADING",
                    "baseAsset": self.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": self.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": True,
                    "permissionSets": [["SPOT", "MARGIN"]],
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": f"{self.tick:.8f}",
                            "maxPrice": "1000000.00000000",
                            "tickSize": f"{self.tick:.8f}",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": f"{self.min_qty:.8f}",
                            "maxQty": f"{self.instrument.max_qty:.8f}",
                            "stepSize": f"{self.step:.8f}",
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": f"{self.min_notional:.8f}",
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                        {
                            "filterType": "PERCENT_PRICE_BY_SIDE",
                            "bidMultiplierUp": f"{self.instrument.percent_up:f}",
                            "bidMultiplierDown": f"{self.instrument.percent_down:f}",
                            "askMultiplierUp": f"{self.instrument.percent_up:f}",
                            "askMultiplierDown": f"{self.instrument.percent_down:f}",
                            "avgPriceMins": 5,
                        },
                    ],
                }
            ],
        }

    def depth(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("symbol") != self.symbol:
            raise ApiError(-1121, "Invalid symbol.")
        limit = min(int(params.get("limit", "100") or 100), 5000)
        bids, asks = self.engine.depth(limit)
        return {
            "lastUpdateId": self.last_update_id,
            "bids": [[self.fmt(p, self.tick), self.fmt(q, self.step)] for p, q in bids],
            "asks": [[self.fmt(p, self.tick), self.fmt(q, self.step)] for p, q in asks],
        }

    # ---- wallets (spot here; margin in the Binance simulator) --------------------------------------

    def _balances(self, key: str, wallet: str) -> dict[str, list[Decimal]]:
        if wallet != SPOT:
            raise ApiError(-1100, f"Unknown wallet {wallet!r}.")
        return self.accounts[key].balances

    def _trade_log(self, key: str, wallet: str) -> list[dict[str, Any]]:
        return self.accounts[key].trades

    def _ensure_funds(
        self, key: str, wallet: str, asset: str, need: Decimal, params: dict[str, str]
    ) -> dict[str, Any]:
        """Check the free balance before an order; the margin wallets may borrow the shortfall here and
        return the fields to add to the response."""
        if self._balances(key, wallet)[asset][0] < need:
            raise ApiError(-2010, "Account has insufficient balance for requested action.")
        return {}

    def _after_fill(self, o: Order) -> None:
        """Called after an order's fills are applied (margin: auto-repay)."""

    def _order_extra(self, o: Order) -> dict[str, Any]:
        return {}

    # ---- orders ------------------------------------------------------------------------------------

    def _order_json(self, o: Order, full: bool = True) -> dict[str, Any]:
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
                    "origQuoteOrderQty": "0.00000000",
                    "selfTradePreventionMode": "EXPIRE_MAKER",
                }
            )
        d.update(self._order_extra(o))
        return d

    def _find(self, key: str, params: dict[str, str], wallet: str = SPOT) -> Order | None:
        if "orderId" in params:
            try:
                o = self.orders.get(int(params["orderId"]))
            except ValueError:
                raise ApiError(-1100, "Illegal characters found in parameter 'orderId'.") from None
            return o if o is not None and o.key == key and o.wallet == wallet else None
        cid = params.get("origClientOrderId")
        if not cid:
            raise ApiError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        for o in reversed(self.orders.values()):
            if o.key == key and o.client_id == cid and o.wallet == wallet:
                return o
        return None

    def _require(self, params: dict[str, str], name: str) -> str:
        v = params.get(name)
        if not v:
            raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return v

    def new_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        margin_only = [p for p in ("isIsolated", "sideEffectType", "autoRepayAtCancel") if p in params]
        if margin_only:  # spot reads none of them (margin orders go to /sapi/v1/margin/order)
            sent = len(params)
            raise ApiError(
                -1104,
                f"Not all sent parameters were read; read '{sent - len(margin_only)}' parameter(s) "
                f"but was sent '{sent}'.",
            )
        return self.place(params, key, account, SPOT)

    def place(self, params: dict[str, str], key: str, account: Account, wallet: str) -> dict[str, Any]:
        """New order on the spot book from `wallet` (spot or margin): filters, limits, funds, matching."""
        if self._require(params, "symbol") != self.symbol:
            raise ApiError(-1121, "Invalid symbol.")
        side = self._require(params, "side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        otype = self._require(params, "type")
        if otype not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise ApiError(-1116, "Invalid orderType.")
        tif = params.get("timeInForce", "GTC" if otype == "LIMIT_MAKER" else "")
        if otype == "LIMIT" and tif not in ("GTC", "IOC", "FOK"):
            raise ApiError(
                -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."
            )
        qty = self._units("quantity", self._require(params, "quantity"), self.step, "LOT_SIZE")
        price = (
            0
            if otype == "MARKET"
            else self._units("price", self._require(params, "price"), self.tick, "PRICE_FILTER")
        )
        if Decimal(qty) * self.step < self.min_qty or Decimal(qty) * self.step > self.instrument.max_qty:
            raise ApiError(-1013, "Filter failure: LOT_SIZE")
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if price and bid and ask:  # the band around the mid (the venue uses a 5-minute average)
            mid = Decimal(bid + ask) / 2
            if not mid * self.instrument.percent_down <= price <= mid * self.instrument.percent_up:
                raise ApiError(-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
        ref = price or self.engine.best_ask() or self.engine.best_bid() or 0
        if Decimal(ref * qty) * self.unit < self.min_notional:
            raise ApiError(-1013, "Filter failure: NOTIONAL")
        now = self.now_ms()
        account.order_times = [t for t in account.order_times if t > now - 10_000]
        if len(account.order_times) >= self.orders_per_10s:
            raise ApiError(
                -1015,
                f"Too many new orders; current limit is {self.orders_per_10s} orders per TEN_SECONDS.",
                429,
            )
        cid = params.get("newClientOrderId") or f"sim{next(self._order_ids)}x"
        account.submissions[cid] = account.submissions.get(cid, 0) + 1
        if cid in account.used_client_ids:
            raise ApiError(-2010, "Duplicate order sent.")
        # balance
        if side == "BUY":
            need = Decimal((price or ref * 105 // 100) * qty) * self.unit * Decimal("1.0005")
            extra = self._ensure_funds(key, wallet, self.quote, need, params)
        else:
            extra = self._ensure_funds(key, wallet, self.base, Decimal(qty) * self.step, params)
        order = Order(
            next(self._order_ids),
            key,
            cid,
            side,
            otype,
            tif or "GTC",
            price,
            qty,
            now,
            update_ms=now,
            wallet=wallet,
        )
        sim = matching.SimOrder(
            order.order_id,
            key,
            matching.Side.BUY if side == "BUY" else matching.Side.SELL,
            price or None,
            qty,
            tif=matching.Tif(tif) if otype == "LIMIT" else matching.Tif.GTC,
            post_only=otype == "LIMIT_MAKER",
            client_id=cid,
        )
        result = self.engine.submit(sim)
        if not result.accepted:
            if otype == "LIMIT_MAKER":
                raise ApiError(-2010, "Order would immediately match and take.")
            if tif == "FOK":
                order.status = "EXPIRED"
            else:
                raise ApiError(-2010, result.reason)
        account.used_client_ids.add(cid)
        account.order_times.append(now)
        self.orders[order.order_id] = order
        self._execution(order, "NEW")
        fills = self._settle(result.trades)
        if result.resting:
            order.locked = self._lock_amount(order)
            asset = self.quote if side == "BUY" else self.base
            balances = self._balances(key, wallet)
            balances[asset][0] -= order.locked
            balances[asset][1] += order.locked
        elif order.status not in ("FILLED", "EXPIRED"):
            order.status = "EXPIRED"
            self._execution(order, "EXPIRED")
        elif order.status == "EXPIRED" and not result.accepted:
            self._execution(order, "EXPIRED")
        resp_type = params.get("newOrderRespType", "FULL" if otype in ("LIMIT", "MARKET") else "ACK")
        body: dict[str, Any] = {
            "symbol": self.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": cid,
            "transactTime": now,
        }
        if resp_type in ("RESULT", "FULL"):
            body.update(self._order_json(order, full=False))
            body.update({"workingTime": now, "selfTradePreventionMode": "EXPIRE_MAKER"})
        if resp_type == "FULL":
            body["fills"] = fills.get(order.order_id, [])
        body.update(extra)
        return body

    def _lock_amount(self, o: Order) -> Decimal:
        remaining = o.qty - o.filled
        return Decimal(o.price * remaining) * self.unit if o.side == "BUY" else Decimal(remaining) * self.step

    def _settle(
        self, trades: tuple[matching.Trade, ...] | list[matching.Trade]
    ) -> dict[int, list[dict[str, Any]]]:
        """Apply trades to API orders and balances; publish executionReports. Returns FULL fills by order."""
        fills: dict[int, list[dict[str, Any]]] = {}
        now = self.now_ms()
        touched: dict[int, Order] = {}
        for t in trades:
            trade_id = next(self._trade_ids)
            for oid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                o = self.orders.get(oid)
                if o is None:
                    continue
                balances = self._balances(o.key, o.wallet)
                notional = Decimal(t.price * t.qty) * self.unit
                fee = t.maker_fee if maker else t.taker_fee
                b, q = balances[self.base], balances[self.quote]
                if maker:  # release what was locked for this part
                    part = (
                        Decimal(o.price * t.qty) * self.unit
                        if o.side == "BUY"
                        else Decimal(t.qty) * self.step
                    )
                    o.locked -= part
                    (q if o.side == "BUY" else b)[1] -= part
                    (q if o.side == "BUY" else b)[0] += part
                fee_asset = self.quote
                if o.side == "BUY" and self.buyer_fee_in_base:  # Binance without BNB: the buyer pays in base
                    fee = (fee / (Decimal(t.price) * self.tick)).quantize(Decimal("0.00000001"))
                    fee_asset = self.base
                    q[0] -= notional
                    b[0] += Decimal(t.qty) * self.step - fee
                elif o.side == "BUY":
                    q[0] -= notional + fee
                    b[0] += Decimal(t.qty) * self.step
                else:
                    b[0] -= Decimal(t.qty) * self.step
                    q[0] += notional - fee
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
                trade.update(self._order_extra(o))
                self._trade_log(o.key, o.wallet).append(trade)
                fills.setdefault(oid, []).append(
                    {
                        "price": trade["price"],
                        "qty": trade["qty"],
                        "commission": trade["commission"],
                        "commissionAsset": fee_asset,
                        "tradeId": trade_id,
                    }
                )
                self._execution(o, "TRADE", trade)
                touched[oid] = o
        for o in touched.values():
            self._after_fill(o)
        return fills

    def get_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        return self.query(params, key, SPOT)

    def query(self, params: dict[str, str], key: str, wallet: str) -> dict[str, Any]:
        o = self._find(key, params, wallet)
        if o is None:
            raise ApiError(-2013, "Order does not exist.")
        return self._order_json(o)

    def _cancel(self, o: Order, cancel_cid: str) -> dict[str, Any]:
        self.engine.cancel(o.order_id)
        balances = self._balances(o.key, o.wallet)
        asset = self.quote if o.side == "BUY" else self.base
        balances[asset][1] -= o.locked
        balances[asset][0] += o.locked
        o.locked = Decimal(0)
        o.status = "CANCELED"
        o.update_ms = self.now_ms()
        self._execution(o, "CANCELED", cancel_cid=cancel_cid)
        d = self._order_json(o, full=False)
        d.update({"origClientOrderId": o.client_id, "clientOrderId": cancel_cid, "transactTime": o.update_ms})
        return d

    def cancel_order(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        return self.cancel(params, key, SPOT)

    def cancel(self, params: dict[str, str], key: str, wallet: str) -> dict[str, Any]:
        o = self._find(key, params, wallet)
        if o is None or o.status not in LIVE:
            raise ApiError(-2011, "Unknown order sent.")
        return self._cancel(o, params.get("newClientOrderId") or f"cancel{next(self._order_ids)}")

    def cancel_open_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        return self.cancel_all(params, key, SPOT)

    def cancel_all(self, params: dict[str, str], key: str, wallet: str) -> list[dict[str, Any]]:
        if params.get("symbol") != self.symbol:
            raise ApiError(-1121, "Invalid symbol.")
        live = [o for o in self._live(key, wallet)]
        if not live:
            raise ApiError(-2011, "Unknown order sent.")
        return [self._cancel(o, f"cancel{next(self._order_ids)}") for o in live]

    def _live(self, key: str, wallet: str) -> list[Order]:
        return [o for o in self.orders.values() if o.key == key and o.wallet == wallet and o.status in LIVE]

    def open_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        if params.get("symbol", self.symbol) != self.symbol:
            raise ApiError(-1121, "Invalid symbol.")
        return [self._order_json(o) for o in self._live(key, SPOT)]

    def all_orders(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        limit = min(int(params.get("limit", "500")), 1000)
        return [self._order_json(o) for o in self.orders.values() if o.key == key and o.wallet == SPOT][
            -limit:
        ]

    def my_trades(self, params: dict[str, str], key: str, account: Account) -> list[dict[str, Any]]:
        return self.trades_of(params, self._trade_log(key, SPOT))

    @staticmethod
    def trades_of(params: dict[str, str], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if "orderId" in params:
            out = [t for t in out if t["orderId"] == int(params["orderId"])]
        if "fromId" in params:
            out = [t for t in out if t["id"] >= int(params["fromId"])]
        elif "startTime" in params:
            out = [t for t in out if t["time"] >= int(params["startTime"])]
        if "endTime" in params:
            out = [t for t in out if t["time"] <= int(params["endTime"])]
        return out[: min(int(params.get("limit", "500")), 1000)]

    def account(self, params: dict[str, str], key: str, account: Account) -> dict[str, Any]:
        return {
            "makerCommission": 0,
            "takerCommission": 5,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "accountType": "SPOT",
            "updateTime": self.now_ms(),
            "balances": [
                {"asset": a, "free": f"{v[0]:.8f}", "locked": f"{v[1]:.8f}"}
                for a, v in account.balances.items()
            ],
            "permissions": ["SPOT"],
        }

    def _new_listen_key(self, key: str, wallet: str) -> str:
        for lk, owner in self.listen_keys.items():
            if owner == (key, wallet):
                return lk
        lk = hashlib.sha256(f"{key}{wallet}{self.seed}".encode()).hexdigest()
        self.listen_keys[lk] = (key, wallet)
        return lk

    async def listen_key(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-MBX-APIKEY", "")
        if key not in self.accounts:
            return self._error(ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401))
        if request.method == "POST":
            return web.json_response({"listenKey": self._new_listen_key(key, SPOT)})
        return web.json_response({})

    # ---- private events ----------------------------------------------------------------------------

    def _execution(self, o: Order, x: str, trade: dict[str, Any] | None = None, cancel_cid: str = "") -> None:
        subs = self.user_subs.get((o.key, o.wallet))
        if not subs:
            return
        now = self.now_ms()
        event = {
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
            "Q": "0.00000000",
            "W": o.time_ms,
            "V": "EXPIRE_MAKER",
        }
        for ws, sub_id in list(subs):
            payload = event if sub_id is None else {"subscriptionId": sub_id, "event": event}
            self.send(ws, orjson.dumps(payload))

    # ---- market data -------------------------------------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        trades = self.market.step(dt_ns)
        self._settle(
            [t for t in trades if t.maker_order_id in self.orders or t.taker_order_id in self.orders]
        )
        now = self.now_ms()
        if trades and not self.faults.stale_feed:
            for t in trades:
                ev = {
                    "e": "trade",
                    "E": now,
                    "s": self.symbol,
                    "t": t.trade_id,
                    "p": self.fmt(t.price, self.tick),
                    "q": self.fmt(t.qty, self.step),
                    "T": now,
                    "m": t.taker_side is matching.Side.SELL,
                    "M": True,
                }
                self._publish(f"{self.symbol.lower()}@trade", ev)
        bids, asks = self._levels()
        old_bids, old_asks = self._published
        b = [
            [self.fmt(p, self.tick), self.fmt(bids.get(p, 0), self.step)]
            for p in sorted(set(bids) | set(old_bids), reverse=True)
            if bids.get(p, 0) != old_bids.get(p, 0)
        ]
        a = [
            [self.fmt(p, self.tick), self.fmt(asks.get(p, 0), self.step)]
            for p in sorted(set(asks) | set(old_asks))
            if asks.get(p, 0) != old_asks.get(p, 0)
        ]
        if not b and not a:
            return
        self._published = (bids, asks)
        first = self.last_update_id + 1 + (1 if self.faults.sequence_gap else 0)
        self.faults.sequence_gap = False
        self.last_update_id = first + len(a) + len(b) - 1
        if not self.faults.stale_feed:
            ev = {
                "e": "depthUpdate",
                "E": now,
                "s": self.symbol,
                "U": first,
                "u": self.last_update_id,
                "b": b,
                "a": a,
            }
            self._publish(f"{self.symbol.lower()}@depth@100ms", ev)
            self._publish(f"{self.symbol.lower()}@depth", ev)
            self._publish_top(bids, asks)

    def _publish_top(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        bid = max(bids) if bids else 0
        ask = min(asks) if asks else 0
        top = (bid, bids.get(bid, 0), ask, asks.get(ask, 0))
        if top == self._top:
            return
        self._top = top
        self._publish(
            f"{self.symbol.lower()}@bookTicker",
            {
                "u": self.last_update_id,
                "s": self.symbol,
                "b": self.fmt(top[0], self.tick),
                "B": self.fmt(top[1], self.step),
                "a": self.fmt(top[2], self.tick),
                "A": self.fmt(top[3], self.step),
            },
        )

    def _publish(
        self,
        stream: str,
        event: dict[str, Any],
        subs: dict[web.WebSocketResponse, tuple[set[str], bool]] | None = None,
    ) -> None:
        raw = orjson.dumps(event)
        wrapped: bytes | None = None
        for ws, (streams, combined) in list((self.market_subs if subs is None else subs).items()):
            if stream in streams:
                if combined:
                    wrapped = wrapped or orjson.dumps({"stream": stream, "data": event})
                    self.send(ws, wrapped)
                else:
                    self.send(ws, raw)

    async def _user_ws(self, request: web.Request, owner: UserKey) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        entry: Subscriber = (ws, None)
        self.user_subs.setdefault(owner, set()).add(entry)
        try:
            async for _ in ws:
                pass
        finally:
            self.user_subs[owner].discard(entry)
            self.sockets.discard(ws)
        return ws

    async def market_ws(self, request: web.Request) -> web.WebSocketResponse:
        path = request.match_info.get("streams", "")
        if path in self.listen_keys:  # legacy user data stream (spot or margin listenKey)
            return await self._user_ws(request, self.listen_keys[path])
        combined = request.path == "/stream"
        streams = set(request.query.get("streams", "").split("/")) if combined else set(path.split("/"))
        return await self.serve_streams(request, streams, combined, self.market_subs)

    async def serve_streams(
        self,
        request: web.Request,
        streams: set[str],
        combined: bool,
        subs: dict[web.WebSocketResponse, tuple[set[str], bool]],
    ) -> web.WebSocketResponse:
        """A market-data socket: the given streams, then live SUBSCRIBE / UNSUBSCRIBE / LIST."""
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        streams.discard("")
        subs[ws] = (streams, combined)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = orjson.loads(msg.data)
                    method, rid = req["method"], req.get("id")
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    await ws.send_str('{"error":{"code":2,"msg":"Invalid request"}}')
                    continue
                if method == "SUBSCRIBE":
                    streams.update(req.get("params", []))
                    await ws.send_bytes(orjson.dumps({"result": None, "id": rid}))
                elif method == "UNSUBSCRIBE":
                    streams.difference_update(req.get("params", []))
                    await ws.send_bytes(orjson.dumps({"result": None, "id": rid}))
                elif method == "LIST_SUBSCRIPTIONS":
                    await ws.send_bytes(orjson.dumps({"result": sorted(streams), "id": rid}))
        finally:
            subs.pop(ws, None)
            self.sockets.discard(ws)
        return ws

    # ---- WebSocket API -----------------------------------------------------------------------------

    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self.serve_ws_api(request, self._ws_call, "/api/v3/order")

    async def serve_ws_api(
        self,
        request: web.Request,
        call: Callable[
            [web.WebSocketResponse, str, dict[str, Any], list[tuple[UserKey, Subscriber]]], tuple[Any, str]
        ],
        weight_path: str,
    ) -> web.WebSocketResponse:
        """A WebSocket API socket: `{"id","method","params"}` in, `{"id","status","result"|"error",
        "rateLimits"}` out. `call` returns (result, api key or "")."""
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        mine: list[tuple[UserKey, Subscriber]] = []
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    req = orjson.loads(msg.data)
                    rid, method, params = req.get("id"), req["method"], req.get("params", {})
                    if not isinstance(params, dict):
                        raise TypeError("params")
                except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                    await ws.send_bytes(
                        orjson.dumps(
                            {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}
                        )
                    )
                    continue
                key = ""
                try:
                    result, key = call(ws, str(method), params, mine)
                    reply: dict[str, Any] = {"id": rid, "status": 200, "result": result}
                except ApiError as e:
                    error: dict[str, Any] = {"code": e.code, "msg": e.msg}
                    if e.retry_after:
                        error["data"] = {"retryAfter": self.now_ms() + e.retry_after * 1000}
                    reply = {"id": rid, "status": e.status, "error": error}
                reply["rateLimits"] = self._ws_rate_limits(weight_path, key)
                await ws.send_bytes(orjson.dumps(reply))
        finally:
            for owner, entry in mine:
                self.user_subs.get(owner, set()).discard(entry)
            self.sockets.discard(ws)
        return ws

    def _ws_rate_limits(self, path: str, key: str) -> list[dict[str, Any]]:
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
            count = int(self._order_headers_for(path, key).get("X-MBX-ORDER-COUNT-10S", "0"))
            out.append(
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": self.orders_per_10s,
                    "count": count,
                }
            )
        return out

    # the spot WebSocket API methods: (REST function, weight)
    def _ws_methods(self) -> dict[str, tuple[Callable[[dict[str, str], str, Account], Any], int]]:
        return {
            "order.place": (self.new_order, 1),
            "order.status": (self.get_order, 4),
            "order.cancel": (self.cancel_order, 1),
            "openOrders.status": (self.open_orders, 6),
            "openOrders.cancelAll": (self.cancel_open_orders, 1),
            "myTrades": (self.my_trades, 20),
            "account.status": (self.account, 20),
        }

    def _ws_call(
        self,
        ws: web.WebSocketResponse,
        method: str,
        params: dict[str, Any],
        mine: list[tuple[UserKey, Subscriber]],
    ) -> tuple[Any, str]:
        path = "/api/v3/order"
        if method == "userDataStream.subscribe.signature":
            self._charge(path, 2)
            key, _, _ = self._ws_auth(params)
            sub_id = next(self._sub_ids)
            entry: Subscriber = (ws, sub_id)
            self.user_subs.setdefault((key, SPOT), set()).add(entry)
            mine.append(((key, SPOT), entry))
            return {"subscriptionId": sub_id}, ""
        return self._ws_dispatch(path, self._ws_methods(), method, params)

    def _ws_dispatch(
        self,
        path: str,
        methods: dict[str, tuple[Callable[[dict[str, str], str, Account], Any], int]],
        method: str,
        params: dict[str, Any],
    ) -> tuple[Any, str]:
        """`ping`, `time` and the signed request methods of a WebSocket API (spot or futures): the
        weight is charged to `path`'s budget, then the REST function runs with the verified account."""
        if method in ("ping", "time"):
            self._charge(path, 1)
            return ({} if method == "ping" else {"serverTime": self.now_ms()}), ""
        found = methods.get(method)
        if found is None:
            raise ApiError(-1100, f"Unknown method {method!r}.")
        fn, weight = found
        self._charge(path, weight)
        key, account, strs = self._ws_auth(params)
        try:
            return fn(strs, key, account), key
        except ApiError:
            raise
        except (ValueError, KeyError) as e:
            raise ApiError(-1100, f"Illegal characters found in a parameter: {e}.") from None

    # ---- admin -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            key: {
                "orders": [
                    {
                        "clientOrderId": o.client_id,
                        "orderId": o.order_id,
                        "status": o.status,
                        "side": o.side,
                        "price": self.fmt(o.price, self.tick),
                        "origQty": self.fmt(o.qty, self.step),
                        "executedQty": self.fmt(o.filled, self.step),
                    }
                    for o in self.orders.values()
                    if o.key == key and o.wallet == SPOT
                ],
                "submissions": a.submissions,
                "trades": a.trades,
                "balances": {k: [f"{v[0]:.8f}", f"{v[1]:.8f}"] for k, v in a.balances.items()},
            }
            for key, a in self.accounts.items()
        }
