"""Alpaca (US stocks): the Trading API v2, the trade_updates stream and the stock market-data stream.

One connector trades a set of symbols on one account, live or paper (`ENDPOINTS`; paper and live use
different key pairs), or a loopback `trader.sim.alpaca` server (`Endpoints.loopback`).

- REST over aiohttp (`_http.HttpClient`); the key headers come from the core's `AlpacaSigner` at each
  request. Prices are counted in 1/100 cent (`price_unit` 0.0001) so sub-penny fills and quotes convert
  exactly; orders go out on the penny tick. Quantities are whole shares.
- `submit` is single-shot (`POST /v2/orders` with our `client_order_id`): a timeout, a dropped connection
  or a 5xx raises `UnknownOutcomeError` and the engine asks `query` (`GET /v2/orders:by_client_order_id`).
- Private events: `/stream` (`authenticate`, then `listen` to `trade_updates`) become `OrderReport`s and
  `FillReport`s. A fill's trade id is `<order id>:<cumulative shares>`, which the stream event (the order's
  `filled_qty`) and the FILL activity (`cum_qty`) both state, so the engine de-duplicates fills that reach
  it both ways. After a reconnect the connector catches up by REST: the open orders, the final state of
  each order that was open before and is not now, and FILL activities since the last event (less a minute).
- `gtc_as="day"` sends GTC approvals as Alpaca DAY orders; `extended_hours=True` (with day orders) lets
  limit orders trade in the pre- and after-market sessions.
- Market data: the stock stream (`/v2/iex` or `/v2/sip`, JSON mode; numbers parsed as `Decimal`): quotes
  become `BookUpdate`s (Alpaca gives the top of book only), trades `TradeTick`s with the aggressor inferred
  from the last quote (Alpaca does not say). A drop or a silent feed is a `BookInvalid`.
- Rate limit: 200 requests/min per account at `budget`; `X-RateLimit-Remaining` is folded in and a 429
  blocks requests locally until `X-RateLimit-Reset`.
- Alpaca has no post-only, reduce-only or GTD orders, no per-symbol cancel-all (cancel_all with an
  instrument cancels that symbol's open orders one by one) and does not report liquidity (fills say
  `maker=False`); equities trade commission-free (fee 0; regulatory fees are not itemised).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson

from trader.clock import Clock
from trader.core import (
    AlpacaSigner,
    Approval,
    InstrumentSpec,
    OrderType,
    RateLimiter,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    VenueError,
)
from trader.venues._http import HttpClient, HttpResponse
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Capabilities,
    FillReport,
    InstrumentInfo,
    OrderReport,
    OrderState,
    SubmitAck,
    Tier,
    TradeTick,
    VenueEvent,
    require_approval,
)

log = logging.getLogger("trader.venues.alpaca")

TICK = "0.01"
PRICE_UNIT = "0.0001"  # sub-penny fills and quotes exist; orders are on the penny
RATE_LIMIT_PER_MIN = 200
MINUTE_NS = 60_000_000_000


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of one environment (alpaca.md §1)."""

    trading: str  # REST root, without /v2
    trade_stream: str  # the trade_updates WebSocket
    data_stream: str  # the stock market-data WebSocket root, without the feed

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader.sim.alpaca` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, f"{ws}/stream", f"{ws}/v2")


ENDPOINTS: dict[str, Endpoints] = {
    "paper": Endpoints(
        trading="https://paper-api.alpaca.markets",
        trade_stream="wss://paper-api.alpaca.markets/stream",
        data_stream="wss://stream.data.alpaca.markets/v2",
    ),
    "live": Endpoints(
        trading="https://api.alpaca.markets",
        trade_stream="wss://api.alpaca.markets/stream",
        data_stream="wss://stream.data.alpaca.markets/v2",
    ),
}

CAPABILITIES = Capabilities(
    venue="alpaca",
    tier=Tier.BROKER,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC", "FOK"}),
    post_only=False,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=False,
    ws_order_entry=False,
    max_batch=1,
    paper_environment=True,
    needs_credentials=True,
)

_STATES = {
    "new": OrderState.OPEN,
    "accepted": OrderState.OPEN,
    "pending_new": OrderState.OPEN,
    "accepted_for_bidding": OrderState.OPEN,
    "partially_filled": OrderState.OPEN,
    "pending_cancel": OrderState.OPEN,
    "pending_replace": OrderState.OPEN,
    "pending_review": OrderState.OPEN,
    "held": OrderState.OPEN,
    "stopped": OrderState.OPEN,
    "suspended": OrderState.OPEN,
    "calculated": OrderState.OPEN,
    "done_for_day": OrderState.OPEN,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "replaced": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}
_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.REJECTED})


@dataclass(frozen=True)
class AccountInfo:
    """The account as `GET /v2/account` states it (money as `Decimal`)."""

    account_number: str
    status: str
    currency: str
    cash: Decimal
    buying_power: Decimal
    equity: Decimal
    trading_blocked: bool


@dataclass(frozen=True)
class MarketClock:
    """`GET /v2/clock`: whether the regular session is open, and its next open and close (ns)."""

    ts_ns: int
    is_open: bool
    next_open_ns: int
    next_close_ns: int


def error_from(venue: str, status: int, code: int, message: str) -> VenueError:
    """An Alpaca `{"code", "message"}` error as a typed error."""
    c, msg = str(code), message[:200]
    if status == 401 or code == 40110000:
        return AuthenticationError(msg, venue=venue, code=c)
    if status == 404 or code == 40410000:
        return OrderNotFoundError(msg, venue=venue, code=c)
    if status == 403:
        if "insufficient" in msg:
            return InsufficientFundsError(msg, venue=venue, code=c)
        if "wash trade" in msg:
            return InvalidOrderError(msg, venue=venue, code=c)
        return AuthenticationError(msg, venue=venue, code=c)
    if status == 422 and "is already in" in msg:  # cancel: the order is already filled / canceled
        return OrderNotFoundError(msg, venue=venue, code=c)
    if status == 429:
        return RateLimitError(msg, venue=venue, code=c)
    return InvalidOrderError(msg, venue=venue, code=c)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    try:
        body = orjson.loads(resp.body)
        code, message = int(body.get("code", 0)), str(body["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return error_from(venue, resp.status, code, message)


def parse_time(text: str) -> int:
    """An Alpaca RFC 3339 time (nanosecond fractions, `Z` or an offset) as nanoseconds since the epoch."""
    head, dot, tail = text.partition(".")
    frac, zone = "", ""
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, zone = tail[:digits], tail[digits:]
    else:
        for i in range(len(head) - 1, 9, -1):
            if head[i] in "Z+-":
                head, zone = head[:i], head[i:]
                break
    when = datetime.fromisoformat(head + ("+00:00" if zone in ("Z", "z") else zone))
    if when.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return int(when.timestamp()) * 1_000_000_000 + int((frac or "0")[:9].ljust(9, "0"))


def format_time(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with nanoseconds."""
    sec, nsec = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nsec:09d}Z"


def _side(s: str) -> Side:
    return Side.BUY if s == "buy" else Side.SELL


def _spec() -> InstrumentSpec:
    return InstrumentSpec(TICK, "1", min_qty="1", price_unit=PRICE_UNIT)


def _dec(v: Any) -> str:
    """A JSON number or string as exact decimal text (data-stream numbers are parsed as `Decimal`)."""
    d = v if isinstance(v, Decimal) else Decimal(str(v))
    return format(d.normalize(), "f") if d == d.to_integral_value() else format(d, "f")


class AlpacaConnector:
    """Stocks on one Alpaca account (or a simulator speaking its protocol)."""

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        signer: AlpacaSigner,
        endpoints: Endpoints,
        clock: Clock,
        venue: str = "alpaca",
        feed: str = "iex",
        gtc_as: str = "gtc",
        extended_hours: bool = False,
        market_data: bool = True,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        cancel_confirm_s: float = 2.0,
    ) -> None:
        if not symbols:
            raise ValueError("at least one symbol is needed")
        if feed not in ("iex", "sip"):
            raise ValueError(f"feed must be iex or sip, not {feed!r}")
        if not 0 < budget <= 1:
            raise ValueError("budget must be in (0, 1]")
        if gtc_as not in ("gtc", "day"):
            raise ValueError(f"gtc_as must be gtc or day, not {gtc_as!r}")
        if extended_hours and gtc_as != "day":
            raise ValueError("extended_hours needs day orders (gtc_as='day'): Alpaca takes only DAY limits")
        self.venue = venue
        self.capabilities = CAPABILITIES
        self.symbols = tuple(s.upper() for s in symbols)
        self.endpoints = endpoints
        self.clock = clock
        self._signer = signer
        self._feed = feed
        self._gtc_as = gtc_as
        self._extended = extended_hours
        self._market_data = market_data
        self._stale_after_s = stale_after_s
        self._timeout_s = timeout_s
        self._cancel_confirm_s = cancel_confirm_s
        self._limiter = RateLimiter()
        self._quota = self._limiter.add_quota(
            "requests", [Window(max(1, int(RATE_LIMIT_PER_MIN * budget)), MINUTE_NS)]
        )
        self._http = HttpClient(
            venue,
            endpoints.trading,
            clock=clock,
            timeout_s=timeout_s,
            limiter=self._limiter,
            quota=self._quota,
            decode_error=lambda r: decode_error(venue, r),
            on_response=self._on_response,
        )
        self.spec = _spec()
        self._info: dict[str, InstrumentInfo] = {}
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._catch_up_task: asyncio.Task[None] | None = None
        self._ids: dict[str, str] = {}  # client order id -> Alpaca order id
        self._open: set[str] = set()  # client ids of our orders last seen open (for reconnect catch-up)
        self._cids: dict[str, str] = {}  # Alpaca order id -> client order id
        self._last_event_ns = 0
        self._quotes: dict[str, tuple[int, int]] = {}  # symbol -> (bid, ask) units, for trade aggressors
        self.trade_stream: WsClient | None = None
        self.data_stream: WsClient | None = None
        self._stop_data = False

    # ---- plumbing --------------------------------------------------------------------------------

    def _on_response(self, resp: HttpResponse) -> None:
        now = self.clock.now_ns()
        limit, remaining = (
            resp.headers.get("x-ratelimit-limit", ""),
            resp.headers.get("x-ratelimit-remaining", ""),
        )
        if limit.isdigit() and remaining.isdigit():
            used = int(limit) - int(remaining)
            with contextlib.suppress(VenueError, ValueError):
                self._limiter.observe_usage(self._quota, MINUTE_NS, used, now)
        reset = resp.headers.get("x-ratelimit-reset", "")
        if resp.status == 429 and reset.isdigit():
            self._limiter.block_until(self._quota, int(reset) * 1_000_000_000)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: dict[str, Any] | None = None,
        mutating: bool,
        priority: bool = False,
    ) -> Any:
        headers = dict(self._signer.headers())
        payload = None
        if body is not None:
            payload = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        resp = await self._http.request(
            method,
            path,
            query=urlencode(list(query)),
            body=payload,
            headers=headers,
            mutating=mutating,
            priority=priority,
        )
        if not resp.body:
            return None
        return orjson.loads(resp.body)

    # ---- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        account = await self.account()
        if account.trading_blocked:
            raise AuthenticationError(
                f"account {account.account_number} is blocked from trading", venue=self.venue
            )
        for symbol in self.symbols:
            asset = await self._call("GET", f"/v2/assets/{symbol}", mutating=False)
            if not asset.get("tradable") or asset.get("status") != "active":
                raise InvalidOrderError(f"{symbol} is not tradable", venue=self.venue)
            self._info[symbol] = InstrumentInfo(
                symbol, symbol, "USD", TICK, "1", "1", "0", price_unit=PRICE_UNIT
            )
        loop = asyncio.get_running_loop()
        self.trade_stream = WsClient(
            self.venue, self.endpoints.trade_stream, clock=self.clock, on_connect=self._trade_login,
            stale_after_s=3600,
        )  # fmt: skip
        self._clients.append(self.trade_stream)
        self._tasks.append(loop.create_task(self._private()))
        if self._market_data:
            url = f"{self.endpoints.data_stream.rstrip('/')}/{self._feed}"
            self.data_stream = WsClient(
                self.venue,
                url,
                clock=self.clock,
                on_connect=self._data_login,
                stale_after_s=self._stale_after_s,
            )
            self._clients.append(self.data_stream)
            self._tasks.append(loop.create_task(self._market()))

    async def close(self) -> None:
        for c in self._clients:
            await c.close()
        tasks = [*self._tasks, *([self._catch_up_task] if self._catch_up_task else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._clients = [], []
        await self._http.close()

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        info = self._info.get(symbol)
        if info is None:
            raise InvalidOrderError(f"unknown instrument {symbol}", venue=self.venue)
        return info

    def trading_spec(self) -> InstrumentSpec:
        return self.spec

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    # ---- orders ----------------------------------------------------------------------------------

    def order_body(self, approval: Approval, client_id: str, instrument: str) -> dict[str, Any]:
        """The JSON of one approved order."""
        a = require_approval(approval)
        if a.post_only:
            raise InvalidOrderError("Alpaca has no post-only orders", venue=self.venue)
        if a.reduce_only:
            raise InvalidOrderError("Alpaca has no reduce-only orders", venue=self.venue)
        tif = {TimeInForce.GTC: self._gtc_as, TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}.get(a.tif)
        if tif is None:
            raise InvalidOrderError("Alpaca has no GTD orders", venue=self.venue)
        body: dict[str, Any] = {
            "symbol": instrument,
            "qty": self.spec.format_qty(a.qty),
            "side": "buy" if a.side == Side.BUY else "sell",
            "client_order_id": client_id,
        }
        if a.order_type == OrderType.MARKET:
            body.update({"type": "market", "time_in_force": tif})
        else:
            price = self.spec.format_price(a.price)
            if Decimal(price) % Decimal(TICK):
                raise InvalidOrderError(f"limit price {price} is not on the penny", venue=self.venue)
            limit = Decimal(price).quantize(Decimal(TICK))
            body.update({"type": "limit", "time_in_force": tif, "limit_price": format(limit, "f")})
            if self._extended and tif == "day":  # extended hours: DAY limit orders only
                body["extended_hours"] = True
        return body

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        if instrument not in self._info:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)
        body = self.order_body(approval, client_id, instrument)
        o = await self._call("POST", "/v2/orders", body=body, mutating=True)
        self._remember(str(o["client_order_id"]), str(o["id"]))
        self._open.add(client_id)
        return SubmitAck(client_id, str(o["id"]))

    def _remember(self, client_id: str, order_id: str) -> None:
        self._ids[client_id] = order_id
        self._cids[order_id] = client_id

    async def _order_id(self, client_id: str) -> str:
        oid = self._ids.get(client_id)
        if oid is None:
            o = await self._by_client_id(client_id)
            if o is None:
                raise OrderNotFoundError(f"no order {client_id}", venue=self.venue, code="40410000")
            oid = str(o["id"])
        return oid

    async def _by_client_id(self, client_id: str) -> dict[str, Any] | None:
        try:
            o: dict[str, Any] = await self._call(
                "GET", "/v2/orders:by_client_order_id", query=[("client_order_id", client_id)], mutating=False
            )
        except OrderNotFoundError:
            return None
        self._remember(str(o["client_order_id"]), str(o["id"]))
        return o

    async def cancel(self, client_id: str) -> None:
        """`DELETE /v2/orders/{id}` (204 means the request was taken), then wait until the venue shows
        the order closed. `OrderNotFoundError` if it was already closed or filled before the cancel."""
        oid = await self._order_id(client_id)
        await self._call("DELETE", f"/v2/orders/{oid}", mutating=True, priority=True)
        deadline = self.clock.monotonic_ns() + int(self._cancel_confirm_s * 1e9)
        delay = 0.02
        while True:
            o = await self._call("GET", f"/v2/orders/{oid}", mutating=False)
            state = _STATES.get(str(o["status"]), OrderState.OPEN)
            if state is OrderState.CANCELED or state is OrderState.EXPIRED:
                return
            if state in _TERMINAL:
                raise OrderNotFoundError(
                    f"order {client_id} is {o['status']}, not canceled", venue=self.venue, code="42210000"
                )
            if self.clock.monotonic_ns() >= deadline:
                raise VenueError(f"cancel of {client_id} not confirmed ({o['status']})", venue=self.venue)
            await self.clock.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def cancel_all(self, instrument: str | None = None) -> int:
        if instrument is None:
            rows = await self._call("DELETE", "/v2/orders", mutating=True, priority=True)
            return sum(1 for r in rows or [] if 200 <= int(r.get("status", 0)) < 300)
        n = 0
        for r in await self._orders("open", symbols=(instrument,)):
            try:
                await self._call("DELETE", f"/v2/orders/{r.venue_order_id}", mutating=True, priority=True)
                n += 1
            except OrderNotFoundError:
                continue
        return n

    def _report(self, o: dict[str, Any]) -> OrderReport:
        cid, oid = str(o["client_order_id"]), str(o["id"])
        self._remember(cid, oid)
        limit = o.get("limit_price")
        state = _STATES.get(str(o["status"]), OrderState.OPEN)
        if state is OrderState.OPEN:
            self._open.add(cid)
        else:
            self._open.discard(cid)
        return OrderReport(
            cid,
            oid,
            str(o["symbol"]),
            _side(str(o["side"])),
            self.spec.price_to_units(_dec(limit)) if limit is not None else 0,
            self.spec.qty_to_units(_dec(o["qty"])),
            self.spec.qty_to_units(_dec(o.get("filled_qty") or "0")),
            state,
            str(o["status"]) if o["status"] in ("rejected", "expired") else "",
        )

    async def query(self, client_id: str) -> OrderReport | None:
        o = await self._by_client_id(client_id)
        return None if o is None else self._report(o)

    async def _orders(self, status: str, *, symbols: Sequence[str] = ()) -> list[OrderReport]:
        query = [("status", status), ("limit", "500"), ("direction", "asc")]
        query.append(("symbols", ",".join(symbols or self.symbols)))
        rows = await self._call("GET", "/v2/orders", query=query, mutating=False)
        return [self._report(o) for o in rows if o.get("symbol") in self.symbols]

    async def open_orders(self) -> list[OrderReport]:
        return await self._orders("open")

    async def _client_id(self, order_id: str) -> str:
        cid = self._cids.get(order_id)
        if cid is None:
            o = await self._call("GET", f"/v2/orders/{order_id}", mutating=False)
            cid = str(o["client_order_id"])
            self._remember(cid, order_id)
        return cid

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        out: list[FillReport] = []
        token = ""
        while True:
            query = [("after", format_time(ts_ns)), ("direction", "asc"), ("page_size", "100")]
            if token:
                query.append(("page_token", token))
            page = await self._call("GET", "/v2/account/activities/FILL", query=query, mutating=False)
            for a in page:
                if a.get("symbol") not in self.symbols:
                    continue
                oid = str(a["order_id"])
                cum = self.spec.qty_to_units(_dec(a["cum_qty"]))
                out.append(
                    FillReport(
                        await self._client_id(oid),
                        f"{oid}:{cum}",
                        str(a["symbol"]),
                        _side(str(a["side"])),
                        self.spec.price_to_units(_dec(a["price"])),
                        self.spec.qty_to_units(_dec(a["qty"])),
                        Decimal(0),
                        parse_time(str(a["transaction_time"])),
                        False,
                        ts_recv=self.clock.now_ns(),
                    )
                )
            if len(page) < 100:
                return out
            token = str(page[-1]["id"])

    # ---- account ---------------------------------------------------------------------------------

    async def positions(self) -> dict[str, int]:
        rows = await self._call("GET", "/v2/positions", mutating=False)
        out = dict.fromkeys(self.symbols, 0)
        for p in rows:
            if p.get("symbol") in out:
                qty = Decimal(_dec(p["qty"]))
                units = self.spec.qty_to_units(_dec(abs(qty)))
                out[str(p["symbol"])] = -units if qty < 0 or p.get("side") == "short" else units
        return out

    async def account(self) -> AccountInfo:
        a = await self._call("GET", "/v2/account", mutating=False)
        return AccountInfo(
            str(a["account_number"]),
            str(a["status"]),
            str(a.get("currency") or "USD"),
            Decimal(str(a.get("cash") or "0")),
            Decimal(str(a.get("buying_power") or "0")),
            Decimal(str(a.get("equity") or "0")),
            bool(a.get("trading_blocked")) or bool(a.get("account_blocked")),
        )

    async def market_clock(self) -> MarketClock:
        c = await self._call("GET", "/v2/clock", mutating=False)
        return MarketClock(
            parse_time(str(c["timestamp"])),
            bool(c["is_open"]),
            parse_time(str(c["next_open"])),
            parse_time(str(c["next_close"])),
        )

    # ---- trade_updates ---------------------------------------------------------------------------

    async def _trade_login(self, ws: WsClient) -> None:
        headers = dict(self._signer.headers())
        auth = {
            "action": "authenticate",
            "data": {"key_id": headers["APCA-API-KEY-ID"], "secret_key": headers["APCA-API-SECRET-KEY"]},
        }
        await ws.send(orjson.dumps(auth))
        await ws.send(orjson.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))

    async def _private(self) -> None:
        ws = self.trade_stream
        assert ws is not None
        reconnected = False
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                reconnected = ev.attempt > 1
                continue
            if not isinstance(ev, WsMessage):
                continue
            try:
                msg = orjson.loads(ev.data)
                stream, data = msg.get("stream"), msg.get("data") or {}
            except (orjson.JSONDecodeError, AttributeError):
                log.warning("%s: malformed trade stream message skipped", self.venue)
                continue
            if stream == "authorization" and data.get("status") != "authorized":
                log.error("%s: trade stream: not authorized (%s)", self.venue, data.get("message", ""))
                await ws.close()
                return
            if stream == "listening" and reconnected:
                reconnected = False
                self._catch_up_task = asyncio.get_running_loop().create_task(self._catch_up())
            elif stream == "trade_updates":
                try:
                    self._trade_update(data)
                except (KeyError, TypeError, ValueError, VenueError) as e:
                    log.warning("%s: malformed trade update skipped: %s", self.venue, type(e).__name__)

    def _trade_update(self, data: dict[str, Any]) -> None:
        o, event = data["order"], str(data["event"])
        if o.get("symbol") not in self.symbols:
            return
        ts = parse_time(str(data["timestamp"]))
        self._last_event_ns = max(self._last_event_ns, ts)
        report = self._report(o)
        if event in ("fill", "partial_fill"):
            self._queue.put_nowait(
                FillReport(
                    report.client_id,
                    f"{report.venue_order_id}:{report.filled}",
                    report.instrument,
                    report.side,
                    self.spec.price_to_units(_dec(data["price"])),
                    self.spec.qty_to_units(_dec(data["qty"])),
                    Decimal(0),
                    ts,
                    False,
                    ts_recv=self.clock.now_ns(),
                )
            )
        self._queue.put_nowait(report)

    async def _catch_up(self) -> None:
        """After the trade stream reconnected: what changed while it was down, by REST. Open orders now,
        the final state of each order that was open before and is not any more, and the fills since the
        last event (less a minute; the engine drops fills it already has by trade id)."""
        since = max(0, (self._last_event_ns or self.clock.now_ns()) - MINUTE_NS)
        try:
            before = set(self._open)
            now_open = await self.open_orders()
            for r in now_open:
                self._queue.put_nowait(r)
            for cid in sorted(before - {r.client_id for r in now_open}):
                o = await self._call("GET", f"/v2/orders/{await self._order_id(cid)}", mutating=False)
                self._queue.put_nowait(self._report(o))
            for f in await self.fills_since(since):
                self._queue.put_nowait(f)
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)

    # ---- market data -----------------------------------------------------------------------------

    async def _data_login(self, ws: WsClient) -> None:
        headers = dict(self._signer.headers())
        auth = {"action": "auth", "key": headers["APCA-API-KEY-ID"], "secret": headers["APCA-API-SECRET-KEY"]}
        await ws.send(orjson.dumps(auth))
        symbols = list(self.symbols)
        await ws.send(orjson.dumps({"action": "subscribe", "quotes": symbols, "trades": symbols}))

    async def _market(self) -> None:
        ws = self.data_stream
        assert ws is not None
        async for ev in ws.events():
            if isinstance(ev, WsDisconnected | WsStale):
                self._quotes.clear()
                for s in self.symbols:
                    self._queue.put_nowait(BookInvalid(s, type(ev).__name__))
                continue
            if not isinstance(ev, WsMessage):
                continue
            try:
                msgs = json.loads(ev.data, parse_float=Decimal)
                for m in msgs if isinstance(msgs, list) else [msgs]:
                    self._market_message(m, ev.ts_recv)
            except (ValueError, KeyError, TypeError, AttributeError, VenueError) as e:
                log.warning("%s: malformed market data skipped: %s", self.venue, type(e).__name__)
            if self._stop_data:
                await ws.close()
                return

    def _market_message(self, m: dict[str, Any], ts_recv: int) -> None:
        kind = m.get("T")
        if kind == "error":
            log.error("%s: market data error %s: %s", self.venue, m.get("code"), m.get("msg"))
            if m.get("code") in (402, 409) and self.data_stream is not None:  # auth failed, not subscribed
                self._stop_data = True
            return
        symbol = m.get("S")
        if symbol not in self.symbols:
            return
        spec = self.spec
        if kind == "q":
            bp, ap = Decimal(_dec(m["bp"])), Decimal(_dec(m["ap"]))
            bid = spec.price_to_units(_dec(bp)) if bp > 0 else None
            ask = spec.price_to_units(_dec(ap)) if ap > 0 else None
            self._quotes[symbol] = (bid or 0, ask or 0)
            self._queue.put_nowait(
                BookUpdate(
                    symbol,
                    bid,
                    spec.qty_to_units(_dec(m["bs"])) if bid is not None else 0,
                    ask,
                    spec.qty_to_units(_dec(m["as"])) if ask is not None else 0,
                    parse_time(str(m["t"])),  # the quote's time at the venue: records only
                    ts_recv,
                )
            )
        elif kind == "t":
            price = spec.price_to_units(_dec(m["p"]))
            bid, ask = self._quotes.get(symbol, (0, 0))
            if ask and price >= ask:
                aggressor = Side.BUY
            elif bid and price <= bid:
                aggressor = Side.SELL
            else:
                aggressor = Side.BUY if bid and ask and 2 * price >= bid + ask else Side.SELL
            self._queue.put_nowait(
                TradeTick(
                    symbol,
                    price,
                    spec.qty_to_units(_dec(m["s"])),
                    aggressor,
                    parse_time(str(m["t"])),
                    ts_recv=ts_recv,
                )
            )


def loopback_connector(url: str, *, symbols: Sequence[str], clock: Clock, **options: Any) -> AlpacaConnector:
    """A connector to a `trader.sim.alpaca` server at `url` with its demo account."""
    from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET

    return AlpacaConnector(
        symbols=symbols,
        signer=AlpacaSigner(DEMO_KEY, DEMO_SECRET),
        endpoints=Endpoints.loopback(url),
        clock=clock,
        **options,
    )
