"""Bybit v5 (unified account), categories `spot` and `linear` (USDT perpetuals): REST on
`_http.HttpClient`, the public stream on `_ws.WsClient`.

- Linear: quantities in contracts of the qty step (BTCUSDT: 0.001 BTC), one-way mode (`positionIdx` 0),
  reduce-only orders; `positions()` reads `position/list`, `funding_since()` the executions of
  `execType=Funding` (`execFee` > 0 is paid).

- Requests are signed by the core's `BybitSigner` (secrets stay in Rust) and are pybit's: GET params
  sorted into the query (signed unencoded, sent percent-encoded as pybit's transport sends them),
  POST `json.dumps` of the params (`{}` when empty), `X-BAPI-*` headers. Every answer is Bybit's
  envelope; a non-zero `retCode` becomes a typed error through `errors.TABLE`.
- Client ids travel as `orderLinkId` (<= 36 of `[A-Za-z0-9_-]`); `query` looks an order up by it.
- Rate limits: per UID and endpoint, 20 creates/s and 20 cancels/s (spot; one local quota of both at
  `budget`) and 50 reads/s (reads share one local quota: conservative); the `X-Bapi-Limit` /
  `X-Bapi-Limit-Status` headers of order answers are folded into the local limiter, and a spent limit
  (status 0) blocks it until `X-Bapi-Limit-Reset-Timestamp`.
- Market data: `orderbook.50.<symbol>` (parsed from raw bytes by the core's `Book`: snapshot, then
  deltas whose `u` must follow the last one by 1: a gap is a `BookInvalid` and a re-subscription, whose
  snapshot resets the book) and `publicTrade`, each on its own connection. No hop: a frame is parsed,
  applied and handed to the engine in the read that brought it (`PublicStream.on_message`, the events'
  `EventQueue`).
- Private events: pushed on the private WebSocket (`private.PrivateStream`: `order`, `execution`,
  `position`, `wallet`; its `op: auth` signed by the core's `BybitSigner.ws_auth`, checked against
  pybit). REST is the catch-up after a reconnect and a reconciliation every `reconcile_s`; with
  `private_stream=False` it is the whole source, every `poll_s`. Both feed one `private.PrivateLedger`:
  each execution once, and a report that counts fills only after those fills (why: `private.py`). No
  hop here either: a pushed fill (and the report it releases) reaches the engine in the read that brought
  it (`PrivateStream.on_message`); with `private_stream=False` fills come from the REST poll's task.
- Order entry: REST by default; `order_entry="ws"` sends create/amend/cancel and the batches over the
  trade WebSocket (`trade.TradeSession`, `/v5/trade`). REST is the default because it works in every
  environment (demo trading has no trade WebSocket), needs no second authenticated session whose loss
  turns every order in flight into an unknown outcome, and answers with the same codes and limit
  headers; the trade WebSocket saves a round trip's setup per order where latency matters.
- Batches: `submit_batch`, `amend_batch`, `cancel_batch` (`/v5/order/{create,amend,cancel}-batch`, or
  the trade WebSocket's `order.*-batch`), up to `max_batch` orders a request (spot 10, linear 20), each
  item's outcome on its own (`retExtInfo.list[i].code`): an ack or `None`, or its typed error.
- Clock: the offset to the venue's clock is measured at connect; a 10002 (outside the recv window)
  triggers at most one resync a second, however many requests failed with it.
- Post-only: Bybit acks a post-only limit that would take and then cancels it; `submit` looks the order
  up once and raises `InvalidOrderError` for it (its report says REJECTED: it never rested).
- Dead-man switch: Bybit's DCP (disconnect cancel protection), where the account has it (Bybit enables
  it per main account on request, for institutional clients). At connect `GET /v5/account/query-dcp-info`
  says whether our product (SPOT, or DERIVATIVES for linear) has `dcpStatus` ON; if so the private stream
  subscribes `dcp.spot` / `dcp.future` (the venue cancels our orders once every private connection
  subscribed to it is gone for the window), `dcp_window_s=N` sets the window (`POST
  /v5/order/disconnected-cancel-all`, 3..300 s; else the account's, 10 s by default), and the connector
  states `dead_man_switch=True`. Otherwise (not enabled, a sub-account, which reads an empty list, or
  `dcp=False`) `dead_man_switch=False` and the engine's watchdog is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson

from trader.clock import Clock
from trader.core import (
    Approval,
    BybitSigner,
    InstrumentSpec,
    OrderType,
    RateLimiter,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import AuthenticationError, InvalidOrderError, RateLimitError, VenueError
from trader.venues._events import EventQueue
from trader.venues._http import HttpClient, HttpResponse
from trader.venues._status import StreamHealth
from trader.venues.base import (
    Capabilities,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    Stream,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)
from trader.venues.bybit import endpoints as ep
from trader.venues.bybit import parse
from trader.venues.bybit.endpoints import SECOND_NS, Endpoints
from trader.venues.bybit.errors import decode_error, error_from
from trader.venues.bybit.private import PrivateLedger, PrivateStream
from trader.venues.bybit.streams import PublicStream
from trader.venues.bybit.trade import TradeSession
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.bybit")

Params = list[tuple[str, str | int | bool]]
WsAuth = Callable[[int], tuple[str, int, str]]  # expires (ms) -> (api key, expires, signature)

SPOT_CAPABILITIES = CAPABILITIES = Capabilities(
    venue="bybit",
    tier=Tier.CRYPTO,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC", "FOK"}),
    post_only=True,
    reduce_only=False,  # spot: no positions to reduce
    cancel_all=True,
    dead_man_switch=False,  # DCP only where the account has it (`dcp_window_s`); else the watchdog
    ws_order_entry=True,
    max_batch=ep.MAX_BATCH["spot"],
    paper_environment=True,
    needs_credentials=True,
)

LINEAR_CAPABILITIES = dataclasses.replace(
    SPOT_CAPABILITIES, reduce_only=True, max_batch=ep.MAX_BATCH["linear"]
)
CAPABILITIES_BY_CATEGORY = {"spot": SPOT_CAPABILITIES, "linear": LINEAR_CAPABILITIES}

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
# REST path and trade WebSocket op of each order operation
_OPS = {
    "create": (ep.CREATE, "order.create"),
    "amend": (ep.AMEND, "order.amend"),
    "cancel": (ep.CANCEL, "order.cancel"),
    "create-batch": (ep.CREATE_BATCH, "order.create-batch"),
    "amend-batch": (ep.AMEND_BATCH, "order.amend-batch"),
    "cancel-batch": (ep.CANCEL_BATCH, "order.cancel-batch"),
}


def _check_options(
    category: str, budget: float, order_entry: str, endpoints: Endpoints, dcp_window_s: int | None, dcp: bool
) -> None:
    """The connector's options, refused with a `ValueError` naming the one that is wrong."""
    if category not in CAPABILITIES_BY_CATEGORY:
        raise ValueError(f"category must be spot or linear, not {category!r}")
    if not 0 < budget <= 1:
        raise ValueError("budget must be in (0, 1]")
    if order_entry not in ("rest", "ws"):
        raise ValueError(f"order_entry must be rest or ws, not {order_entry!r}")
    if order_entry == "ws" and not endpoints.trade_ws:
        raise ValueError("order_entry = ws: this environment has no trade WebSocket (demo trading)")
    lo, hi = ep.DCP_WINDOW_S
    if dcp_window_s is not None and not lo <= dcp_window_s <= hi:
        raise ValueError(f"dcp_window_s must be in [{lo}, {hi}]")
    if dcp_window_s is not None and not dcp:
        raise ValueError("dcp_window_s needs dcp and the private stream (DCP watches it)")


