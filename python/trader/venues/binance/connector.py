"""Binance spot, USD-M futures and cross/isolated margin: one connector, three markets, one signer.

The built-in `sim` venue speaks the same protocol (`trader.sim.binance`), so this connector trades both:
pointed at a loopback simulator it is the network path of `trader paper`; `endpoints.ENDPOINTS` holds the
real hosts of every environment in one table (binance.md §1).

- Requests are signed in the core (`BinanceSigner`, HMAC or Ed25519 keys); the signed bytes are sent as
  signed. Orders go over REST or, with `order_entry="ws"`, over the WebSocket API on a kept-open
  connection (`wsapi.py`; same signer, same errors, same single-shot rule).
- Every order carries `selfTradePreventionMode`; post-only is `LIMIT_MAKER` on spot/margin and `GTX` on
  futures; margin orders carry `isIsolated` and `sideEffectType`.
- The book, trades, the book ticker and the private events of each market: `streams.py`.
- Rate limits: the quotas of exchangeInfo at 80 % (`budget`), the venue's usage headers folded in, 429
  honours Retry-After and 418 blocks every request locally until the ban ends (`_http`).
- Clock: the server-time offset is measured at connect and every `time_resync_s`; a `-1021` triggers at
  most one resync per second, whatever the number of failing requests.
- Futures: the dead-man switch (`countdownCancelAll`) is armed while our orders rest and refreshed every
  `dead_man_refresh_s`; disarmed when none rest. Leverage and margin type are set at connect if configured.
- A timeout or 5xx on an order raises `UnknownOutcomeError`: the engine asks by client order id; nothing is
  ever resent here.
- Payloads become `trader` types in `parse.py` (pure); error codes in `errors.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson

from trader.clock import Clock
from trader.core import (
    Approval,
    BinanceSigner,
    Book,
    InstrumentSpec,
    OrderType,
    RateLimiter,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import (
    AuthenticationError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._events import EventQueue
from trader.venues._http import HttpClient, HttpResponse
from trader.venues._status import StreamHealth
from trader.venues._ws import WsClient
from trader.venues.base import (
    Capabilities,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)
from trader.venues.binance import parse
from trader.venues.binance.endpoints import (
    APIS,
    DOCUMENTED_WEIGHT,
    FUTURES_BALANCE,
    FUTURES_DEAD_MAN,
    FUTURES_INCOME,
    FUTURES_LEVERAGE,
    FUTURES_LISTEN_KEY,
    FUTURES_MARGIN_TYPE,
    FUTURES_POSITION,
    LISTEN_KEY_KEEPALIVE_NS,
    MARGIN_ACCOUNT,
    MARGIN_BORROW_REPAY,
    MARGIN_ISOLATED_ACCOUNT,
    SIDE_EFFECTS,
    SPOT_ACCOUNT,
    STP_MODES,
    Endpoints,
    Market,
)
from trader.venues.binance.errors import decode_error
from trader.venues.binance.streams import BinanceStreams, Params
from trader.venues.binance.wsapi import WsApi, frame
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.binance")


def capabilities(
    market: Market, ws_orders: bool, venue: str = "binance", tier: Tier = Tier.CRYPTO
) -> Capabilities:
    """What one market of Binance offers (the profile states these per market); `venue`/`tier` name a
    simulator that speaks the protocol (the built-in `sim` venue)."""
    return Capabilities(
        venue=venue,
        tier=tier,
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


def _check_options(
    market: Market, order_entry: str, stp_mode: str, side_effect: str, margin_type: str | None, budget: float
) -> None:
    if order_entry not in ("rest", "ws"):
        raise ValueError(f"order_entry must be rest or ws, not {order_entry!r}")
    if order_entry == "ws" and market is Market.MARGIN:
        raise ValueError("margin orders go over REST: the WebSocket API trades spot and futures only")
    if stp_mode not in STP_MODES:
        raise ValueError(f"unknown self-trade-prevention mode {stp_mode!r}")
    if side_effect not in SIDE_EFFECTS:
        raise ValueError(f"unknown sideEffectType {side_effect!r}")
    if margin_type not in (None, "CROSSED", "ISOLATED"):
        raise ValueError(f"margin_type must be CROSSED or ISOLATED, not {margin_type!r}")
    if not 0 < budget <= 1:
        raise ValueError("budget must be in (0, 1]")


class BinanceConnector(BinanceStreams):
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
        tier: Tier = Tier.CRYPTO,
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
        _check_options(Market(market), order_entry, stp_mode, side_effect, margin_type, budget)
        self.venue = venue
        self.symbol = symbol
        self.market = Market(market)
        self.capabilities = capabilities(self.market, order_entry == "ws", venue, tier)
        self.endpoints = endpoints
        self._api = APIS[self.market]
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
        documented = DOCUMENTED_WEIGHT[self.market]
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
        self._init_state()

    def _init_state(self) -> None:
        """What the connection learns and holds: the clock offset, the rules, the book, tasks, orders."""
        self._offset_ms = 0
        self._last_sync_ns: int | None = None
        self._last_forced_sync_ns = -(10**18)
        self._resync: asyncio.Task[None] | None = None
        self._info: InstrumentInfo | None = None
        self.spec: InstrumentSpec | None = None
        self.book: Book | None = None
        self._queue: asyncio.Queue[VenueEvent] = EventQueue()  # direct to the engine (`_events`)
        self._health = StreamHealth(self._queue, self.clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._ws_api: WsApi | None = None
        self._order_ids: dict[int, str] = {}  # venue order id -> client order id
        self._resting: set[str] = set()  # our orders the venue holds open (for the dead-man switch)
        self._dead_man_armed = False
        self._arming: asyncio.Task[None] | None = None
        self._last_private_ms = 0
        self._private_ready = asyncio.Event()  # the account's events are subscribed (first time)
        self._funding_seen: dict[tuple[str, int, Decimal], None] = {}  # funding told (insertion order)
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
            interval = parse.usage_interval_ns(suffix)
            if interval is not None:
                with contextlib.suppress(VenueError, ValueError):
                    self._limiter.observe_usage(quota, interval, int(value), now)

    def _observe_ws_limits(self, limits: object) -> None:
        """The WebSocket API's `rateLimits` (usage per window) folded into the local quotas."""
        now = self.clock.now_ns()
        for kind, interval, count in parse.ws_usage(limits):
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
        params: Params,
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

    async def _ws_call(self, method: str, params: Params, *, mutating: bool) -> dict[str, Any]:
        if self._ws_api is None:
            raise VenueUnavailableError("websocket API not started", venue=self.venue)
        signed = self._signer.ws_params(params, self._now_ms(), self._recv_window)
        try:
            return await self._ws_api.request(method, signed, mutating=mutating, timeout_s=self._timeout_s)
        except AuthenticationError as e:
            if e.code == "-1021":
                self._schedule_resync()
            raise

    def _scope(self) -> Params:
        """Parameters every request about our symbol carries (margin: the isolated flag)."""
        p: Params = [("symbol", self.symbol)]
        if self.market is Market.MARGIN and self._isolated:
            p.append(("isIsolated", "TRUE"))
        return p

    async def sync_time(self) -> int:
        """Measure the offset to the server clock (ms, half the round trip assumed each way)."""
        t0 = self.clock.now_ns()
        server = parse.server_time_ms(await self._public(self._api.time))
        t1 = self.clock.now_ns()
        self._offset_ms = server - (t0 + t1) // 2_000_000
        self._last_sync_ns = self.clock.monotonic_ns()
        return self._offset_ms

    async def venue_time(self) -> VenueTime:
        """The venue's clock (GET the market's server time; Binance states milliseconds)."""
        server = parse.server_time_ms(await self._public(self._api.time))
        return VenueTime(server * 1_000_000, 1_000_000)

    def _ws_subscribe_params(self) -> str:
        """The signed parameters of `userDataStream.subscribe.signature` (no recvWindow)."""
        return self._signer.ws_params([], self._now_ms(), None)

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
        if self._tasks:
            return  # connected already: a second connect does nothing (the contract)
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
                self._ws_api = WsApi(self, self.endpoints.futures_ws_api)
        elif self._private_stream:
            self._ws_api = WsApi(
                self, self.endpoints.ws_api, on_connect=self._subscribe, on_event=self._event
            )
        elif self._order_entry == "ws":
            self._ws_api = WsApi(self, self.endpoints.ws_api)
        if self._ws_api is not None:
            self._clients.append(self._ws_api.ws)
            self._tasks.append(loop.create_task(self._ws_api.run()))
        await self._streams_ready()

    async def _streams_ready(self) -> None:
        """Wait (up to the timeout) for the WebSocket API of order entry and for the account's events:
        an order sent once `connect` returns has its fills on the stream, none lost before it."""
        if self._ws_api is not None and self._order_entry == "ws":
            with contextlib.suppress(TimeoutError):
                await self._ws_api.wait_ready(self._timeout_s)
        if self._private_stream:
            try:
                await self.clock.wait_for(self._private_ready.wait(), self._timeout_s)
            except TimeoutError:
                log.warning("%s: account events not subscribed yet; fills are caught up later", self.venue)

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        """The instrument's rules and its current mid, by REST only (before `connect`, to size a
        strategy)."""
        await self._exchange_info()
        depth = await self._public(
            self._api.depth, f"symbol={self.symbol}&limit=5", cost=self._api.depth_weight
        )
        assert self._info is not None
        return self._info, parse.mid_price(depth)

    async def _exchange_info(self) -> None:
        info = await self._public(
            self._api.exchange_info, f"symbol={self.symbol}", cost=self._api.exchange_info_weight
        )
        self._load_info(info)

    def _load_info(self, info: dict[str, Any]) -> None:
        windows = parse.rate_limit_windows(info, self._budget)
        if windows.get("REQUEST_WEIGHT"):
            with contextlib.suppress(VenueError, ValueError):
                self._weight = self._limiter.add_quota("weight", windows["REQUEST_WEIGHT"])
                self._http.set_quota(self._weight)
        if windows.get("ORDERS") and self._orders_quota is None:
            self._orders_quota = self._limiter.add_quota("orders", windows["ORDERS"])
        rules = parse.instrument_info(info, self.symbol)
        if rules is None:
            raise InvalidOrderError(f"unknown symbol {self.symbol}", venue=self.venue, code="-1121")
        self._info = rules
        self.spec = rules.spec()
        self.book = Book(self.spec)

    async def _configure_futures(self) -> None:
        if self._margin_type is not None:
            try:
                await self._signed(
                    "POST",
                    FUTURES_MARGIN_TYPE,
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

    def order_params(self, approval: Approval, client_id: str) -> Params:
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

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): nothing sent."""
        params, now_ms = self.order_params(approval, client_id), self._now_ms()
        if self._order_entry == "ws":
            return len(frame(0, "order.place", self._signer.ws_params(params, now_ms, self._recv_window)))
        req = self._signer.sign("POST", self._api.order, params, now_ms, self._recv_window)
        return len(self._http.encode("POST", req.path, query=req.query, headers=dict(req.headers)))

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

    def _report(self, o: dict[str, Any], ts_recv: int) -> OrderReport:
        """An order answer read at `ts_recv` (our clock)."""
        r = parse.order_report(o, self.trading_spec(), ts_recv)
        self._order_ids[int(r.venue_order_id)] = r.client_id
        if r.state is OrderState.OPEN:
            self._resting.add(r.client_id)
        else:
            self._resting.discard(r.client_id)
        return r

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
        return self._report(body, self.clock.now_ns())

    async def open_orders(self) -> list[OrderReport]:
        body = await self._signed(
            "GET", self._api.open_orders, self._scope(), mutating=False, cost=self._api.open_orders_weight
        )
        now = self.clock.now_ns()
        return [self._report(o, now) for o in body]

    async def _client_id(self, order_id: int) -> str:
        cid = self._order_ids.get(order_id)
        if cid is None:
            params = [*self._scope(), ("orderId", order_id)]
            body = await self._signed(
                "GET", self._api.order, params, mutating=False, cost=self._api.query_weight
            )
            cid = self._report(body, self.clock.now_ns()).client_id
        return cid

    def _fees(self) -> parse.Fees:
        """How this market's commissions are read (a base-asset fee is withheld on spot and margin)."""
        base = self._info.base if self._info is not None else ""
        return parse.Fees(base, withheld=self.market is not Market.FUTURES)

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        spec, fees = self.trading_spec(), self._fees()
        out: list[FillReport] = []
        from_id: int | None = None
        while True:
            params = [*self._scope(), ("limit", 1000)]
            params.append(("fromId", from_id) if from_id is not None else ("startTime", ts_ns // 1_000_000))
            page = await self._signed(
                "GET", self._api.trades, params, mutating=False, cost=self._api.trades_weight
            )
            for t in page:
                cid = await self._client_id(int(t["orderId"]))
                out.append(
                    parse.my_trade(
                        t, spec, fees, client_id=cid, symbol=self.symbol, ts_recv=self.clock.now_ns()
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
            path, cost = FUTURES_BALANCE
            return parse.futures_balances(await self._signed("GET", path, [], mutating=False, cost=cost))
        if self.market is Market.MARGIN:
            return {a: Decimal(v["netAsset"]) for a, v in (await self._margin_assets()).items()}
        path, cost = SPOT_ACCOUNT
        return parse.spot_balances(await self._signed("GET", path, [], mutating=False, cost=cost))

    async def _margin_assets(self) -> dict[str, dict[str, Any]]:
        if self._isolated:
            path, cost = MARGIN_ISOLATED_ACCOUNT
            body = await self._signed("GET", path, [("symbols", self.symbol)], mutating=False, cost=cost)
            return parse.margin_assets(body, self.symbol)
        path, cost = MARGIN_ACCOUNT
        return parse.margin_assets(await self._signed("GET", path, [], mutating=False, cost=cost), None)

    async def positions(self) -> dict[str, int]:
        spec = self.trading_spec()
        if self.market is Market.FUTURES:
            total = parse.futures_position_amount(await self._position_risk(), self.symbol)
        else:
            info = await self.instrument_info(self.symbol)
            total = (await self.balances()).get(info.base, Decimal(0))
        return {self.symbol: parse.position_units(total, spec)}

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """Futures: the funding paid or received on this symbol at or after `ts_ns` (the venue's time), from
        the income history (restart reconciliation; each with its `tranId`). Spot and margin hold no
        perpetual: none."""
        if self.market is not Market.FUTURES:
            return []
        path, cost = FUTURES_INCOME
        out: dict[str, FundingPayment] = {}
        start = ts_ns // 1_000_000
        base: Params = [("symbol", self.symbol), ("incomeType", "FUNDING_FEE"), ("limit", 1000)]
        while True:
            page = await self._signed("GET", path, [*base, ("startTime", start)], mutating=False, cost=cost)
            for row in page:
                p = parse.funding_income(row, ts_recv=self.clock.now_ns())
                out.setdefault(p.funding_id, p)
            if len(page) < 1000 or int(page[-1]["time"]) <= start:
                return sorted(out.values(), key=lambda p: (p.ts_event, p.funding_id))
            start = int(page[-1]["time"])  # inclusive: a row at that millisecond is not lost (deduplicated)

    async def _position_risk(self) -> list[dict[str, Any]]:
        path, cost = FUTURES_POSITION
        return await self._signed("GET", path, [("symbol", self.symbol)], mutating=False, cost=cost)  # type: ignore[no-any-return]

    async def set_leverage(self, leverage: int) -> int:
        """Futures: the symbol's initial leverage (POST /fapi/v1/leverage)."""
        self._require(Market.FUTURES, "leverage")
        body = await self._signed(
            "POST", FUTURES_LEVERAGE, [("symbol", self.symbol), ("leverage", leverage)], mutating=True
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
        body = await self._position_risk()
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
        params: Params = [("asset", asset), ("isIsolated", "TRUE" if self._isolated else "FALSE")]
        params += [("symbol", self.symbol), ("amount", format(amount, "f")), ("type", kind)]
        path, cost = MARGIN_BORROW_REPAY
        body = await self._signed("POST", path, params, mutating=True, cost=cost)
        return int(body["tranId"])

    async def margin_level(self) -> Decimal:
        """Margin: the account's margin level (total assets / total liabilities; high when nothing is
        borrowed)."""
        self._require(Market.MARGIN, "margin level")
        if self._isolated:
            path, cost = MARGIN_ISOLATED_ACCOUNT
            body = await self._signed("GET", path, [("symbols", self.symbol)], mutating=False, cost=cost)
            return Decimal(next(a for a in body["assets"] if a["symbol"] == self.symbol)["marginLevel"])
        path, cost = MARGIN_ACCOUNT
        body = await self._signed("GET", path, [], mutating=False, cost=cost)
        return Decimal(body["marginLevel"])

    def _require(self, market: Market, what: str) -> None:
        if self.market is not market:
            raise InvalidOrderError(
                f"{what} is a {market} feature; this connector trades {self.market}", venue=self.venue
            )

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    # ---- housekeeping ----------------------------------------------------------------------------

    async def _arm_dead_man(self, countdown_ms: int) -> None:
        await self._signed(
            "POST",
            FUTURES_DEAD_MAN[0],
            [("symbol", self.symbol), ("countdownTime", countdown_ms)],
            mutating=False,
            cost=FUTURES_DEAD_MAN[1],
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
                    if self._listen_key is not None and now - last_keepalive >= LISTEN_KEY_KEEPALIVE_NS:
                        await self._signed("PUT", FUTURES_LISTEN_KEY, [], mutating=False)
                        last_keepalive = now
            except VenueError as e:
                log.warning("%s: housekeeping: %s", self.venue, e)

    async def arm_dead_man_now(self) -> None:
        """Futures: arm (or refresh) the dead-man switch immediately if orders rest, else disarm it."""
        self._require(Market.FUTURES, "dead-man switch")
        await self._arm_dead_man(self._dead_man_ms if self._resting else 0)
