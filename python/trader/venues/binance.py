"""Binance spot, USD-M futures and cross/isolated margin: one connector, three markets, one signer.

The built-in `sim` venue speaks the same protocol (`trader.sim.binance`), so this connector trades both:
pointed at a loopback simulator it is the network path of `trader paper`; `Endpoints` holds the real
hosts of every environment in one table (binance.md §1).

- Requests are signed in the core (`BinanceSigner`, HMAC or Ed25519 keys); the signed bytes are sent as
  signed. Orders go over REST or, with `order_entry="ws"`, over the WebSocket API on a kept-open
  connection (same signer, same errors, same single-shot rule).
- Every order carries `selfTradePreventionMode`; post-only is `LIMIT_MAKER` on spot/margin and `GTX` on
  futures; margin orders carry `isIsolated` and `sideEffectType`.
- The book follows Binance's procedure: buffer the diff stream, fetch a REST snapshot, apply buffered
  events under the `U`/`u` rule (futures: `pu` must equal the previous `u`; checked in the core), and start
  over on a gap, a reconnect or a stale feed; the engine is told (`BookInvalid`) meanwhile. Trades and the
  book ticker arrive on a second stream as `TradeTick` / `Quote`.
- Private events come from the mechanism each market uses today: spot, the WebSocket API subscription
  `userDataStream.subscribe.signature` (listen keys were retired on spot); margin, a listen token
  (`POST /sapi/v1/userListenToken`) subscribed on the WebSocket API; futures, the user-data stream of a
  listen key. After any reconnect, open orders and recent trades are fetched by REST (the engine
  de-duplicates by trade id).
- Rate limits: the quotas of exchangeInfo at 80 % (`budget`), the venue's usage headers folded in, 429
  honours Retry-After and 418 blocks every request locally until the ban ends (`_http`).
- Clock: the server-time offset is measured at connect and every `time_resync_s`; a `-1021` triggers at
  most one resync per second, whatever the number of failing requests.
- Futures: the dead-man switch (`countdownCancelAll`) is armed while our orders rest and refreshed every
  `dead_man_refresh_s`; disarmed when none rest. Leverage and margin type are set at connect if configured.
- A timeout or 5xx on an order raises `UnknownOutcomeError`: the engine asks by client order id; nothing is
  ever resent here.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from trader.clock import Clock
from trader.core import (
    Approval,
    BinanceSigner,
    Book,
    BookNotReadyError,
    InstrumentSpec,
    OrderType,
    RateLimiter,
    SequenceGapError,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import (
    AuthenticationError,
    BannedError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    ParseError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
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
    Quote,
    SubmitAck,
    Tier,
    TradeTick,
    VenueEvent,
    require_approval,
)

log = logging.getLogger("trader.venues.binance")

_Params = list[tuple[str, str | int | bool]]


class Market(enum.StrEnum):
    SPOT = "spot"
    FUTURES = "futures"  # USD-M
    MARGIN = "margin"  # cross, or isolated with `isolated=True`


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of one environment (binance.md §1). Margin uses the spot hosts."""

    rest: str
    stream: str
    ws_api: str
    futures_rest: str
    futures_stream: str  # root of the routed streams: /public, /market, /private
    futures_ws_api: str

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader sim` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, ws, f"{ws}/ws-api/v3", base, ws, f"{ws}/ws-fapi/v1")


ENDPOINTS: dict[str, Endpoints] = {
    "live": Endpoints(
        rest="https://api.binance.com",
        stream="wss://stream.binance.com:9443",
        ws_api="wss://ws-api.binance.com:443/ws-api/v3",
        futures_rest="https://fapi.binance.com",
        futures_stream="wss://fstream.binance.com",
        futures_ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
    ),
    "testnet": Endpoints(
        rest="https://testnet.binance.vision",
        stream="wss://stream.testnet.binance.vision",
        ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
        futures_rest="https://testnet.binancefuture.com",
        futures_stream="wss://fstream.binancefuture.com",
        futures_ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
    ),
}


@dataclass(frozen=True)
class _Api:
    """The paths and weights that differ between markets (binance.md §3-4)."""

    time: str
    exchange_info: str
    exchange_info_weight: int
    depth: str
    depth_limit: int
    depth_weight: int
    order: str
    query_weight: int
    open_orders: str
    open_orders_weight: int
    cancel_all: str
    trades: str
    trades_weight: int


_APIS = {
    Market.SPOT: _Api(
        "/api/v3/time", "/api/v3/exchangeInfo", 20, "/api/v3/depth", 1000, 50,
        "/api/v3/order", 4, "/api/v3/openOrders", 6, "/api/v3/openOrders", "/api/v3/myTrades", 20,
    ),
    Market.MARGIN: _Api(
        "/api/v3/time", "/api/v3/exchangeInfo", 20, "/api/v3/depth", 1000, 50,
        "/sapi/v1/margin/order", 10, "/sapi/v1/margin/openOrders", 10, "/sapi/v1/margin/openOrders",
        "/sapi/v1/margin/myTrades", 10,
    ),
    Market.FUTURES: _Api(
        "/fapi/v1/time", "/fapi/v1/exchangeInfo", 1, "/fapi/v1/depth", 1000, 20,
        "/fapi/v1/order", 1, "/fapi/v1/openOrders", 1, "/fapi/v1/allOpenOrders", "/fapi/v1/userTrades", 5,
    ),
}  # fmt: skip

_STATES = {
    "NEW": OrderState.OPEN,
    "PENDING_NEW": OrderState.OPEN,
    "PARTIALLY_FILLED": OrderState.OPEN,
    "FILLED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "PENDING_CANCEL": OrderState.OPEN,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}
_INTERVALS_NS = {
    "SECOND": 1_000_000_000,
    "MINUTE": 60_000_000_000,
    "HOUR": 3_600_000_000_000,
    "DAY": 86_400_000_000_000,
}
_USAGE_UNITS_NS = {"S": 1_000_000_000, "M": 60_000_000_000, "H": 3_600_000_000_000, "D": 86_400_000_000_000}
STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"})
SIDE_EFFECTS = frozenset({"NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY"})


def error_from(venue: str, code: int, msg: str) -> VenueError:
    """A Binance `{"code", "msg"}` error as a typed error (binance.md §8), for REST and the WS API."""
    c, msg = str(code), msg[:200]
    if code in (-1021, -1022, -2014, -2015, -1002, -1099):
        return AuthenticationError(msg, venue=venue, code=c)
    if code in (-2011, -2013):
        return OrderNotFoundError(msg, venue=venue, code=c)
    if code == -2019 or (code == -2010 and "insufficient balance" in msg):
        return InsufficientFundsError(msg, venue=venue, code=c)
    if code in (-1003, -1015):
        return RateLimitError(msg, venue=venue, code=c)
    if code in (-1006, -1007):
        return UnknownOutcomeError(msg, venue=venue, code=c)
    if code in (-1001, -1008):
        return VenueUnavailableError(msg, venue=venue, code=c)
    return InvalidOrderError(msg, venue=venue, code=c)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    try:
        body = orjson.loads(resp.body)
        code, msg = int(body["code"]), str(body["msg"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return error_from(venue, code, msg)


def _side(s: str) -> Side:
    return Side.BUY if s == "BUY" else Side.SELL


def _capabilities(market: Market, ws_orders: bool) -> Capabilities:
    return Capabilities(
        venue="binance",
        tier=Tier.CRYPTO,
        order_types=frozenset({"LIMIT", "MARKET"}),
        time_in_force=frozenset({"GTC", "IOC", "FOK"}),
        post_only=True,
        reduce_only=market is Market.FUTURES,
        cancel_all=True,
        dead_man_switch=market is Market.FUTURES,
        ws_order_entry=ws_orders,
        max_batch=1,
        paper_environment=market is not Market.MARGIN,
        needs_credentials=True,
    )


class _WsApi:
    """A kept-open WebSocket API connection: signed requests matched to responses by id; events (the
    user-data subscription) handed to `on_event`; `on_connect` runs on every (re)connect."""

    def __init__(
        self,
        conn: BinanceConnector,
        url: str,
        *,
        on_connect: Callable[[_WsApi, int], Awaitable[None]] | None = None,
        on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self._conn = conn
        self._on_connect = on_connect
        self._on_event = on_event
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._ready = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None
        self.ws = WsClient(conn.venue, url, clock=conn.clock, stale_after_s=3600)

    async def run(self) -> None:
        async for ev in self.ws.events():
            if isinstance(ev, WsConnected):
                self._ready.set()
                if self._on_connect is not None:  # a task: its requests' responses arrive on this loop
                    self._connect_task = asyncio.get_running_loop().create_task(self._connected(ev.attempt))
                continue
            if isinstance(ev, WsDisconnected | WsStale):
                self._ready.clear()
                self._fail_pending(f"websocket API dropped ({type(ev).__name__})")
                continue
            try:
                msg = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                log.warning("malformed WebSocket API message skipped")
                continue
            rid = msg.get("id")
            if isinstance(rid, int) and rid in self._pending:
                fut = self._pending.pop(rid)
                if not fut.done():
                    fut.set_result(msg)
            elif isinstance(msg.get("event"), dict) and self._on_event is not None:
                await self._on_event(msg["event"])
            elif msg.get("status") not in (None, 200):
                log.error("%s: WebSocket API: %s", self._conn.venue, msg.get("error", {}).get("msg", "?"))

    async def _connected(self, attempt: int) -> None:
        assert self._on_connect is not None
        try:
            await self._on_connect(self, attempt)
        except VenueError as e:
            log.warning("%s: on connect: %s", self._conn.venue, e)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(VenueUnavailableError(why, venue=self._conn.venue))

    async def request(
        self, method: str, params_json: str, *, mutating: bool, timeout_s: float
    ) -> dict[str, Any]:
        """Send one request and wait for its response. A lost or late response to a mutating request is
        an unknown outcome (the request may have been executed)."""
        venue = self._conn.venue
        if not self._ready.is_set():
            raise VenueUnavailableError("websocket API not connected", venue=venue)
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        raw = b'{"id":%d,"method":"%s","params":%s}' % (rid, method.encode(), params_json.encode())
        try:
            await self.ws.send(raw)
        except VenueUnavailableError:
            self._pending.pop(rid, None)
            raise  # never left this process
        try:
            msg = await asyncio.wait_for(fut, timeout_s)
        except (TimeoutError, VenueUnavailableError) as e:
            self._pending.pop(rid, None)
            if mutating:
                raise UnknownOutcomeError(
                    f"{method}: no response ({type(e).__name__})", venue=venue
                ) from None
            raise VenueUnavailableError(f"{method}: no response", venue=venue) from None
        self._conn._observe_ws_limits(msg.get("rateLimits"))
        status = int(msg.get("status", 0))
        if status == 200:
            return msg.get("result") or {}
        err = msg.get("error") or {}
        retry_ms = err.get("data", {}).get("retryAfter") if isinstance(err.get("data"), dict) else None
        retry_ns = int(retry_ms) * 1_000_000 if isinstance(retry_ms, int) else None
        if status == 418:
            self._conn._ban(retry_ns)
            raise BannedError(f"{method}: banned (418)", venue=venue, code="418", retry_after_ns=retry_ns)
        if status == 429:
            raise RateLimitError(
                f"{method}: too many requests", venue=venue, code="429", retry_after_ns=retry_ns
            )
        if status >= 500:
            if mutating:
                raise UnknownOutcomeError(f"{method}: status {status}", venue=venue, code=str(status))
            raise VenueUnavailableError(f"{method}: status {status}", venue=venue, code=str(status))
        raise error_from(venue, int(err.get("code", status)), str(err.get("msg", "")))

    async def close(self) -> None:
        self._fail_pending("closed")
        if self._connect_task is not None:
            self._connect_task.cancel()
        await self.ws.close()


class BinanceConnector:
    """One symbol on one Binance market (or on a simulator speaking its protocol)."""

    def __init__(
        self,
        *,
        symbol: str,
        signer: BinanceSigner,
        endpoints: Endpoints,
        clock: Clock,
        market: Market = Market.SPOT,
        venue: str = "binance",
        order_entry: str = "rest",
        stp_mode: str = "EXPIRE_MAKER",
        isolated: bool = False,
        side_effect: str = "NO_SIDE_EFFECT",
        leverage: int | None = None,
        margin_type: str | None = None,
        recv_window_ms: int = 5000,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        dead_man_ms: int = 30_000,
        dead_man_refresh_s: float = 10.0,
        time_resync_s: float = 300.0,
        market_streams: bool = True,
        market_data: bool = True,
        private_stream: bool = True,
    ) -> None:
        if order_entry not in ("rest", "ws"):
            raise ValueError(f"order_entry must be rest or ws, not {order_entry!r}")
        if order_entry == "ws" and Market(market) is Market.MARGIN:
            raise ValueError("margin orders go over REST: the WebSocket API trades spot and futures only")
        if stp_mode not in STP_MODES:
            raise ValueError(f"unknown self-trade-prevention mode {stp_mode!r}")
        if side_effect not in SIDE_EFFECTS:
            raise ValueError(f"unknown sideEffectType {side_effect!r}")
        if margin_type not in (None, "CROSSED", "ISOLATED"):
            raise ValueError(f"margin_type must be CROSSED or ISOLATED, not {margin_type!r}")
        if not 0 < budget <= 1:
            raise ValueError("budget must be in (0, 1]")
        self.venue = venue
        self.symbol = symbol
        self.market = Market(market)
        self.capabilities = _capabilities(self.market, order_entry == "ws")
        self.endpoints = endpoints
        self._api = _APIS[self.market]
        self._signer = signer
        self.clock = clock
        self._order_entry = order_entry
        self._stp = stp_mode
        self._isolated = isolated
        self._side_effect = side_effect
        self._leverage = leverage
        self._margin_type = margin_type
        self._recv_window = recv_window_ms
        self._stale_after_s = stale_after_s
        self._timeout_s = timeout_s
        self._budget = budget
        self._dead_man_ms = dead_man_ms
        self._dead_man_refresh_s = dead_man_refresh_s
        self._time_resync_s = time_resync_s
        self._market_streams = market_streams and market_data
        self._market_data = market_data  # False: no book and no market streams
        self._private_stream = private_stream  # False: order entry only (events consumed elsewhere)
        futures = self.market is Market.FUTURES
        self._rest_url = (endpoints.futures_rest if futures else endpoints.rest).rstrip("/")
        self._limiter = RateLimiter()
        # Until exchangeInfo states the limits: the documented ones (binance.md §7), within the budget.
        documented = 2400 if futures else 6000
        self._weight = self._limiter.add_quota(
            "weight-documented", [Window(int(documented * budget), 60_000_000_000)]
        )
        self._orders_quota: int | None = None
        self._http = HttpClient(
            venue,
            self._rest_url,
            clock=clock,
            timeout_s=timeout_s,
            limiter=self._limiter,
            quota=self._weight,
            decode_error=lambda r: decode_error(venue, r),
            on_response=self._on_response,
        )
        self._offset_ms = 0
        self._last_sync_ns: int | None = None
        self._last_forced_sync_ns = -(10**18)
        self._resync: asyncio.Task[None] | None = None
        self._info: InstrumentInfo | None = None
        self.spec: InstrumentSpec | None = None
        self.book: Book | None = None
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._ws_api: _WsApi | None = None
        self._order_ids: dict[int, str] = {}  # venue order id -> client order id
        self._resting: set[str] = set()  # our orders the venue holds open (for the dead-man switch)
        self._dead_man_armed = False
        self._arming: asyncio.Task[None] | None = None
        self._last_private_ms = 0
        self._listen_key: str | None = None
        self._closing = False

    # ---- plumbing --------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000 + self._offset_ms

    def _on_response(self, resp: HttpResponse) -> None:
        now = self.clock.now_ns()
        for name, value in resp.headers.items():
            if not value.isdigit():
                continue
            if name.startswith("x-mbx-used-weight-"):
                quota, suffix = self._weight, name[len("x-mbx-used-weight-") :]
            elif name.startswith("x-mbx-order-count-") and self._orders_quota is not None:
                quota, suffix = self._orders_quota, name[len("x-mbx-order-count-") :]
            else:
                continue
            interval = _usage_interval_ns(suffix)
            if interval is not None:
                with contextlib.suppress(VenueError, ValueError):
                    self._limiter.observe_usage(quota, interval, int(value), now)

    def _observe_ws_limits(self, limits: object) -> None:
        """The WebSocket API's `rateLimits` (usage per window) folded into the local quotas."""
        if not isinstance(limits, list):
            return
        now = self.clock.now_ns()
        for rl in limits:
            try:
                kind = rl["rateLimitType"]
                interval = _INTERVALS_NS[rl["interval"]] * int(rl["intervalNum"])
                count = int(rl["count"])
            except (KeyError, TypeError, ValueError):
                continue
            quota = (
                self._weight if kind == "REQUEST_WEIGHT" else self._orders_quota if kind == "ORDERS" else None
            )
            if quota is not None:
                with contextlib.suppress(VenueError, ValueError):
                    self._limiter.observe_usage(quota, interval, count, now)

    def _ban(self, until_ns: int | None) -> None:
        """A 418 on the WebSocket API: block every request locally until the ban ends."""
        until = until_ns if until_ns is not None else self.clock.now_ns() + 120_000_000_000
        self._limiter.block_until(self._weight, until)
        if self._orders_quota is not None:
            self._limiter.block_until(self._orders_quota, until)

    async def _public(self, path: str, query: str = "", cost: int = 1) -> Any:
        resp = await self._http.request("GET", path, query=query, mutating=False, cost=cost)
        return orjson.loads(resp.body)

    async def _signed(
        self,
        method: str,
        path: str,
        params: _Params,
        *,
        mutating: bool,
        cost: int = 1,
        priority: bool = False,
    ) -> Any:
        req = self._signer.sign(method, path, params, self._now_ms(), self._recv_window)
        try:
            resp = await self._http.request(
                method,
                req.path,
                query=req.query,
                headers=dict(req.headers),
                mutating=mutating,
                cost=cost,
                priority=priority,
            )
        except AuthenticationError as e:
            if e.code == "-1021":
                self._schedule_resync()
            raise
        return orjson.loads(resp.body)

    async def _ws_call(self, method: str, params: _Params, *, mutating: bool) -> dict[str, Any]:
        if self._ws_api is None:
            raise VenueUnavailableError("websocket API not started", venue=self.venue)
        signed = self._signer.ws_params(params, self._now_ms(), self._recv_window)
        try:
            return await self._ws_api.request(method, signed, mutating=mutating, timeout_s=self._timeout_s)
        except AuthenticationError as e:
            if e.code == "-1021":
                self._schedule_resync()
            raise

    def _scope(self) -> _Params:
        """Parameters every request about our symbol carries (margin: the isolated flag)."""
        p: _Params = [("symbol", self.symbol)]
        if self.market is Market.MARGIN and self._isolated:
            p.append(("isIsolated", "TRUE"))
        return p

    async def sync_time(self) -> int:
        """Measure the offset to the server clock (ms, half the round trip assumed each way)."""
        t0 = self.clock.now_ns()
        server = (await self._public(self._api.time))["serverTime"]
        t1 = self.clock.now_ns()
        self._offset_ms = int(server) - (t0 + t1) // 2_000_000
        self._last_sync_ns = self.clock.monotonic_ns()
        return self._offset_ms

    def _schedule_resync(self) -> None:
        """-1021: resync the clock once, however many requests failed with it: one resync in flight,
        and at most one a second."""
        if self._resync is not None and not self._resync.done():
            return
        now = self.clock.monotonic_ns()
        if now - self._last_forced_sync_ns < 1_000_000_000:
            return
        self._last_forced_sync_ns = now
        self._resync = asyncio.get_running_loop().create_task(self._resync_quietly())

    async def _resync_quietly(self) -> None:
        try:
            await self.sync_time()
        except VenueError as e:
            log.warning("%s: clock resync failed: %s", self.venue, e)

    def closing(self) -> bool:
        """`close()` has begun: no new connections."""
        return self._closing

    @property
    def clock_offset_ms(self) -> int:
        return self._offset_ms

    # ---- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.sync_time()
        await self._exchange_info()
        if self.market is Market.FUTURES:
            await self._configure_futures()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._housekeeping())]
        if self._market_data:
            self._tasks.append(loop.create_task(self._market_data_stream()))
        if self._market_streams:
            self._tasks.append(loop.create_task(self._ticks()))
        if self.market is Market.FUTURES:
            if self._private_stream:
                self._tasks.append(loop.create_task(self._futures_private()))
            if self._order_entry == "ws":
                self._ws_api = _WsApi(self, self.endpoints.futures_ws_api)
        elif self._private_stream:
            self._ws_api = _WsApi(
                self, self.endpoints.ws_api, on_connect=self._subscribe, on_event=self._event
            )
        elif self._order_entry == "ws":
            self._ws_api = _WsApi(self, self.endpoints.ws_api)
        if self._ws_api is not None:
            self._clients.append(self._ws_api.ws)
            self._tasks.append(loop.create_task(self._ws_api.run()))
            if self._order_entry == "ws":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ws_api._ready.wait(), self._timeout_s)

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        """The instrument's rules and its current mid, by REST only (before `connect`, to size a
        strategy)."""
        await self._exchange_info()
        depth = await self._public(
            self._api.depth, f"symbol={self.symbol}&limit=5", cost=self._api.depth_weight
        )
        bid, ask = Decimal(depth["bids"][0][0]), Decimal(depth["asks"][0][0])
        assert self._info is not None
        return self._info, (bid + ask) / 2

    async def _exchange_info(self) -> None:
        info = await self._public(
            self._api.exchange_info, f"symbol={self.symbol}", cost=self._api.exchange_info_weight
        )
        self._load_info(info)

    def _load_info(self, info: dict[str, Any]) -> None:
        windows: dict[str, list[Window]] = {}
        for rl in info.get("rateLimits", []):
            interval = _INTERVALS_NS[rl["interval"]] * int(rl["intervalNum"])
            limit = max(1, int(int(rl["limit"]) * self._budget))
            windows.setdefault(rl["rateLimitType"], []).append(Window(limit, interval))
        if windows.get("REQUEST_WEIGHT"):
            with contextlib.suppress(VenueError, ValueError):
                self._weight = self._limiter.add_quota("weight", windows["REQUEST_WEIGHT"])
                self._http.set_quota(self._weight)
        if windows.get("ORDERS") and self._orders_quota is None:
            self._orders_quota = self._limiter.add_quota("orders", windows["ORDERS"])
        sym = next((s for s in info.get("symbols", []) if s["symbol"] == self.symbol), None)
        if sym is None:
            raise InvalidOrderError(f"unknown symbol {self.symbol}", venue=self.venue, code="-1121")
        f = {x["filterType"]: x for x in sym["filters"]}
        n = f.get("NOTIONAL", f.get("MIN_NOTIONAL", {}))
        notional = n.get("minNotional", n.get("notional", "0"))
        pct = f.get("PERCENT_PRICE_BY_SIDE") or f.get("PERCENT_PRICE") or {}
        up = pct.get("multiplierUp", pct.get("bidMultiplierUp", ""))
        down = pct.get("multiplierDown", pct.get("askMultiplierDown", ""))

        def norm(x: str) -> str:
            return Decimal(x).normalize().to_eng_string() if x else ""

        self._info = InstrumentInfo(
            self.symbol,
            sym["baseAsset"],
            sym["quoteAsset"],
            norm(f["PRICE_FILTER"]["tickSize"]),
            norm(f["LOT_SIZE"]["stepSize"]),
            norm(f["LOT_SIZE"]["minQty"]),
            norm(notional) or "0",
            max_qty=norm(f["LOT_SIZE"].get("maxQty", "")),
            percent_up=norm(up),
            percent_down=norm(down),
        )
        self.spec = self._info.spec()
        self.book = Book(self.spec)

    async def _configure_futures(self) -> None:
        if self._margin_type is not None:
            try:
                await self._signed(
                    "POST",
                    "/fapi/v1/marginType",
                    [("symbol", self.symbol), ("marginType", self._margin_type)],
                    mutating=True,
                )
            except InvalidOrderError as e:
                if e.code != "-4046":  # "No need to change margin type."
                    raise
        if self._leverage is not None:
            await self.set_leverage(self._leverage)

    async def close(self) -> None:
        self._closing = True
        if self._dead_man_armed:
            with contextlib.suppress(VenueError):
                await self._arm_dead_man(0)
        if self._ws_api is not None:
            await self._ws_api.close()
        for c in list(self._clients):
            await c.close()
        for t in [*self._tasks, *(x for x in (self._resync, self._arming) if x is not None)]:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._http.close()

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        if self._info is None or symbol != self.symbol:
            raise InvalidOrderError(f"unknown instrument {symbol}", venue=self.venue, code="-1121")
        return self._info

    def trading_spec(self) -> InstrumentSpec:
        if self.spec is None:
            raise VenueError("not connected", venue=self.venue)
        return self.spec

    def rate_usage(self) -> dict[str, list[tuple[int, int, int]]]:
        """Per local quota: (interval_ns, used, limit) of each window (limits are the budget)."""
        now = self.clock.now_ns()
        out = {"weight": self._limiter.usage(self._weight, now)}
        if self._orders_quota is not None:
            out["orders"] = self._limiter.usage(self._orders_quota, now)
        return out

    # ---- orders ----------------------------------------------------------------------------------

    def order_params(self, approval: Approval, client_id: str) -> _Params:
        """The venue parameters of one approved order (without timestamp and signature)."""
        a = require_approval(approval)
        spec = self.trading_spec()
        futures = self.market is Market.FUTURES
        params = self._scope()
        params.append(("side", "BUY" if a.side == Side.BUY else "SELL"))
        if a.order_type == OrderType.MARKET:
            params.append(("type", "MARKET"))
        elif a.post_only and not futures:
            params += [("type", "LIMIT_MAKER"), ("price", spec.format_price(a.price))]
        else:
            tif = "GTX" if a.post_only else {TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}.get(a.tif, "GTC")
            params += [("type", "LIMIT"), ("timeInForce", tif), ("price", spec.format_price(a.price))]
        params += [
            ("quantity", spec.format_qty(a.qty)),
            ("newClientOrderId", client_id),
            ("newOrderRespType", "ACK"),
            ("selfTradePreventionMode", self._stp),
        ]
        if futures and a.reduce_only:
            params.append(("reduceOnly", "true"))
        if self.market is Market.MARGIN:
            params.append(("sideEffectType", self._side_effect))
        return params

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        if instrument != self.symbol:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue, code="-1121")
        params = self.order_params(approval, client_id)
        if self._orders_quota is not None:
            retry = self._limiter.try_acquire(self._orders_quota, 1, self.clock.now_ns())
            if retry is not None:
                raise RateLimitError(
                    "order rate limit (local)", venue=self.venue, code="local", retry_after_ns=retry
                )
        if self._order_entry == "ws":
            body = await self._ws_call("order.place", params, mutating=True)
        else:
            body = await self._signed("POST", self._api.order, params, mutating=True)
        venue_id = int(body["orderId"])
        self._order_ids[venue_id] = client_id
        self._resting.add(client_id)
        if self.market is Market.FUTURES and not self._dead_man_armed and self._arming is None:
            self._arming = asyncio.get_running_loop().create_task(self._arm_first())
        return SubmitAck(client_id, str(venue_id))

    async def _arm_first(self) -> None:
        """The first resting order arms the dead-man switch at once (then `_housekeeping` refreshes it)."""
        try:
            await self._arm_dead_man(self._dead_man_ms)
        except VenueError as e:
            log.warning("%s: dead-man switch: %s", self.venue, e)
        finally:
            self._arming = None

    async def cancel(self, client_id: str) -> None:
        params = [*self._scope(), ("origClientOrderId", client_id)]
        if self._order_entry == "ws":
            await self._ws_call("order.cancel", params, mutating=True)
        else:
            await self._signed("DELETE", self._api.order, params, mutating=True, priority=True)
        self._resting.discard(client_id)

    async def cancel_all(self, instrument: str | None = None) -> int:
        params = self._scope()
        if instrument is not None and instrument != self.symbol:
            params[0] = ("symbol", instrument)
        open_before = 0
        if self.market is Market.FUTURES:  # its answer is only {"code": 200, "msg": ...}: count first
            open_before = len(
                await self._signed("GET", self._api.open_orders, params, mutating=False, priority=True)
            )
        try:
            body = await self._signed("DELETE", self._api.cancel_all, params, mutating=True, priority=True)
        except OrderNotFoundError:
            return 0  # -2011: nothing was open
        self._resting.clear()
        return len(body) if isinstance(body, list) else open_before

    def _report(self, o: dict[str, Any]) -> OrderReport:
        spec = self.trading_spec()
        cid = str(o["clientOrderId"])
        self._order_ids[int(o["orderId"])] = cid
        state = _STATES[o["status"]]
        if state is OrderState.OPEN:
            self._resting.add(cid)
        else:
            self._resting.discard(cid)
        return OrderReport(
            cid,
            str(o["orderId"]),
            str(o["symbol"]),
            _side(o["side"]),
            spec.price_to_units(o["price"]) if Decimal(o["price"]) else 0,
            spec.qty_to_units(o["origQty"]),
            spec.qty_to_units(o["executedQty"]),
            state,
        )

    async def query(self, client_id: str) -> OrderReport | None:
        params = [*self._scope(), ("origClientOrderId", client_id)]
        try:
            if self._order_entry == "ws":
                body = await self._ws_call("order.status", params, mutating=False)
            else:
                body = await self._signed(
                    "GET", self._api.order, params, mutating=False, cost=self._api.query_weight
                )
        except OrderNotFoundError:
            return None
        return self._report(body)

    async def open_orders(self) -> list[OrderReport]:
        body = await self._signed(
            "GET", self._api.open_orders, self._scope(), mutating=False, cost=self._api.open_orders_weight
        )
        return [self._report(o) for o in body]

    async def _client_id(self, order_id: int) -> str:
        cid = self._order_ids.get(order_id)
        if cid is None:
            params = [*self._scope(), ("orderId", order_id)]
            body = await self._signed(
                "GET", self._api.order, params, mutating=False, cost=self._api.query_weight
            )
            cid = self._report(body).client_id
        return cid

    def _base_fee(self, commission: str, asset: str) -> Decimal:
        """The commission when the venue took it from the base asset (a spot buyer without BNB)."""
        if self.market is not Market.FUTURES and self._info is not None and asset == self._info.base:
            return Decimal(commission)
        return Decimal(0)

    def _fee_in_quote(self, commission: str, asset: str, price: int) -> Decimal:
        fee = Decimal(commission)
        if self._info is not None and asset == self._info.base:
            return fee * Decimal(self.trading_spec().format_price(price))
        return fee

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        spec = self.trading_spec()
        out: list[FillReport] = []
        from_id: int | None = None
        while True:
            params = [*self._scope(), ("limit", 1000)]
            params.append(("fromId", from_id) if from_id is not None else ("startTime", ts_ns // 1_000_000))
            page = await self._signed(
                "GET", self._api.trades, params, mutating=False, cost=self._api.trades_weight
            )
            for t in page:
                price = spec.price_to_units(t["price"])
                buyer = t["isBuyer"] if "isBuyer" in t else t["buyer"]
                maker = t["isMaker"] if "isMaker" in t else t["maker"]
                out.append(
                    FillReport(
                        await self._client_id(int(t["orderId"])),
                        str(t["id"]),
                        self.symbol,
                        Side.BUY if buyer else Side.SELL,
                        price,
                        spec.qty_to_units(t["qty"]),
                        self._fee_in_quote(t["commission"], t["commissionAsset"], price),
                        int(t["time"]) * 1_000_000,
                        bool(maker),
                        self._base_fee(t["commission"], t["commissionAsset"]),
                        ts_recv=self.clock.now_ns(),
                    )
                )
            if len(page) < 1000:
                return out
            from_id = int(page[-1]["id"]) + 1

    # ---- account ---------------------------------------------------------------------------------

    async def balances(self) -> dict[str, Decimal]:
        """Per asset: spot free + locked; futures wallet balance; margin net asset (free + locked -
        borrowed - interest)."""
        if self.market is Market.FUTURES:
            body = await self._signed("GET", "/fapi/v3/balance", [], mutating=False, cost=5)
            return {b["asset"]: Decimal(b["balance"]) for b in body}
        if self.market is Market.MARGIN:
            return {a: Decimal(v["netAsset"]) for a, v in (await self._margin_assets()).items()}
        body = await self._signed("GET", "/api/v3/account", [], mutating=False, cost=20)
        return {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in body["balances"]}

    async def _margin_assets(self) -> dict[str, dict[str, str]]:
        if self._isolated:
            body = await self._signed(
                "GET", "/sapi/v1/margin/isolated/account", [("symbols", self.symbol)], mutating=False, cost=10
            )
            out: dict[str, dict[str, str]] = {}
            for a in body.get("assets", []):
                if a.get("symbol") == self.symbol:
                    for leg in ("baseAsset", "quoteAsset"):
                        out[a[leg]["asset"]] = a[leg]
            return out
        body = await self._signed("GET", "/sapi/v1/margin/account", [], mutating=False, cost=10)
        return {a["asset"]: a for a in body["userAssets"]}

    async def positions(self) -> dict[str, int]:
        spec = self.trading_spec()
        if self.market is Market.FUTURES:
            body = await self._signed(
                "GET", "/fapi/v3/positionRisk", [("symbol", self.symbol)], mutating=False, cost=5
            )
            total = sum((Decimal(p["positionAmt"]) for p in body if p["symbol"] == self.symbol), Decimal(0))
        else:
            info = await self.instrument_info(self.symbol)
            total = (await self.balances()).get(info.base, Decimal(0))
        units = spec.qty_to_units(str(abs(total).quantize(Decimal(spec.qty_unit))))
        return {self.symbol: -units if total < 0 else units}

    async def set_leverage(self, leverage: int) -> int:
        """Futures: the symbol's initial leverage (POST /fapi/v1/leverage)."""
        self._require(Market.FUTURES, "leverage")
        body = await self._signed(
            "POST", "/fapi/v1/leverage", [("symbol", self.symbol), ("leverage", leverage)], mutating=True
        )
        return int(body["leverage"])

    async def set_margin_type(self, margin_type: str) -> None:
        """Futures: CROSSED or ISOLATED for the symbol (already set is not an error)."""
        self._require(Market.FUTURES, "margin type")
        self._margin_type = margin_type
        await self._configure_futures()

    async def futures_position(self) -> dict[str, Any]:
        """Futures: the venue's position record for the symbol (positionAmt, entryPrice, ...)."""
        self._require(Market.FUTURES, "positions")
        body = await self._signed(
            "GET", "/fapi/v3/positionRisk", [("symbol", self.symbol)], mutating=False, cost=5
        )
        return next(
            (p for p in body if p["symbol"] == self.symbol), {"symbol": self.symbol, "positionAmt": "0"}
        )

    async def borrow(self, asset: str, amount: Decimal) -> int:
        """Margin: borrow `amount` of `asset`; returns the transaction id."""
        return await self._borrow_repay("BORROW", asset, amount)

    async def repay(self, asset: str, amount: Decimal) -> int:
        """Margin: repay `amount` of `asset`; returns the transaction id."""
        return await self._borrow_repay("REPAY", asset, amount)

    async def _borrow_repay(self, kind: str, asset: str, amount: Decimal) -> int:
        self._require(Market.MARGIN, kind.lower())
        if not amount.is_finite() or amount <= 0:
            raise InvalidOrderError(f"{kind.lower()} amount must be > 0", venue=self.venue)
        params: _Params = [
            ("asset", asset),
            ("isIsolated", "TRUE" if self._isolated else "FALSE"),
            ("symbol", self.symbol),
            ("amount", format(amount, "f")),
            ("type", kind),
        ]
        body = await self._signed("POST", "/sapi/v1/margin/borrow-repay", params, mutating=True, cost=1500)
        return int(body["tranId"])

    async def margin_level(self) -> Decimal:
        """Margin: the account's margin level (total assets / total liabilities; high when nothing is
        borrowed)."""
        self._require(Market.MARGIN, "margin level")
        if self._isolated:
            body = await self._signed(
                "GET", "/sapi/v1/margin/isolated/account", [("symbols", self.symbol)], mutating=False, cost=10
            )
            return Decimal(next(a for a in body["assets"] if a["symbol"] == self.symbol)["marginLevel"])
        body = await self._signed("GET", "/sapi/v1/margin/account", [], mutating=False, cost=10)
        return Decimal(body["marginLevel"])

    def _require(self, market: Market, what: str) -> None:
        if self.market is not market:
            raise InvalidOrderError(
                f"{what} is a {market} feature; this connector trades {self.market}", venue=self.venue
            )

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    # ---- market data -----------------------------------------------------------------------------

    def _stream_url(self, streams: str, route: str) -> str:
        if self.market is Market.FUTURES:
            return f"{self.endpoints.futures_stream.rstrip('/')}/{route}/ws/{streams}"
        return f"{self.endpoints.stream.rstrip('/')}/ws/{streams}"

    async def _market_data_stream(self) -> None:
        url = self._stream_url(f"{self.symbol.lower()}@depth@100ms", "public")
        ws = WsClient(self.venue, url, clock=self.clock, stale_after_s=self._stale_after_s)
        self._clients.append(ws)
        buffered: list[WsMessage] | None = None
        snapshot: asyncio.Task[bytes] | None = None
        book = self.book
        if book is None:
            return
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                buffered, snapshot = [], asyncio.get_running_loop().create_task(self._snapshot())
                continue
            if isinstance(ev, WsDisconnected | WsStale):
                book.begin_resync()
                self._queue.put_nowait(BookInvalid(self.symbol, type(ev).__name__))
                buffered = None
                continue
            if buffered is not None:
                buffered.append(ev)
                if snapshot is None or not snapshot.done():
                    continue
                try:
                    book.apply_binance_snapshot(snapshot.result())
                except (VenueError, ParseError) as e:
                    log.warning("%s: depth snapshot unusable: %s", self.venue, e)
                    await self.clock.sleep(1.0)
                    buffered, snapshot = [], asyncio.get_running_loop().create_task(self._snapshot())
                    continue
                pending, buffered = buffered, None
                for m in pending:
                    if not self._apply(book, m):
                        buffered, snapshot = [], asyncio.get_running_loop().create_task(self._snapshot())
                        break
                continue
            if not self._apply(book, ev):
                buffered, snapshot = [], asyncio.get_running_loop().create_task(self._snapshot())

    async def _snapshot(self) -> bytes:
        """The REST depth snapshot; failures are retried here with backoff (one request in flight,
        never a storm), waiting out a local rate limit instead of spinning on it."""
        delay = 0.2
        while True:
            try:
                resp = await self._http.request(
                    "GET",
                    self._api.depth,
                    query=f"symbol={self.symbol}&limit={self._api.depth_limit}",
                    mutating=False,
                    cost=self._api.depth_weight,
                )
                return resp.body
            except RateLimitError as e:
                wait = (e.retry_after_ns - self.clock.now_ns()) / 1e9 if e.retry_after_ns else delay
                log.warning("%s: depth snapshot deferred %.1f s: %s", self.venue, wait, e)
                await self.clock.sleep(max(wait, delay))
            except VenueError as e:
                log.warning("%s: depth snapshot failed: %s", self.venue, e)
                await self.clock.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _apply(self, book: Book, m: WsMessage) -> bool:
        """Apply one diff; False when the book must be rebuilt (a gap)."""
        try:
            if not book.apply_binance_depth(m.data):
                return True  # older than the snapshot
        except (SequenceGapError, BookNotReadyError) as e:
            self._queue.put_nowait(BookInvalid(self.symbol, f"sequence: {e}"))
            book.begin_resync()
            return False
        except ParseError as e:
            log.warning("malformed depth message skipped: %s", e)
            return True
        bid, ask = book.best_bid(), book.best_ask()
        self._queue.put_nowait(
            BookUpdate(
                self.symbol,
                bid[0] if bid else None,
                bid[1] if bid else 0,
                ask[0] if ask else None,
                ask[1] if ask else 0,
                self.clock.now_ns(),  # depth diffs carry E; the top of book is as of our read
                m.ts_recv,
            )
        )
        return True

    async def _ticks(self) -> None:
        """Trades and the book ticker (`TradeTick`, `Quote`); informational, the book is the depth."""
        sym = self.symbol.lower()
        if self.market is Market.FUTURES:
            trade = "aggTrade"
            url = f"{self.endpoints.futures_stream.rstrip('/')}/market/stream?streams={sym}@aggTrade"
            ticker_url = self._stream_url(f"{sym}@bookTicker", "public")
        else:
            trade = "trade"
            url = f"{self.endpoints.stream.rstrip('/')}/stream?streams={sym}@trade/{sym}@bookTicker"
            ticker_url = None
        await asyncio.gather(
            self._tick_stream(url, trade),
            *([self._tick_stream(ticker_url, trade)] if ticker_url else []),
        )

    async def _tick_stream(self, url: str, trade: str) -> None:
        ws = WsClient(self.venue, url, clock=self.clock, stale_after_s=3600)
        self._clients.append(ws)
        async for ev in ws.events():
            if not isinstance(ev, WsMessage) or self.spec is None:
                continue
            try:
                msg = orjson.loads(ev.data)
                d = msg.get("data", msg)
                spec = self.spec
                if d.get("e") == trade:
                    self._queue.put_nowait(
                        TradeTick(
                            self.symbol,
                            spec.price_to_units(d["p"]),
                            spec.qty_to_units(d["q"]),
                            Side.SELL if d["m"] else Side.BUY,
                            int(d["T"]) * 1_000_000,
                            ts_recv=ev.ts_recv,
                        )
                    )
                elif "b" in d and "a" in d and "B" in d:
                    self._queue.put_nowait(
                        Quote(
                            self.symbol,
                            spec.price_to_units(d["b"]),
                            spec.qty_to_units(d["B"]),
                            spec.price_to_units(d["a"]),
                            spec.qty_to_units(d["A"]),
                            int(d.get("E") or d.get("T") or 0) * 1_000_000,
                            ev.ts_recv,
                        )
                    )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
                log.warning("malformed market message skipped: %s", type(e).__name__)

    # ---- private streams -------------------------------------------------------------------------

    async def _subscribe(self, api: _WsApi, attempt: int) -> None:
        """On every WebSocket API connect: subscribe to the account's events, then catch up."""
        if self.market is Market.MARGIN:
            params: _Params = [("validity", 86_400_000)]
            if self._isolated:
                params = [("symbol", self.symbol), ("isIsolated", "TRUE"), *params]
            token = (await self._signed("POST", "/sapi/v1/userListenToken", params, mutating=False))["token"]
            req = orjson.dumps({"listenToken": token}).decode()
            await api.request(
                "userDataStream.subscribe.listenToken", req, mutating=False, timeout_s=self._timeout_s
            )
        else:
            signed = self._signer.ws_params([], self._now_ms(), None)
            await api.request(
                "userDataStream.subscribe.signature", signed, mutating=False, timeout_s=self._timeout_s
            )
        if attempt > 1:
            await self._catch_up()

    async def _catch_up(self) -> None:
        """After a private stream reconnect: what happened while it was down, by REST."""
        try:
            for r in await self.open_orders():
                self._queue.put_nowait(r)
            for f in await self.fills_since(max(0, self._last_private_ms - 60_000) * 1_000_000):
                self._queue.put_nowait(f)
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)

    async def _event(self, e: dict[str, Any]) -> None:
        try:
            if e.get("e") == "executionReport":
                self._execution(e)
            elif e.get("e") == "ORDER_TRADE_UPDATE":
                self._last_private_ms = int(e.get("E", 0))
                self._futures_order(e["o"])
            elif e.get("e") == "listenKeyExpired":
                self._listen_key = None
        except (KeyError, ValueError, TypeError, VenueError) as err:
            log.warning("malformed private event skipped: %s", type(err).__name__)

    async def _futures_private(self) -> None:
        """The futures user-data stream of a listen key (kept alive by `_housekeeping`)."""
        ws: WsClient | None = None
        while not self._closing:
            try:
                self._listen_key = (await self._signed("POST", "/fapi/v1/listenKey", [], mutating=False))[
                    "listenKey"
                ]
            except VenueError as e:
                log.warning("%s: listen key: %s", self.venue, e)
                await self.clock.sleep(1.0)
                continue
            root = self.endpoints.futures_stream.rstrip("/")
            url = f"{root}/private/ws?listenKey={self._listen_key}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
            ws = WsClient(self.venue, url, clock=self.clock, stale_after_s=3600)
            if self.closing():
                return
            self._clients.append(ws)
            async for ev in ws.events():
                if isinstance(ev, WsConnected):
                    if ev.attempt > 1:
                        await self._catch_up()
                    continue
                if not isinstance(ev, WsMessage):
                    continue
                try:
                    msg = orjson.loads(ev.data)
                except orjson.JSONDecodeError:
                    log.warning("malformed private message skipped")
                    continue
                await self._event(msg.get("data", msg))
                if self._listen_key is None:  # expired: new key, new connection
                    break
            await ws.close()
            self._clients.remove(ws)
            if not self._closing:
                await self._catch_up()

    def _execution(self, e: dict[str, Any]) -> None:
        """Spot/margin `executionReport`."""
        self._last_private_ms = int(e.get("E", 0))
        cid = e["C"] if e["x"] == "CANCELED" and e.get("C") else e["c"]
        self._emit(cid, e, str(e.get("r", "NONE")))

    def _futures_order(self, o: dict[str, Any]) -> None:
        """The `o` of a futures `ORDER_TRADE_UPDATE`: the same fields as an executionReport."""
        self._emit(o["c"], o, "")

    def _emit(self, cid: str, e: dict[str, Any], reason: str) -> None:
        """An order update as `FillReport` (on a trade) and `OrderReport`."""
        spec = self.trading_spec()
        x, fee, fee_asset = e["x"], e.get("n") or "0", e.get("N") or ""
        price = spec.price_to_units(e["p"]) if Decimal(e["p"]) else 0
        self._order_ids[int(e["i"])] = cid
        side = _side(e["S"])
        if x == "TRADE":
            fill_price = spec.price_to_units(e["L"])
            self._queue.put_nowait(
                FillReport(
                    cid,
                    str(e["t"]),
                    e["s"],
                    side,
                    fill_price,
                    spec.qty_to_units(e["l"]),
                    self._fee_in_quote(fee, fee_asset, fill_price),
                    int(e["T"]) * 1_000_000,
                    bool(e["m"]),
                    self._base_fee(fee, fee_asset),
                    ts_recv=self.clock.now_ns(),
                )
            )
        state = _STATES.get(e["X"])
        if state is None:
            return
        if state is OrderState.OPEN:
            self._resting.add(cid)
        else:
            self._resting.discard(cid)
        self._queue.put_nowait(
            OrderReport(
                cid,
                str(e["i"]),
                e["s"],
                side,
                price,
                spec.qty_to_units(e["q"]),
                spec.qty_to_units(e["z"]),
                state,
                reason if state in (OrderState.REJECTED, OrderState.EXPIRED) and reason != "NONE" else "",
            )
        )

    # ---- housekeeping ----------------------------------------------------------------------------

    async def _arm_dead_man(self, countdown_ms: int) -> None:
        await self._signed(
            "POST",
            "/fapi/v1/countdownCancelAll",
            [("symbol", self.symbol), ("countdownTime", countdown_ms)],
            mutating=False,
            cost=10,
            priority=True,
        )
        self._dead_man_armed = countdown_ms > 0

    async def _housekeeping(self) -> None:
        """Clock resync, the futures dead-man switch and listen-key keepalive, on their periods."""
        period = self._dead_man_refresh_s if self.market is Market.FUTURES else self._time_resync_s
        last_keepalive = self.clock.monotonic_ns()
        while True:
            await self.clock.sleep(period)
            now = self.clock.monotonic_ns()
            try:
                if self._last_sync_ns is None or now - self._last_sync_ns >= self._time_resync_s * 1e9:
                    await self.sync_time()
                if self.market is Market.FUTURES:
                    if self._resting:
                        await self._arm_dead_man(self._dead_man_ms)
                    elif self._dead_man_armed:
                        await self._arm_dead_man(0)
                    if self._listen_key is not None and now - last_keepalive >= 1_800_000_000_000:
                        await self._signed("PUT", "/fapi/v1/listenKey", [], mutating=False)
                        last_keepalive = now
            except VenueError as e:
                log.warning("%s: housekeeping: %s", self.venue, e)

    async def arm_dead_man_now(self) -> None:
        """Futures: arm (or refresh) the dead-man switch immediately if orders rest, else disarm it."""
        self._require(Market.FUTURES, "dead-man switch")
        await self._arm_dead_man(self._dead_man_ms if self._resting else 0)


def _usage_interval_ns(suffix: str) -> int | None:
    """`1M` -> one minute, `10S` -> ten seconds (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S)."""
    num, unit = suffix[:-1], suffix[-1:].upper()
    if not num.isdigit() or unit not in _USAGE_UNITS_NS:
        return None
    return int(num) * _USAGE_UNITS_NS[unit]