class BybitConnector:
    """One Bybit spot symbol on a unified account (or a simulator speaking its protocol)."""

    def __init__(
        self,
        *,
        symbol: str,
        signer: BybitSigner,
        endpoints: Endpoints,
        clock: Clock,
        venue: str = "bybit",
        category: str = "spot",
        market_data: bool = True,
        poll_s: float = 0.2,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        recv_window_ms: int = ep.RECV_WINDOW_MS,
        ws_auth: WsAuth | None = None,
        private_stream: bool = True,
        reconcile_s: float = 30.0,
        fill_wait_s: float = 0.5,
        order_entry: str = "rest",
        dcp: bool = True,
        dcp_window_s: int | None = None,
    ) -> None:
        _check_options(category, budget, order_entry, endpoints, dcp_window_s, dcp and private_stream)
        self.venue = venue
        self.capabilities = CAPABILITIES_BY_CATEGORY[category]
        self._order_limit = ep.ORDER_LIMITS_PER_S[category]
        self.symbol = symbol.upper()
        self.category = category
        self.endpoints = endpoints
        self.clock = clock
        self._signer = signer
        self._recv_window = recv_window_ms
        self._timeout_s = timeout_s
        # the private and trade WebSockets' login, `HMAC(secret, "GET/realtime" + expires)`
        self._ws_auth: WsAuth = ws_auth or signer.ws_auth
        self._private_stream = private_stream
        self.reconcile_s = reconcile_s
        self._fill_wait_s = fill_wait_s
        self.order_entry = order_entry
        self._dcp = dcp and private_stream
        self.dcp_window_s = dcp_window_s
        self._market_data = market_data
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self._limiter = RateLimiter()
        self._quota = self._limiter.add_quota(
            "orders", [Window(max(1, int(2 * ep.ORDER_LIMITS_PER_S[category] * budget)), SECOND_NS)]
        )
        reads = self._limiter.add_quota(
            "reads", [Window(max(1, int(ep.READ_LIMIT_PER_S * budget)), SECOND_NS)]
        )
        self._http, self._reads = (
            HttpClient(
                venue,
                endpoints.rest,
                clock=clock,
                timeout_s=timeout_s,
                limiter=self._limiter,
                quota=quota,
                decode_error=lambda r: decode_error(venue, r),
                on_response=self._on_response,
            )
            for quota in (self._quota, reads)
        )
        self._info: InstrumentInfo | None = None
        self._spec: InstrumentSpec | None = None
        self._queue: EventQueue[VenueEvent] = EventQueue()  # handed to a waiting engine in the same call
        self._health = StreamHealth(self._queue, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self.public: PublicStream | None = None
        self.poller: PrivateLedger | None = None
        self.private: PrivateStream | None = None
        self.trade: TradeSession | None = None
        self.dcp_armed = False  # the account has DCP on our product and the private stream watches it
        self._offset_ms = 0  # venue clock minus ours
        self._resync: asyncio.Task[None] | None = None
        self._last_forced_sync_ns = -(10**18)

    # ---- plumbing --------------------------------------------------------------------------------

    def _on_response(self, resp: HttpResponse) -> None:
        self._fold_limits(resp.headers)

    def _fold_limits(self, headers: Mapping[str, str]) -> None:
        """Fold the per-UID limit headers of order answers (REST headers, or a trade WebSocket answer's
        `header`, names lower-cased) into the local limiter."""
        limit, remaining = headers.get("x-bapi-limit", ""), headers.get("x-bapi-limit-status", "")
        if not (limit.isdigit() and remaining.isdigit()) or int(limit) != self._order_limit:
            return
        now = self.clock.now_ns()
        with contextlib.suppress(VenueError, ValueError):
            self._limiter.observe_usage(self._quota, SECOND_NS, int(limit) - int(remaining), now)
        reset = headers.get("x-bapi-limit-reset-timestamp", "")
        if remaining == "0" and reset.isdigit():
            self._limiter.block_until(self._quota, int(reset) * 1_000_000)

    def _acquire_order_quota(self, what: str) -> None:
        """An order operation sent without `HttpClient` (the trade WebSocket) passes the same quota."""
        now = self.clock.now_ns()
        retry = self._limiter.try_acquire(self._quota, 1, now, False)
        if retry is not None:
            raise RateLimitError(
                f"{what}: local rate limit", venue=self.venue, code="local", retry_after_ns=retry
            )

    @staticmethod
    def _result(venue: str, resp: HttpResponse) -> Any:
        body = orjson.loads(resp.body)
        code = int(body.get("retCode", -1))
        if code != 0:
            raise error_from(venue, code, str(body.get("retMsg", "")))
        return body.get("result")

    async def _public(self, path: str, params: Params) -> Any:
        query = "&".join(f"{k}={v}" for k, v in params)
        resp = await self._reads.request("GET", path, query=query, mutating=False)
        return self._result(self.venue, resp)

    async def _signed(
        self, method: str, path: str, params: Params, *, mutating: bool, priority: bool = False
    ) -> Any:
        query, body, headers = self._prepared(method, path, params)
        resp = await (self._http if mutating else self._reads).request(
            method, path, query=query, body=body, headers=headers, mutating=mutating, priority=priority
        )
        try:
            return self._result(self.venue, resp)
        except VenueError as e:
            if e.code == ep.TIME_WINDOW_CODE:
                self._schedule_resync()
            raise

    def _prepared(self, method: str, path: str, params: Params) -> tuple[str, bytes | None, dict[str, str]]:
        """The signed query, body and headers of one request (`_signed`'s, and a rehearsed order's)."""
        req = self._signer.sign(method, path, params, self.venue_now_ms(), self._recv_window)
        return req.query, req.body if method == "POST" else None, dict(req.headers)

    async def sync_time(self) -> int:
        """Measure the offset to the venue's clock (ms, half the round trip assumed each way)."""
        t0 = self.clock.now_ns()
        server = parse.venue_time(await self._public(ep.TIME, [])).ts_ns
        t1 = self.clock.now_ns()
        self._offset_ms = (server - (t0 + t1) // 2) // 1_000_000
        return self._offset_ms

    def venue_now_ms(self) -> int:
        """Now on the venue's clock (ours plus the measured offset), in ms."""
        return self.clock.now_ns() // 1_000_000 + self._offset_ms

    @property
    def clock_offset_ms(self) -> int:
        return self._offset_ms

    def _schedule_resync(self) -> None:
        """10002 (outside the recv window): resync the clock once, however many requests failed with
        it: one resync in flight, and at most one a second."""
        if self._resync is not None and not self._resync.done():
            return
        now = self.clock.monotonic_ns()
        if now - self._last_forced_sync_ns < SECOND_NS:
            return
        self._last_forced_sync_ns = now
        self._resync = asyncio.get_running_loop().create_task(self._resync_quietly())

    async def _resync_quietly(self) -> None:
        try:
            await self.sync_time()
        except VenueError as e:
            log.warning("%s: clock resync failed: %s", self.venue, e)

    # ---- lifecycle -------------------------------------------------------------------------------

    async def _load_info(self) -> InstrumentInfo:
        if self._info is None:
            res = await self._public(ep.INSTRUMENTS, [("category", self.category), ("symbol", self.symbol)])
            rows = [r for r in res.get("list", []) if r.get("symbol") == self.symbol]
            if not rows:
                raise InvalidOrderError(f"unknown instrument {self.symbol}", venue=self.venue)
            self._info = parse.instrument_info(rows[0])
            self._spec = self._info.spec()
        return self._info

    def trading_spec(self) -> InstrumentSpec:
        if self._spec is None:
            raise VenueError("instrument rules not loaded: connect first", venue=self.venue)
        return self._spec

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        """The instrument's rules and its current mid, by REST only (before `connect`, to size a
        strategy)."""
        info = await self._load_info()
        book = await self._public(
            ep.ORDERBOOK, [("category", self.category), ("symbol", self.symbol), ("limit", 1)]
        )
        return info, parse.mid_price(book)

    async def connect(self) -> None:
        if self._tasks:
            return  # connected already
        await self.sync_time()
        await self._load_info()
        loop = asyncio.get_running_loop()
        if self._market_data:
            url = f"{self.endpoints.public_ws}/{self.category}"
            self.public = PublicStream.open(self, url, self.stale_after_s)
            self._tasks += [loop.create_task(self.public.run()), loop.create_task(self.public.run_trades())]
        self.poller = PrivateLedger(self, self._fill_wait_s)
        await self.poller.prime()
        self.dcp_armed = self._dcp and await self._dcp_on()
        if not self._private_stream:
            self._health.up(Stream.PRIVATE)
            self._tasks.append(loop.create_task(self.poller.run(self.poll_s)))
        else:
            await self._open_private(self.poller)
        if self.order_entry == "ws":
            self.trade = TradeSession(self, self.endpoints.trade_ws, self._ws_auth)
            self._tasks.append(loop.create_task(self.trade.run()))
            await self.trade.wait_ready(self._timeout_s)
        if self.dcp_armed and self.private is not None:
            self.dcp_armed = await self._dcp_watched(self.private)
        if self.dcp_armed:
            if self.dcp_window_s is not None:
                params: Params = [
                    ("product", ep.DCP_PRODUCT[self.category]),
                    ("timeWindow", self.dcp_window_s),
                ]
                await self._signed("POST", ep.DCP, params, mutating=True)
            self.capabilities = dataclasses.replace(self.capabilities, dead_man_switch=True)

    async def _open_private(self, ledger: PrivateLedger) -> None:
        """The private stream, then REST reconciliation every `reconcile_s`. Connected means subscribed:
        an order sent now is heard. A refused login is an `AuthenticationError`; no answer in time: the
        private events are polled every `poll_s` instead (and the stream keeps trying)."""
        loop = asyncio.get_running_loop()
        private = PrivateStream(self, self.endpoints.private_ws, self._ws_auth, ledger, dcp=self.dcp_armed)
        self.private = private
        self._tasks.append(loop.create_task(private.run()))
        try:
            await self.clock.wait_for(private.ready.wait(), self._timeout_s)
        except TimeoutError:
            log.warning("%s: private stream not ready: polling its events", self.venue)
            self._tasks.append(loop.create_task(ledger.run(self.poll_s)))
            return
        if private.refused:
            raise AuthenticationError(f"private stream: {private.refused}", venue=self.venue, code="10004")
        self._tasks.append(loop.create_task(ledger.run(self.reconcile_s)))

    async def _dcp_watched(self, private: PrivateStream) -> bool:
        """The private stream's `dcp.*` subscription answered yes (DCP fires only for connections that
        subscribed it); no answer in time, or a refusal: the engine's watchdog is the fallback."""
        try:
            await self.clock.wait_for(private.dcp_answered.wait(), self._timeout_s)
        except TimeoutError:
            log.warning(
                "%s: %s not answered: the engine's watchdog is the fallback", self.venue, private.dcp_topic
            )
            return False
        return private.dcp_subscribed

    async def _dcp_on(self) -> bool:
        """Whether the account has DCP on our category's product (`query-dcp-info`). Unreadable: no,
        with a warning (the engine's watchdog is the fallback)."""
        try:
            res = await self._signed("GET", ep.DCP_INFO, [], mutating=False)
        except VenueError as e:
            log.warning(
                "%s: DCP info unreadable (%s): the engine's watchdog is the fallback", self.venue, e.code
            )
            return False
        product = ep.DCP_PRODUCT[self.category]
        return any(
            str(i.get("product")) == product and str(i.get("dcpStatus")) == "ON"
            for i in (res or {}).get("dcpInfos") or []
        )

    async def close(self) -> None:
        if self.public is not None:
            await self.public.close()
        for stream in (self.private, self.trade):
            if stream is not None:
                await stream.ws.close()
        catch_up = self.private.catch_up if self.private is not None else None
        timers = self.poller.stop() if self.poller is not None else []
        book_resync = self.public.resync_task if self.public is not None else None
        tasks = [*self._tasks, *timers, *(t for t in (self._resync, catch_up, book_resync) if t is not None)]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        self._health.stop()
        await self._http.close()
        await self._reads.close()

    async def venue_time(self) -> VenueTime:
        return parse.venue_time(await self._public(ep.TIME, []))

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        info = await self._load_info()
        if symbol.upper() != self.symbol:
            raise InvalidOrderError(f"unknown instrument {symbol}", venue=self.venue)
        return info

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    def emit(self, ev: VenueEvent) -> None:
        self._queue.put_nowait(ev)

    # ---- orders ----------------------------------------------------------------------------------

    def order_params(self, approval: Approval, client_id: str) -> Params:
        """The `order/create` parameters of one approved order."""
        a = require_approval(approval)
        spec = self.trading_spec()
        tif = _TIF.get(a.tif)
        if tif is None:
            raise InvalidOrderError("Bybit has no GTD orders", venue=self.venue)
        linear = self.category == "linear"
        if a.reduce_only and not linear:
            raise InvalidOrderError("Bybit spot has no reduce-only orders", venue=self.venue)
        params: Params = [
            ("category", self.category),
            ("symbol", self.symbol),
            ("side", "Buy" if a.side == Side.BUY else "Sell"),
            ("orderLinkId", client_id),
            ("qty", spec.format_qty(a.qty)),
        ]
        if a.order_type == OrderType.MARKET:
            params += (
                [("orderType", "Market")] if linear else [("orderType", "Market"), ("marketUnit", "baseCoin")]
            )
        else:
            params += [("orderType", "Limit"), ("price", spec.format_price(a.price))]
            params.append(("timeInForce", "PostOnly" if a.post_only else tif))
        if linear:
            params += [("positionIdx", 0), *([("reduceOnly", True)] if a.reduce_only else [])]
        return params

    async def _order_op(self, kind: str, params: Params, *, priority: bool = False) -> Any:
        """One order operation over the chosen path: its `result` (REST) or `data` (trade WebSocket)."""
        path, op = _OPS[kind]
        if self.trade is not None:
            return (await self.trade.request(op, [dict(params)])).get("data") or {}
        return await self._signed("POST", path, params, mutating=True, priority=priority)

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): the order's
        parameters, then the signed `order/create` request's bytes (REST) or the `order.create` frame
        with its timestamp header and the next reqId, untaken (trade WebSocket). No quota, nothing sent,
        nothing watched. Needs the instrument's rules (`connect`): it loads nothing."""
        self._check_instrument(instrument)
        params = self.order_params(approval, client_id)
        path, op = _OPS["create"]
        if self.trade is not None:
            return len(self.trade.frame(self.trade.next_id(), op, [dict(params)]))
        query, body, headers = self._prepared("POST", path, params)
        return len(self._http.encode("POST", path, query=query, body=body, headers=headers))

    def _check_instrument(self, instrument: str) -> None:
        if instrument.upper() != self.symbol:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        self._check_instrument(instrument)
        await self._load_info()
        a = require_approval(approval)
        res = await self._order_op("create", self.order_params(approval, client_id))
        if self.poller is not None:
            self.poller.watch(client_id)
        if a.post_only and a.order_type == OrderType.LIMIT:
            await self._refused_post_only(client_id)
        return SubmitAck(client_id, str(res["orderId"]))

    async def _refused_post_only(self, client_id: str) -> None:
        """Bybit acks a post-only that would take, then cancels it (`EC_PostOnlyWillTakeLiquidity`):
        one look at the order turns that into the refusal it is."""
        rows = await self._orders([("orderLinkId", client_id)])
        if rows and str(rows[0].get("rejectReason", "")) == parse.POST_ONLY_CROSS:
            raise InvalidOrderError(
                f"post-only order {client_id} would take liquidity",
                venue=self.venue,
                code=parse.POST_ONLY_CROSS,
            )

    def _amend_params(self, client_id: str, price: int | None, qty: int | None) -> Params:
        if price is None and qty is None:
            raise InvalidOrderError("an amend changes the price or the quantity", venue=self.venue)
        spec = self.trading_spec()
        params: Params = [("category", self.category), ("symbol", self.symbol), ("orderLinkId", client_id)]
        if price is not None:
            params.append(("price", spec.format_price(price)))
        if qty is not None:
            params.append(("qty", spec.format_qty(qty)))
        return params

    async def amend(self, client_id: str, *, price: int | None = None, qty: int | None = None) -> None:
        """A new price and/or total quantity (units) for an open limit order, by `orderLinkId`
        (`OrderNotFoundError` once it is closed). The change is reported like any other."""
        await self._order_op("amend", self._amend_params(client_id, price, qty), priority=True)
        if self.poller is not None:
            self.poller.watch(client_id)

    async def cancel(self, client_id: str) -> None:
        params: Params = [("category", self.category), ("symbol", self.symbol), ("orderLinkId", client_id)]
        await self._order_op("cancel", params, priority=True)

    async def cancel_all(self, instrument: str | None = None) -> int:
        params: Params = [("category", self.category)]
        if instrument is not None:
            params.append(("symbol", instrument.upper()))
        res = await self._signed("POST", ep.CANCEL_ALL, params, mutating=True, priority=True)
        return len(res.get("list", []))

    # ---- batches ---------------------------------------------------------------------------------

    async def _batch(self, kind: str, items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, str]]:
        """One batch request: per item its result row, retCode and retMsg (`retExtInfo.list`). The body
        is pybit's (`json.dumps` of `{"category", "request"}`), signed over the exact bytes sent."""
        path, op = _OPS[kind]
        whole = {"category": self.category, "request": items}
        if self.trade is not None:
            msg = await self.trade.request(op, [whole])
            data, ext = msg.get("data") or {}, msg.get("retExtInfo") or {}
        else:
            body = json.dumps(whole).encode()
            req = self._signer.sign("POST", path, [], self.venue_now_ms(), self._recv_window)
            headers = dict(req.headers)
            ts, window = int(headers["X-BAPI-TIMESTAMP"]), int(headers["X-BAPI-RECV-WINDOW"])
            headers["X-BAPI-SIGN"] = self._signer.signature(ts, window, body)
            resp = await self._http.request("POST", path, body=body, headers=headers, mutating=True)
            envelope = orjson.loads(resp.body)
            try:
                data = self._result(self.venue, resp)
            except VenueError as e:
                if e.code == ep.TIME_WINDOW_CODE:
                    self._schedule_resync()
                raise
            ext = envelope.get("retExtInfo") or {}
        rows, codes = list(data.get("list") or []), list(ext.get("list") or [])
        if len(rows) != len(items) or len(codes) != len(items):
            raise VenueError(f"{kind}: {len(items)} items sent, {len(rows)} answered", venue=self.venue)
        return [(r, int(c.get("code", -1)), str(c.get("msg", ""))) for r, c in zip(rows, codes, strict=True)]

    async def _batches(self, kind: str, items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, str]]:
        n = self.capabilities.max_batch
        out: list[tuple[dict[str, Any], int, str]] = []
        for i in range(0, len(items), n):
            out += await self._batch(kind, items[i : i + n])
        return out

    async def submit_batch(self, orders: Sequence[tuple[Approval, str]]) -> list[SubmitAck | VenueError]:
        """Several approved orders, `max_batch` a request: per order (in order) its ack or its typed
        refusal. A lost answer raises `UnknownOutcomeError` for the whole request (query each). A
        post-only that would take is acked, then reported REJECTED (no extra lookup here)."""
        await self._load_info()
        items = []
        for a, cid in orders:
            params = dict(self.order_params(a, cid))
            params.pop("category")
            items.append(params)
            if self.poller is not None:
                self.poller.watch(cid)
        out: list[SubmitAck | VenueError] = []
        for (_, cid), (row, code, msg) in zip(
            orders, await self._batches("create-batch", items), strict=True
        ):
            out.append(
                SubmitAck(cid, str(row["orderId"])) if code == 0 else error_from(self.venue, code, msg)
            )
        return out

    async def amend_batch(
        self, amends: Sequence[tuple[str, int | None, int | None]]
    ) -> list[VenueError | None]:
        """(client id, new price or None, new qty or None) each: None where amended, else its typed error."""
        items = []
        for cid, price, qty in amends:
            params = dict(self._amend_params(cid, price, qty))
            params.pop("category")
            items.append(params)
        rows = await self._batches("amend-batch", items)
        return [None if code == 0 else error_from(self.venue, code, msg) for _, code, msg in rows]

    async def cancel_batch(self, client_ids: Sequence[str]) -> list[VenueError | None]:
        """Cancel by client id: None where cancelled, else its typed error (`OrderNotFoundError`: closed)."""
        items = [{"symbol": self.symbol, "orderLinkId": cid} for cid in client_ids]
        rows = await self._batches("cancel-batch", items)
        return [None if code == 0 else error_from(self.venue, code, msg) for _, code, msg in rows]

    async def _orders(self, extra: Params) -> list[dict[str, Any]]:
        params: Params = [("category", self.category), ("symbol", self.symbol), *extra]
        res = await self._signed("GET", ep.REALTIME, params, mutating=False)
        return list(res.get("list", []))

    async def query(self, client_id: str) -> OrderReport | None:
        await self._load_info()
        rows = await self._orders([("orderLinkId", client_id)])
        if not rows:
            rows = await self._history(client_id)
        return parse.order_report(rows[0], self.trading_spec(), self.clock.now_ns()) if rows else None

    async def _history(self, client_id: str) -> list[dict[str, Any]]:
        params: Params = [("category", self.category), ("orderLinkId", client_id)]
        res = await self._signed("GET", ep.HISTORY, params, mutating=False)
        return list(res.get("list", []))

    async def open_orders(self) -> list[OrderReport]:
        await self._load_info()
        rows = await self._orders([("openOnly", 0), ("limit", ep.ORDERS_PAGE)])
        now = self.clock.now_ns()
        return [
            r
            for r in (parse.order_report(o, self.trading_spec(), now) for o in rows)
            if r.state not in parse.TERMINAL
        ]

    async def executions(self, start_ms: int, exec_type: str = "Trade") -> list[dict[str, Any]]:
        """Every execution of `exec_type` since `start_ms` (venue time), page by page (`cursor`)."""
        params: Params = [
            ("category", self.category),
            ("symbol", self.symbol),
            ("execType", exec_type),
            ("startTime", start_ms),
            ("limit", ep.EXECUTIONS_PAGE),
        ]
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(ep.MAX_PAGES):
            res = await self._signed(
                "GET", ep.EXECUTIONS, [*params, *([("cursor", cursor)] if cursor else [])], mutating=False
            )
            out += [x for x in res.get("list", []) if x.get("execType", exec_type) == exec_type]
            cursor = str(res.get("nextPageCursor") or "")
            if not cursor:
                break
        return out

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        info = await self._load_info()
        rows = await self.executions(ts_ns // 1_000_000)
        now = self.clock.now_ns()
        fills = [parse.fill(x, info, self.trading_spec(), now) for x in rows]
        return sorted((f for f in fills if f.ts_event >= ts_ns), key=lambda f: f.ts_event)

    # ---- account ---------------------------------------------------------------------------------

    async def balances(self) -> dict[str, Decimal]:
        """The unified account's wallet balance per coin."""
        res = await self._signed("GET", ep.WALLET, [("accountType", "UNIFIED")], mutating=False)
        out: dict[str, Decimal] = {}
        for acct in res.get("list", []):
            for c in acct.get("coin", []):
                out[str(c["coin"])] = Decimal(str(c.get("walletBalance") or "0"))
        return out

    async def positions(self) -> dict[str, int]:
        """Spot: the base coin's wallet balance, in qty units (rounded down to the step). Linear: the
        signed position size."""
        info = await self._load_info()
        if self.category == "linear":
            params: Params = [("category", self.category), ("symbol", self.symbol)]
            res = await self._signed("GET", ep.POSITIONS, params, mutating=False)
            rows = [r for r in res.get("list", []) if r.get("symbol") == self.symbol]
            return {self.symbol: sum(parse.position_units(r, self.trading_spec()) for r in rows)}
        total = (await self.balances()).get(info.base, Decimal(0))
        return {self.symbol: int(total / Decimal(info.lot_size))}

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """Linear: the funding settled on our position at or after `ts_ns` (venue time), from the
        executions of `execType=Funding`. Spot holds no perpetual: none."""
        if self.category != "linear":
            return []
        rows = await self.executions(ts_ns // 1_000_000, "Funding")
        now = self.clock.now_ns()
        out = [parse.funding(x, now) for x in rows]
        return sorted((f for f in out if f.ts_event >= ts_ns), key=lambda f: f.ts_event)


def loopback_connector(url: str, *, symbol: str, clock: Clock, **options: Any) -> BybitConnector:
    """A connector to a `trader.sim.bybit` server at `url` with its demo account."""
    from trader.sim.bybit import DEMO_KEY, DEMO_SECRET

    return BybitConnector(
        symbol=symbol,
        signer=BybitSigner(DEMO_KEY, DEMO_SECRET),
        endpoints=Endpoints.loopback(url),
        clock=clock,
        **options,
    )


__all__ = [
    "CAPABILITIES",
    "CAPABILITIES_BY_CATEGORY",
    "LINEAR_CAPABILITIES",
    "SPOT_CAPABILITIES",
    "BybitConnector",
    "loopback_connector",
]
