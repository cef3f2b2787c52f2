"""A loopback simulator of Alpaca's Trading API v2 and its two WebSocket streams (a documented subset).

REST (`/v2/...`, keys in `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`, compared with `hmac.compare_digest`):
account, orders (POST; GET list, by id and `orders:by_client_order_id`; DELETE one and all), positions,
clock, assets/{symbol}, account/activities (FILL). Orders: `market` and `limit`; `day`, `gtc`, `ioc`,
`fok`; `extended_hours` (limit + day only); `client_order_id` unique per account. Errors are Alpaca's
`{"code": ..., "message": ...}` bodies: 401 (40110000), 403 insufficient buying power / qty or a potential
wash trade (40310000), 404 (40410000), 422 validation (40010001, 42210000), 429 past 200 requests per
minute per account (`X-RateLimit-Limit/Remaining/Reset` on every answer).

Streams: `/stream` (trade_updates: `authenticate` or `auth`, then `listen`; JSON in binary frames as the
paper host sends them, msgpack when the upgrade says `Content-Type: application/msgpack`) and the stock data
stream `/v2/iex`, `/v2/sip` (`[{"T":"success","msg":"connected"}]`, `auth`, `subscribe`/`unsubscribe`, acks
listing the whole subscription, quotes `q` and trades `t`; msgpack frames with the timestamp as a msgpack
Timestamp ext when the upgrade asks for msgpack, else JSON with RFC 3339 times; errors 400/401/402/404/406).
The msgpack codec is written here (a small independent implementation; alpaca-py's `msgpack` is the oracle).

Market: SPY and QQQ, each a seeded background market (`trader.sim.market`) on the pure-Python matching
engine; prices are integer cents and sizes whole shares inside, decimal strings on the REST wire (the data
stream sends numbers, as the real one does). Fills are commission-free.

Session calendar (US/Eastern, computed here without a time-zone database; weekdays, no holidays): pre-market
04:00-09:30, regular 09:30-16:00, after-hours 16:00-20:00. `/v2/clock` is open in regular hours. An order
placed when it cannot trade is accepted (`accepted`) and routed when it can: regular hours, or the extended
sessions for an `extended_hours` order, as Alpaca does; a `gtc` order is parked outside its hours and
re-routed at the next open; `day` orders expire at the close (20:00 for extended-hours ones). Tests set the
time with `ShiftedClock`.

Admin hooks: `state()`, `hit()` (another participant's order), `top()`, `depth()`.

Deviations: no fractional or notional orders, no stop/trailing/bracket/OCO/OTO orders, no replace (PATCH);
no margin or shorting (buying power is cash less open buy orders, multiplier 1); no regulatory fees; a market
order's unfilled remainder, an IOC remainder and an unfillable FOK are `canceled`; DELETE cancels at once
(no `pending_cancel`); no holidays or early closes; bars, statuses and LULDs can be subscribed but are not
produced; the 429 body code 42910000 and msgpack on `/stream` are unconfirmed; the activity id's suffix is
the fill's `execution_id` (Alpaca's exact relation is unconfirmed); injected 429/503 faults (base server) use
the base server's body.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from trader.clock import Clock
from trader.sim import auth
from trader.sim.alpaca import rest
from trader.sim.alpaca import ws as streams
from trader.sim.alpaca.market_hours import rfc3339, session
from trader.sim.alpaca.state import (
    CENT,
    DEMO_KEY,
    DEMO_SECRET,
    LISTINGS,
    LIVE,
    NS,
    ORDER_PATHS,
    RATE_LIMIT,
    Account,
    ApiError,
    Book,
    DataSub,
    Order,
    Request,
    cents,
    px,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade
from trader.sim.server import VenueServer


class AlpacaSimServer(VenueServer):
    FAULT_PATHS = ORDER_PATHS
    venue = "alpaca"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        accounts: dict[str, str] | None = None,
        cash: Decimal = Decimal(100_000),
        rate_limit: int = RATE_LIMIT,
        data_connections: int = 1,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self._rng = random.Random(seed)
        self.rate_limit = rate_limit
        self.data_connections = data_connections
        self.accounts: dict[str, Account] = {}
        for n, (key, secret) in enumerate(sorted((accounts or {DEMO_KEY: DEMO_SECRET}).items()), 1):
            self.accounts[key] = Account(secret.encode(), self._uuid(), f"PA3SIM{n:06d}", cash)
        self.books: dict[str, Book] = {}
        for i, listing in enumerate(LISTINGS):
            engine = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=CENT)
            params = MarketParams(mid=listing.mid_cents, max_qty=200, market_rate=4.0)
            market = BackgroundMarket(engine, params, seed=seed * 31 + i)
            market.seed_book(20)
            asset_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"trader-sim/alpaca/{listing.symbol}"))
            self.books[listing.symbol] = Book(listing, asset_id, engine, market)
            self.books[listing.symbol].top = self._top(self.books[listing.symbol])
        self.orders: dict[str, Order] = {}  # by id
        self.live: dict[str, Order] = {}  # the orders that can still trade, by id
        self._resting: dict[int, Order] = {}  # engine id -> order
        self._engine_ids = itertools.count(1)
        self.trade_subs: dict[web.WebSocketResponse, tuple[str, bool]] = {}  # ws -> (key, msgpack)
        self.data_subs: dict[web.WebSocketResponse, DataSub] = {}

    # ---- helpers -----------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def session(self) -> str:
        return session(self.now_ns())

    def _top(self, book: Book) -> tuple[int, int, int, int]:
        bids, asks = book.engine.depth(1)
        bid, bid_qty = bids[0] if bids else (0, 0)
        ask, ask_qty = asks[0] if asks else (0, 0)
        return bid, bid_qty, ask, ask_qty

    def top(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Best bid and ask now, in dollars."""
        bid, _, ask, _ = self._top(self.books[symbol])
        return Decimal(bid) * CENT, Decimal(ask) * CENT

    def depth(self, symbol: str, n: int = 50) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The book (cents, shares) of a symbol, best first."""
        return self.books[symbol].engine.depth(n)

    def _mid_cents(self, book: Book) -> Decimal:
        bid, _, ask, _ = self._top(book)
        if bid and ask:
            return Decimal(bid + ask) / 2
        return Decimal(round(book.market.mid))

    def _book_of(self, symbol_or_id: str) -> Book | None:
        found = self.books.get(symbol_or_id.upper())
        if found is not None:
            return found
        return next((b for b in self.books.values() if b.asset_id == symbol_or_id), None)

    def _held(self, key: str, symbol: str, side: str) -> int:
        return sum(
            o.remaining for o in self.live.values() if o.key == key and o.symbol == symbol and o.side == side
        )

    def _open_buy_value(self, key: str) -> Decimal:
        total = Decimal(0)
        for o in self.live.values():
            if o.key == key and o.side == "buy":
                total += Decimal(o.remaining * (o.limit or self._ask_cents(self.books[o.symbol]))) * CENT
        return total

    def _ask_cents(self, book: Book) -> int:
        _, _, ask, _ = self._top(book)
        return ask or int(self._mid_cents(book))

    def buying_power(self, key: str) -> Decimal:
        return max(Decimal(0), self.accounts[key].cash - self._open_buy_value(key))

    # ---- REST plumbing -----------------------------------------------------------------------------

    def _error(self, e: ApiError, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            body=orjson.dumps({**e.extra, "code": e.code, "message": e.message}),
            status=e.status,
            content_type="application/json",
            headers=headers,
        )

    def _auth(self, request: web.Request) -> tuple[str, Account]:
        key = request.headers.get("APCA-API-KEY-ID", "")
        secret = request.headers.get("APCA-API-SECRET-KEY", "")
        account = self.accounts.get(key)
        if account is None or not auth.same_secret(account.secret, secret):
            raise ApiError(401, 40110000, "request is not authorized")
        return key, account

    def _charge(self, account: Account) -> dict[str, str]:
        now_s = self.now_ns() // NS
        minute = now_s // 60
        if account.window[0] != minute:
            account.window = [minute, 0]
        account.window[1] += 1
        used = account.window[1]
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "X-RateLimit-Reset": str((minute + 1) * 60),
        }
        if used > self.rate_limit:
            e = ApiError(429, 42910000, "rate limit exceeded")
            e.headers = headers
            raise e
        return headers

    def api(
        self, method: str, path: str, fn: Callable[[Request, str, Account], tuple[int, Any]]
    ) -> web.RouteDef:
        async def handler(request: web.Request) -> web.Response:
            headers: dict[str, str] = {}
            try:
                key, account = self._auth(request)
                headers = self._charge(account)
                body = await request.read() if request.can_read_body else b""
                status, result = fn(Request(request.query, dict(request.match_info), body), key, account)
            except ApiError as e:
                return self._error(e, {**headers, **e.headers})
            if result is None:
                return web.Response(status=status, headers=headers)
            return web.Response(
                body=orjson.dumps(result), status=status, content_type="application/json", headers=headers
            )

        return web.route(method, path, handler)

    def routes(self) -> list[web.RouteDef]:
        a = self.api
        return [
            a("GET", "/v2/account", partial(rest.get_account, self)),
            a("POST", "/v2/orders", partial(rest.post_order, self)),
            a("GET", "/v2/orders", partial(rest.list_orders, self)),
            a("DELETE", "/v2/orders", partial(rest.cancel_all, self)),
            a("GET", "/v2/orders:by_client_order_id", partial(rest.get_by_client_id, self)),
            a("GET", "/v2/orders/{order_id}", partial(rest.get_order, self)),
            a("DELETE", "/v2/orders/{order_id}", partial(rest.cancel_order, self)),
            a("GET", "/v2/positions", partial(rest.list_positions, self)),
            a("GET", "/v2/positions/{symbol}", partial(rest.get_position, self)),
            a("GET", "/v2/clock", partial(rest.get_clock, self)),
            a("GET", "/v2/assets/{symbol}", partial(rest.get_asset, self)),
            a("GET", "/v2/account/activities", partial(rest.activities, self)),
            a("GET", "/v2/account/activities/{kind}", partial(rest.activities, self)),
            web.get("/stream", partial(streams.trade_stream, self)),
            web.get("/v2/{feed}", partial(streams.data_stream, self)),
        ]

    # ---- orders ------------------------------------------------------------------------------------

    def _check_wash(self, key: str, symbol: str, side: str, limit: int) -> None:
        """Alpaca rejects an order that could trade against the account's own opposite order."""
        for o in self.live.values():
            if o.key != key or o.symbol != symbol or o.side == side:
                continue
            if side == "buy":
                crosses = not limit or not o.limit or limit >= o.limit
            else:
                crosses = not limit or not o.limit or limit <= o.limit
            if crosses:
                raise ApiError(403, 40310000, "potential wash trade detected. use complex orders")

    def _can_trade(self, o: Order, now: int) -> bool:
        s = session(now)
        return s == "regular" or (o.extended and s in ("pre", "post"))

    def _route_if_possible(self, o: Order) -> None:
        if o.status not in LIVE or o.engine_id or not self._can_trade(o, self.now_ns()):
            return
        book = self.books[o.symbol]
        eid = next(self._engine_ids)
        tif = {"ioc": Tif.IOC, "fok": Tif.FOK}.get(o.tif, Tif.GTC)
        sim = SimOrder(
            eid,
            o.key,
            Side.BUY if o.side == "buy" else Side.SELL,
            o.limit or None,
            o.remaining,
            tif,
            False,
            o.id,
        )
        self._resting[eid] = o  # its trades as the taker settle to it
        result = book.engine.submit(sim)
        if o.status in ("accepted", "pending_new"):
            o.status = "new"
            o.updated_ns = self.now_ns()
            streams.trade_event(self, o, "new")
        self._settle(book, result.trades)
        if result.resting and o.status in LIVE:
            o.engine_id = eid
        else:
            self._resting.pop(eid, None)
            if o.status in LIVE:  # an IOC/FOK/market remainder
                self._close(o, "canceled")

    def _close(self, o: Order, status: str) -> None:
        if o.engine_id:
            self.books[o.symbol].engine.cancel(o.engine_id)
            self._resting.pop(o.engine_id, None)
            o.engine_id = 0
        now = self.now_ns()
        o.status, o.updated_ns = status, now
        self.live.pop(o.id, None)
        if status == "canceled":
            o.canceled_ns = now
        elif status == "expired":
            o.expired_ns = now
        streams.trade_event(self, o, status)

    def _settle(self, book: Book, trades: Iterable[Trade]) -> None:
        now = self.now_ns()
        for t in trades:
            for eid in (t.maker_order_id, t.taker_order_id):
                o = self._resting.get(eid)
                if o is not None:
                    self._fill(o, t.price, t.qty, now)
            streams.publish_trade(self, book, t.price, t.qty, now)

    def _fill(self, o: Order, price: int, qty: int, now: int) -> None:
        account = self.accounts[o.key]
        o.filled += qty
        o.filled_cents += price * qty
        o.updated_ns = now
        notional = Decimal(price * qty) * CENT
        pos = account.positions.setdefault(o.symbol, [0, Decimal(0)])
        if o.side == "buy":
            account.cash -= notional
            pos[0] += qty
            pos[1] += notional
        else:
            account.cash += notional
            pos[1] = pos[1] * (pos[0] - qty) / pos[0] if pos[0] else Decimal(0)
            pos[0] -= qty
        done = o.filled >= o.qty
        o.status = "filled" if done else "partially_filled"
        if done:
            o.filled_ns = now
            self.live.pop(o.id, None)
            if o.engine_id:
                self._resting.pop(o.engine_id, None)
                o.engine_id = 0
        execution_id = self._uuid()
        price_text = px(price)
        account.activities.append(
            {
                "id": f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(now // NS))}{now // 1_000_000 % 1000:03d}"
                f"::{execution_id}",
                "account_id": account.id,
                "activity_type": "FILL",
                "transaction_time": rfc3339(now),
                "type": "fill" if done else "partial_fill",
                "price": price_text,
                "qty": str(qty),
                "side": o.side,
                "symbol": o.symbol,
                "leaves_qty": str(o.remaining),
                "order_id": o.id,
                "cum_qty": str(o.filled),
                "order_status": o.status,
            }
        )
        streams.trade_event(self,
            o, "fill" if done else "partial_fill", price=price_text, qty=str(qty), position_qty=str(pos[0]),
            execution_id=execution_id, ts=now,
        )  # fmt: skip

    # ---- market ------------------------------------------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        now = self.now_ns()
        for book in self.books.values():
            trades = book.market.step(dt_ns)
            self._settle(book, trades)
        self._maintain(now)
        if self.faults.stale_feed:
            return
        for book in self.books.values():
            top = self._top(book)
            if top != book.top:
                book.top = top
                streams.publish_quote(self, book, now)

    def _maintain(self, now: int) -> None:
        """Expire day orders at their close, park orders outside their hours, route parked ones."""
        for o in list(self.live.values()):
            if o.status not in LIVE:
                continue
            if o.expires_ns is not None and now >= o.expires_ns:
                self._close(o, "expired")
            elif self._can_trade(o, now):
                if not o.engine_id:
                    self._route_if_possible(o)
            elif o.engine_id:
                self.books[o.symbol].engine.cancel(o.engine_id)
                self._resting.pop(o.engine_id, None)
                o.engine_id = 0

    def hit(self, symbol: str, side: str, qty: int, price: Decimal | None = None) -> None:
        """Another participant's IOC order (limit at `price`, or market): a test trades through a level."""
        book = self.books[symbol]
        cents = None if price is None else int(price / CENT)
        o = SimOrder(
            book.market._id(), "market", Side.BUY if side == "buy" else Side.SELL, cents, qty, Tif.IOC
        )
        self._settle(book, book.engine.submit(o).trades)

    # ---- admin -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            key: {
                "orders": [
                    {
                        "id": o.id,
                        "client_order_id": o.client_id,
                        "symbol": o.symbol,
                        "side": o.side,
                        "type": o.type,
                        "status": o.status,
                        "qty": str(o.qty),
                        "filled_qty": str(o.filled),
                        "limit_price": px(o.limit) if o.limit else None,
                    }
                    for o in self.orders.values()
                    if o.key == key
                ],
                "submissions": dict(a.submissions),
                "cash": cents(a.cash),
                "positions": {s: str(p[0]) for s, p in a.positions.items() if p[0]},
                "fills": len(a.activities),
            }
            for key, a in self.accounts.items()
        }
