"""A loopback simulator of Coinbase Advanced Trade (spot; a documented subset).

REST under `/api/v3/brokerage` (`Authorization: Bearer <JWT>`, each JWT checked independently by PyJWT:
ES256 or EdDSA, `kid`/`sub` a known key name, `iss` "cdp", `nbf`/`exp` on the simulator's clock, `uri` =
"METHOD host/path" of this very request): `POST /orders` (market_market_ioc by base or quote size,
sor_limit_ioc / limit_limit_ioc, limit_limit_gtc, limit_limit_gtd, limit_limit_fok; post_only), `POST
/orders/batch_cancel`, `GET /orders/historical/{id}`, `/orders/historical/batch`, `/orders/historical/fills`,
`/accounts`, `/products`, `/products/{id}`, `/product_book`, `/best_bid_ask`; public (no JWT): `/time`,
`/market/products/{id}`, `/market/product_book`. A failed order is HTTP 200 with `success: false` and an
`error_response` (as Coinbase answers); other errors are gRPC-style bodies `{"error","code","message",
"details"}` (401 UNAUTHENTICATED, 404 NOT_FOUND, 400 INVALID_ARGUMENT, 429). A `client_order_id` seen before
returns the first order instead of a new one (Coinbase's documented de-duplication).

WebSocket: `trader.sim.coinbase.ws` (level2, market_trades, heartbeats, user). Fees: the default tier (0.60 %
maker, 1.20 % taker), charged in the quote currency. Market: BTC-USD and ETH-USD, each a seeded background
market (`trader.sim.market`) on the pure-Python matching engine, in quote and base increments.

Admin hooks: `state()`, `hit()` (another participant's order), `top()`, `snapshots` (level2 snapshots sent).
Deviations: no stop, bracket, edit, preview or portfolio endpoints; the rate limit is one window of 30
requests per second per key; cancels complete at once (no CANCEL_QUEUED); an IOC/FOK/market remainder ends
CANCELLED; the user channel sends one update per fill.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from trader.clock import Clock
from trader.sim.coinbase import rest
from trader.sim.coinbase import ws as streams
from trader.sim.coinbase.state import (
    DEMO_KEY_NAME,
    DEMO_PRIVATE_KEY,
    MAKER_BPS,
    NS,
    OPEN,
    ORDER_PATHS,
    PREFIX,
    PRODUCTS,
    RATE_LIMIT,
    TAKER_BPS,
    Account,
    ApiError,
    Order,
    Product,
    rfc3339,
    verify_jwt,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade
from trader.sim.server import VenueServer


@dataclass
class Book:
    product: Product
    engine: MatchingEngine
    market: BackgroundMarket
    levels: dict[tuple[str, int], int] = field(default_factory=dict)  # (side, price) -> size sent


def public_key_of(private_key: str) -> Any:
    """The public half of a CDP private key: an EC PEM, or an Ed25519 key as base64 of its raw 32 (or
    32 + 32 public) bytes, as coinbase-advanced-py reads them."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if "-----BEGIN" in private_key:
        return load_pem_private_key(private_key.encode(), password=None).public_key()
    raw = base64.b64decode("".join(private_key.split()), validate=True)
    if len(raw) not in (32, 64):
        raise ValueError("an Ed25519 key must be 32 or 64 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32]).public_key()


class CoinbaseSimServer(VenueServer):
    FAULT_PATHS = ORDER_PATHS
    venue = "coinbase"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        keys: dict[str, str] | None = None,  # key name -> private key (the simulator keeps the public)
        usd: Decimal = Decimal(100_000),
        btc: Decimal = Decimal(2),
        rate_limit: int = RATE_LIMIT,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self._rng = random.Random(seed)
        self.rate_limit = rate_limit
        self.public_keys = {
            k: public_key_of(pem) for k, pem in (keys or {DEMO_KEY_NAME: DEMO_PRIVATE_KEY}).items()
        }
        self.accounts = {
            k: Account(pub, self._uuid(), {"USD": usd, "BTC": btc, "ETH": Decimal(20)})
            for k, pub in self.public_keys.items()
        }
        self.books: dict[str, Book] = {}
        for i, p in enumerate(PRODUCTS):
            unit = p.quote_increment * p.base_increment
            engine = MatchingEngine(maker_fee_bps=MAKER_BPS, taker_fee_bps=TAKER_BPS, unit_notional=unit)
            lot = int(Decimal("0.001") / p.base_increment)
            params = MarketParams(
                mid=p.mid,
                min_qty=lot,
                max_qty=lot * 50,
                volatility_ticks=3.0,
                asset=p.base,
                unit=float(p.quote_increment),
            )
            market = BackgroundMarket(engine, params, seed=seed * 17 + i)
            market.seed_book(20)
            self.books[p.product_id] = Book(p, engine, market)
            self.books[p.product_id].levels = self._levels(self.books[p.product_id])
        self.orders: dict[str, Order] = {}
        self.by_client: dict[tuple[str, str], Order] = {}
        self._engine_orders: dict[int, Order] = {}
        self._engine_ids = itertools.count(1)
        self.ws_conns: dict[web.WebSocketResponse, streams.Conn] = {}
        self.snapshots = 0
        self._steps = 0
        self._heartbeats = 0

    @property
    def default_symbol(self) -> str:
        return "BTC-USD"

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def top(self, product_id: str) -> tuple[int, int]:
        """Best bid and ask (quote increments; 0 when a side is empty)."""
        bids, asks = self.books[product_id].engine.depth(1)
        return (bids[0][0] if bids else 0), (asks[0][0] if asks else 0)

    # ---- REST plumbing -----------------------------------------------------------------------------

    def _auth(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise ApiError(401, "UNAUTHENTICATED", "Unauthorized", code=16)
        uri = f"{request.method} {request.host}{request.path}"
        return verify_jwt(header[len("Bearer ") :], self.public_keys, self.now_ns() // NS, uri)

    def _charge(self, key: str) -> dict[str, str]:
        account = self.accounts[key]
        second = self.now_ns() // NS
        if account.window[0] != second:
            account.window = [second, 0]
        account.window[1] += 1
        headers = {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - account.window[1])),
            "x-ratelimit-reset": str(second + 1),
        }
        if account.window[1] > self.rate_limit:
            raise ApiError(429, "RESOURCE_EXHAUSTED", "Too many requests", code=8)
        return headers

    def api(
        self, method: str, path: str, fn: Callable[[web.Request, bytes, str], Any], public: bool = False
    ) -> web.RouteDef:
        async def handler(request: web.Request) -> web.Response:
            headers: dict[str, str] = {}
            try:
                key = "" if public else self._auth(request)
                if key:
                    headers = self._charge(key)
                body = await request.read() if request.can_read_body else b""
                result = fn(request, body, key)
            except ApiError as e:
                if e.status == 429:
                    headers["Retry-After"] = "1"
                return web.Response(
                    body=orjson.dumps(e.body()),
                    status=e.status,
                    content_type="application/json",
                    headers=headers,
                )
            return web.Response(body=orjson.dumps(result), content_type="application/json", headers=headers)

        return web.route(method, PREFIX + path, handler)

    def routes(self) -> list[web.RouteDef]:
        a = self.api
        return [
            a("GET", "/time", partial(rest.get_time, self), public=True),
            a("GET", "/market/products/{product_id}", partial(rest.get_product, self), public=True),
            a("GET", "/market/product_book", partial(rest.product_book, self), public=True),
            a("GET", "/products", partial(rest.list_products, self)),
            a("GET", "/products/{product_id}", partial(rest.get_product, self)),
            a("GET", "/product_book", partial(rest.product_book, self)),
            a("GET", "/best_bid_ask", partial(rest.best_bid_ask, self)),
            a("POST", "/orders", partial(rest.create_order, self)),
            a("POST", "/orders/batch_cancel", partial(rest.batch_cancel, self)),
            a("GET", "/orders/historical/batch", partial(rest.list_orders, self)),
            a("GET", "/orders/historical/fills", partial(rest.list_fills, self)),
            a("GET", "/orders/historical/{order_id}", partial(rest.get_order, self)),
            a("GET", "/accounts", partial(rest.list_accounts, self)),
            web.get("/ws/market", partial(streams.stream, self)),
            web.get("/ws/user", partial(streams.stream, self)),
        ]

    # ---- funds -------------------------------------------------------------------------------------

    def open_orders(self, key: str, products: Iterable[str] = ()) -> list[Order]:
        wanted = set(products)
        return [
            o
            for o in self.orders.values()
            if o.key == key and o.status in OPEN and (not wanted or o.product.product_id in wanted)
        ]

    def holds(self, key: str) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for o in self.open_orders(key):
            p = o.product
            if o.side == "BUY":
                cost = Decimal(o.remaining * o.limit) * p.quote_increment * p.base_increment
                out[p.quote] = out.get(p.quote, Decimal(0)) + cost * (1 + TAKER_BPS / 10_000)
            else:
                out[p.base] = out.get(p.base, Decimal(0)) + Decimal(o.remaining) * p.base_increment
        return out

    def available(self, key: str, currency: str) -> Decimal:
        return self.accounts[key].balances.get(currency, Decimal(0)) - self.holds(key).get(
            currency, Decimal(0)
        )

    # ---- orders ------------------------------------------------------------------------------------

    def place(self, o: Order) -> None:
        """Match a new order (checked and funded) and settle its trades."""
        book = self.books[o.product.product_id]
        eid = next(self._engine_ids)
        tif = {"IMMEDIATE_OR_CANCEL": Tif.IOC, "FILL_OR_KILL": Tif.FOK}.get(o.tif, Tif.GTC)
        side = Side.BUY if o.side == "BUY" else Side.SELL
        sim = SimOrder(eid, o.key, side, o.limit or None, o.size, tif, o.post_only, o.client_id)
        self._engine_orders[eid] = o
        result = book.engine.submit(sim)
        o.status = "OPEN"
        if not result.accepted:  # an unfillable FOK (post-only crossing is refused before)
            self._engine_orders.pop(eid, None)
            self.close(o, "CANCELLED", result.reason)
            return
        streams.publish_order(self, o)
        self._settle(book, result.trades)
        if result.resting and o.status in OPEN:
            o.engine_id = eid
        else:
            self._engine_orders.pop(eid, None)
            if o.status in OPEN:
                self.close(o, "CANCELLED", "IOC remainder canceled")

    def close(self, o: Order, status: str, why: str = "") -> None:
        if o.engine_id:
            self.books[o.product.product_id].engine.cancel(o.engine_id)
            self._engine_orders.pop(o.engine_id, None)
            o.engine_id = 0
        o.status, o.cancel_message = status, why
        streams.publish_order(self, o)

    def _settle(self, book: Book, trades: Iterable[Trade]) -> None:
        now = self.now_ns()
        p = book.product
        prints = []
        for t in trades:
            trade_id = self._uuid()
            for eid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                o = self._engine_orders.get(eid)
                if o is not None:
                    self._fill(o, t, maker, trade_id, now)
            maker_side = "SELL" if t.taker_side is Side.BUY else "BUY"
            prints.append(
                {"trade_id": trade_id, "product_id": p.product_id, "price": p.price(t.price),
                 "size": p.size(t.qty), "side": maker_side, "time": rfc3339(now)}
            )  # fmt: skip
        if not self.faults.stale_feed:
            streams.publish_trades(self, p.product_id, prints)

    def _fill(self, o: Order, t: Trade, maker: bool, trade_id: str, now: int) -> None:
        p = o.product
        account = self.accounts[o.key]
        notional = Decimal(t.price * t.qty) * p.quote_increment * p.base_increment
        fee = t.maker_fee if maker else t.taker_fee
        base = Decimal(t.qty) * p.base_increment
        b = account.balances
        if o.side == "BUY":
            b[p.quote] = b.get(p.quote, Decimal(0)) - notional - fee
            b[p.base] = b.get(p.base, Decimal(0)) + base
        else:
            b[p.quote] = b.get(p.quote, Decimal(0)) + notional - fee
            b[p.base] = b.get(p.base, Decimal(0)) - base
        o.filled += t.qty
        o.filled_value += notional
        o.fees += fee
        o.fills += 1
        o.last_fill_ns = now
        account.fills.append(rest.fill_json(self, o, t, maker, trade_id, fee, now))
        if o.filled >= o.size:
            o.status = "FILLED"
            if o.engine_id:
                self._engine_orders.pop(o.engine_id, None)
                o.engine_id = 0
        streams.publish_order(self, o)

    def hit(self, product_id: str, side: str, size: int, price: int | None = None) -> None:
        """Another participant's IOC order (limit at `price` quote increments, or market)."""
        book = self.books[product_id]
        o = SimOrder(book.market._id(), "market", Side(side), price, size, Tif.IOC)
        self._settle(book, book.engine.submit(o).trades)

    # ---- market ------------------------------------------------------------------------------------

    def _levels(self, book: Book) -> dict[tuple[str, int], int]:
        bids, asks = book.engine.depth(streams.DEPTH)
        return {**{("bid", px): q for px, q in bids}, **{("offer", px): q for px, q in asks}}

    def on_step(self, dt_ns: int) -> None:
        now = self.now_ns()
        for o in [o for o in self.orders.values() if o.status in OPEN and o.end_ns and now >= o.end_ns]:
            self.close(o, "EXPIRED", "GTD order expired")
        for book in self.books.values():
            self._settle(book, book.market.step(dt_ns))
        self._steps += 1
        if self.faults.stale_feed:
            return
        stamp = rfc3339(now)
        for pid, book in self.books.items():
            levels = self._levels(book)
            p = book.product
            changed = [
                {"side": side, "event_time": stamp, "price_level": p.price(px), "new_quantity": p.size(q)}
                for (side, px), q in [
                    *((k, v) for k, v in levels.items() if book.levels.get(k) != v),
                    *((k, 0) for k in book.levels if k not in levels),
                ]
            ]
            book.levels = levels
            streams.publish_level2(self, pid, changed)
        if self._steps * self.step_ms >= (self._heartbeats + 1) * 1000:
            self._heartbeats += 1
            streams.publish_heartbeat(self, self._heartbeats)

    # ---- admin -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            key: {
                "orders": [
                    {"order_id": o.order_id, "client_order_id": o.client_id,
                     "product_id": o.product.product_id, "side": o.side,
                     "status": o.status, "size": o.product.size(o.size),
                     "filled_size": o.product.size(o.filled)}
                    for o in self.orders.values()
                    if o.key == key
                ],
                "submissions": dict(a.submissions),
                "balances": {c: str(v) for c, v in a.balances.items()},
                "fills": len(a.fills),
            }
            for key, a in self.accounts.items()
        }  # fmt: skip
