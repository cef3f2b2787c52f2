"""Coinbase Advanced Trade (spot): REST under /api/v3/brokerage and the WebSocket's level2, market_trades,
heartbeats and user channels.

- Every REST request carries a fresh JWT from the core's `CoinbaseSigner` (ES256 for an EC key, EdDSA for an
  Ed25519 one; the key stays in Rust), its `uri` claim the request's method, host and path; every WebSocket
  subscription carries one too (`streams.py`).
- `submit` is single-shot (`POST /orders` with our `client_order_id`); a timeout or 5xx raises
  `UnknownOutcomeError` and the engine asks `query`, which finds the order by client id among the orders
  listed for our products (Coinbase has no lookup by client id; a resend of the same client id returns the
  first order instead of placing another). A refused order is HTTP 200 with `success: false`; its
  `error_response.error` is classified (`errors.py`).
- Orders: limit GTC/GTD (post-only allowed), IOC (`sor_limit_ioc`), FOK, market by base size, and a market
  buy by quote size (`submit(..., quote_size=Decimal)`: the engine's orders are in base units, so this is a
  connector-level path, bounded by the gate's approved notional). Fees are in the quote currency;
  `positions` are base-currency balances (available + hold).
- Fills: a fill's id is `<order id>:<cumulative units>`, which both the user channel (an order's
  `cumulative_quantity`) and the REST fills (accumulated per order) state, so the engine de-duplicates one
  execution heard both ways. The user channel's messages are handled in the read that brought them
  (`streams.UserStream.on_message`). Its order fields have no liquidity: when the order itself says it
  (post-only makes; market, IOC and FOK take; a limit order filled better than its limit took) and the
  update is one execution (`number_of_fills` + 1: size, price and fee exactly REST's), the channel's fill
  goes to the engine in that read. Otherwise (a plain limit order filled at its limit, several executions
  in one update) it goes out as REST lists it (`GET /orders/historical/fills?order_ids=`,
  `liquidity_indicator`), one request per order whose fills grew; only if REST does not list it within
  ~1.5 s does the channel's own fill go out, maker inferred (post-only) and logged.
- Clock: the venue's clock is measured at connect (`GET /time`) and the JWTs stamped with it; a 401 (a
  JWT outside its nbf..exp window, as after a step of our clock) measures it again, once for all requests
  refused meanwhile, and signs the request once more; a second 401 is an `AuthenticationError`.
- Rate limit: 30 private requests per second at `budget`; `x-ratelimit-*` headers are folded in and a 429
  backs the key off (`_http.HttpClient`). An order's rehearsal (`rehearse`) builds the request with its own
  JWT and uses none of it.
- Market data: the books (`level2`) and the prints (`market_trades`) on a WebSocket connection each,
  every message handled in the read that brought it (`streams.py`) and handed to the engine there when it
  waits (the queue is an `EventQueue`: no trip through the event loop).
- No venue dead-man switch: the engine's watchdog cancels everything when a stream is lost too long.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson

from trader.clock import Clock
from trader.core import (
    Approval,
    CoinbaseSigner,
    InstrumentSpec,
    OrderType,
    RateLimiter,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import AuthenticationError, InvalidOrderError, OrderNotFoundError, VenueError
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
    Stream,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)
from trader.venues.coinbase import endpoints as ep
from trader.venues.coinbase import parse
from trader.venues.coinbase.endpoints import Endpoints
from trader.venues.coinbase.errors import decode_error, error_from
from trader.venues.coinbase.streams import MarketStream, TradeStream, UserStream
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.coinbase")

CAPABILITIES = Capabilities(
    venue="coinbase",
    tier=Tier.CRYPTO,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "GTD", "IOC", "FOK"}),
    post_only=True,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=False,
    ws_order_entry=False,
    max_batch=ep.MAX_BATCH_CANCEL,
    paper_environment=False,
    needs_credentials=True,
)
FILL_TRIES = 5  # REST reads of an order's fills before its channel fill goes out unconfirmed
FILL_RETRY_S = 0.05  # the first wait between them (doubling: 1.55 s in all)
_LIST_PAGES = 8  # how far back `query` looks for a client id it does not know (pages of ep.PAGE orders)
MINUTE_NS = 60 * ep.SECOND_NS


class CoinbaseConnector:
    """Spot products on one Coinbase account (or a simulator speaking its protocol)."""

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        signer: CoinbaseSigner,
        endpoints: Endpoints,
        clock: Clock,
        venue: str = "coinbase",
        market_data: bool = True,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        cancel_confirm_s: float = 2.0,
    ) -> None:
        if not symbols:
            raise ValueError("at least one product is needed")
        if not 0 < budget <= 1:
            raise ValueError("budget must be in (0, 1]")
        self.venue = venue
        self.capabilities = CAPABILITIES
        self.symbols = tuple(s.upper() for s in symbols)
        self.endpoints = endpoints
        self.clock = clock
        self._signer = signer
        self._market_data = market_data
        self._stale_after_s = stale_after_s
        self._cancel_confirm_s = cancel_confirm_s
        self._limiter = RateLimiter()
        self._quota = self._limiter.add_quota(
            "requests", [Window(max(1, int(ep.RATE_LIMIT_PER_S * budget)), ep.SECOND_NS)]
        )
        self._http = HttpClient(
            venue,
            endpoints.rest,
            clock=clock,
            timeout_s=timeout_s,
            limiter=self._limiter,
            quota=self._quota,
            decode_error=lambda r: decode_error(venue, r),
            on_response=self._on_response,
        )
        self._info: dict[str, InstrumentInfo] = {}
        self._specs: dict[str, InstrumentSpec] = {}
        self._quote_increment: dict[str, Decimal] = {}  # what a market buy's quote_size is a multiple of
        self._queue: EventQueue[VenueEvent] = EventQueue()  # handed to the engine in the put when it waits
        self._health = StreamHealth(self._queue, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._catch_up_task: asyncio.Task[None] | None = None
        self._ids: dict[str, str] = {}  # client order id -> Coinbase order id
        self._cids: dict[str, str] = {}  # Coinbase order id -> client order id
        self._qty: dict[str, int] = {}  # order id -> its size (the user channel states only what is left)
        self._progress: dict[str, parse.Progress] = {}  # order id -> fills the user channel told
        self._told: dict[str, parse.Progress] = {}  # order id -> the part of those whose FillReports went out
        self._last_user: dict[str, tuple[dict[str, Any], int]] = {}  # order id -> its last update, ts_event
        self._fill_tasks: dict[str, asyncio.Task[None]] = {}  # order id -> its fills being read by REST
        self._open: set[str] = set()  # client ids last seen open
        self._last_event_ns = 0
        self.resyncs = 0  # level2 re-subscriptions after a sequence gap
        self.market: MarketStream | None = None  # the books' connection
        self.trades: TradeStream | None = None  # the prints' connection
        self.user: UserStream | None = None  # the user channel's connection
        self._offset_ms = 0  # the venue's clock less ours (GET /time), for the JWTs' nbf/exp
        self._sync_task: asyncio.Task[int] | None = None
        self._synced_ns = 0  # our monotonic time when the venue's clock was last measured

    # ---- plumbing --------------------------------------------------------------------------------

    def _on_response(self, resp: HttpResponse) -> None:
        limit, remaining = (
            resp.headers.get("x-ratelimit-limit", ""),
            resp.headers.get("x-ratelimit-remaining", ""),
        )
        if limit.isdigit() and remaining.isdigit():
            with contextlib.suppress(VenueError, ValueError):
                used = int(limit) - int(remaining)
                self._limiter.observe_usage(self._quota, ep.SECOND_NS, used, self.clock.now_ns())

    def now_s(self) -> int:
        """The venue's time in seconds as we estimate it: what a JWT's `nbf` is stamped with."""
        return (self.clock.now_ns() // 1_000_000 + self._offset_ms) // 1000

    @property
    def clock_offset_ms(self) -> int:
        return self._offset_ms

    async def sync_time(self) -> int:
        """Measure the venue's clock against ours (`GET /time`, the midpoint of the round trip)."""
        t0 = self.clock.now_ns()
        body = await self._call("GET", ep.TIME, sync=False)
        t1 = self.clock.now_ns()
        self._offset_ms = int(body["epochMillis"]) - (t0 + t1) // 2_000_000
        self._synced_ns = self.clock.monotonic_ns()
        return self._offset_ms

    async def _remeasure(self, signed_ns: int) -> None:
        """A JWT refused (401: outside its nbf..exp window, as after a step of our clock): measure the
        venue's clock again, once however many requests were refused meanwhile (one measurement at a time;
        none when one finished after this request was signed)."""
        if self._synced_ns > signed_ns:
            return
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self.sync_time())
            self._sync_task.add_done_callback(lambda t: t.cancelled() or t.exception())
        await asyncio.shield(self._sync_task)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: dict[str, Any] | None = None,
        mutating: bool = False,
        priority: bool = False,
        sync: bool = True,
    ) -> Any:
        """One signed request. A 401 measures the venue's clock again and signs the request once more (the
        venue refused it unread, so sending it again cannot place anything twice); a second 401 raises
        `AuthenticationError`."""
        for attempt in range(2 if sync else 1):
            signed_ns = self.clock.monotonic_ns()
            query_s, data, headers = self._signed(method, path, query, body)
            try:
                resp = await self._http.request(
                    method,
                    path,
                    query=query_s,
                    body=data,
                    headers=headers,
                    mutating=mutating,
                    priority=priority,
                )
            except AuthenticationError:
                if attempt or not sync:
                    raise
                try:
                    await self._remeasure(signed_ns)
                except VenueError:
                    raise AuthenticationError("Unauthorized; the venue's clock could not be measured",
                                              venue=self.venue) from None  # fmt: skip
                continue
            return orjson.loads(resp.body) if resp.body else None
        raise AssertionError("unreachable")  # pragma: no cover

    def _signed(
        self, method: str, path: str, query: Sequence[tuple[str, str]], body: dict[str, Any] | None
    ) -> tuple[str, bytes | None, dict[str, str]]:
        """One request's query string, body and headers, with a fresh JWT (its `uri` the method, host and
        path; stamped with the venue's time as we estimate it; a random nonce)."""
        jwt = self._signer.jwt(f"{method} {self.endpoints.host}{path}", self.now_s(), os.urandom(16).hex())
        headers = {"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"}
        return urlencode(list(query)), None if body is None else orjson.dumps(body), headers

    def spec_of(self, symbol: str) -> InstrumentSpec:
        return self._specs[symbol]

    async def _products(self) -> None:
        """Each product's rules (`GET /products/{id}`), once: at connect, or at the first request that
        needs them (a connector asked before it connected)."""
        for symbol in self.symbols:
            if symbol in self._info:
                continue
            try:
                p = await self._call("GET", ep.PRODUCT.format(product_id=symbol))
            except OrderNotFoundError:
                raise InvalidOrderError(f"unknown product {symbol}", venue=self.venue) from None
            if not parse.tradable(p):
                raise InvalidOrderError(f"{symbol} is not tradable ({p.get('status')})", venue=self.venue)
            self._info[symbol] = parse.instrument_info(p)
            self._specs[symbol] = self._info[symbol].spec()
            self._quote_increment[symbol] = Decimal(str(p.get("quote_increment") or 0))

    # ---- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._tasks:
            return
        await self.sync_time()
        await self._products()
        loop = asyncio.get_running_loop()
        user = WsClient(
            self.venue,
            self.endpoints.ws_user,
            clock=self.clock,
            on_connect=lambda ws: UserStream.login(self, ws),
            stale_after_s=max(self._stale_after_s, 5.0),  # heartbeats each second keep it talking
        )
        self._clients.append(user)
        self.user = UserStream(self, user)
        self._tasks.append(loop.create_task(self.user.run()))
        if self._market_data:
            market = WsClient(
                self.venue,
                self.endpoints.ws_market,
                clock=self.clock,
                on_connect=lambda ws: MarketStream.login(self, ws),
                stale_after_s=self._stale_after_s,
            )
            trades = WsClient(
                self.venue,
                self.endpoints.ws_market,
                clock=self.clock,
                on_connect=lambda ws: TradeStream.login(self, ws),
                stale_after_s=max(self._stale_after_s, 5.0),  # heartbeats each second keep it talking
            )
            self._clients += [market, trades]
            self.market, self.trades = MarketStream(self, market), TradeStream(self, trades)
            self._tasks += [loop.create_task(self.market.run()), loop.create_task(self.trades.run())]

    async def close(self) -> None:
        self._health.stop()
        for c in self._clients:
            await c.close()
        extra = [
            t for t in (self._catch_up_task, self._sync_task, *self._fill_tasks.values()) if t is not None
        ]
        tasks = [*self._tasks, *extra]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._clients = [], []
        await self._http.close()

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        """The first product's rules and its current mid, by REST only (before `connect`, to size a
        strategy)."""
        symbol = self.symbols[0]
        p = await self._call("GET", ep.PRODUCT.format(product_id=symbol))
        book = (await self._call("GET", ep.PRODUCT_BOOK, query=[("product_id", symbol), ("limit", "1")]))[
            "pricebook"
        ]
        mid = (Decimal(str(book["bids"][0]["price"])) + Decimal(str(book["asks"][0]["price"]))) / 2
        return parse.instrument_info(p), mid

    async def venue_time(self) -> VenueTime:
        """`GET /time` (public): the venue's clock to the millisecond."""
        return parse.venue_time(await self._call("GET", ep.TIME))

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        info = self._info.get(symbol)
        if info is None:
            raise InvalidOrderError(f"unknown instrument {symbol}", venue=self.venue)
        return info

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    # ---- orders ----------------------------------------------------------------------------------

    def order_body(
        self, approval: Approval, client_id: str, instrument: str, *, quote_size: Decimal | None = None
    ) -> dict[str, Any]:
        """The JSON of one approved order; a market buy with `quote_size` spends that much quote (fees
        included) instead of buying the approval's base size (see `quote_config`)."""
        a = require_approval(approval)
        spec = self.spec_of(instrument)
        if a.reduce_only:
            raise InvalidOrderError("Coinbase spot has no reduce-only orders", venue=self.venue)
        if quote_size is not None and (a.order_type != OrderType.MARKET or a.side != Side.BUY):
            raise InvalidOrderError("a quote size is for market buys only", venue=self.venue)
        size = spec.format_qty(a.qty)
        if a.order_type == OrderType.MARKET:
            if a.post_only:
                raise InvalidOrderError("a market order cannot be post-only", venue=self.venue)
            config: dict[str, dict[str, str | bool]] = {
                "market_market_ioc": {"base_size": size}
                if quote_size is None
                else self.quote_config(a, instrument, quote_size)
            }
        else:
            limit: dict[str, str | bool] = {"base_size": size, "limit_price": spec.format_price(a.price)}
            if a.tif == TimeInForce.GTC:
                config = {"limit_limit_gtc": {**limit, "post_only": a.post_only}}
            elif a.tif == TimeInForce.GTD:
                end = parse.format_time(a.expire_ns)
                config = {"limit_limit_gtd": {**limit, "end_time": end, "post_only": a.post_only}}
            elif a.post_only:
                raise InvalidOrderError("post-only needs a GTC or GTD order", venue=self.venue)
            elif a.tif == TimeInForce.IOC:
                config = {"sor_limit_ioc": limit}
            else:
                config = {"limit_limit_fok": limit}
        side = "BUY" if a.side == Side.BUY else "SELL"
        return {
            "client_order_id": client_id,
            "product_id": instrument,
            "side": side,
            "order_configuration": config,
        }

    def quote_config(self, a: Approval, instrument: str, quote_size: Decimal) -> dict[str, str | bool]:
        """`market_market_ioc` by `quote_size` (a `Decimal` of the quote currency): on the product's
        quote increment, at least its minimum, and at most the notional the gate approved (qty x protective
        price), so the order never spends more than was approved. The base it buys is what that buys at
        the fill prices: more than the approval's qty when it fills below the protective price."""
        inc = self._quote_increment.get(instrument, Decimal(0))
        if not quote_size.is_finite() or quote_size <= 0 or (inc and quote_size % inc):
            raise InvalidOrderError(f"quote size {quote_size} is not a multiple of {inc}", venue=self.venue)
        if quote_size < Decimal(self._info[instrument].min_notional or 0):
            raise InvalidOrderError(
                f"quote size {quote_size} is below the product's minimum", venue=self.venue
            )
        if quote_size > a.notional:
            raise InvalidOrderError(
                f"quote size {quote_size} is more than the approved notional {a.notional}", venue=self.venue
            )
        return {"quote_size": format(quote_size, "f")}

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): the order's JSON,
        a JWT (its own random nonce) and the request bytes; no quota used, nothing sent or remembered."""
        body = self._order(approval, client_id, instrument, None)
        query, data, headers = self._signed("POST", ep.ORDERS, (), body)
        return len(self._http.encode("POST", ep.ORDERS, query=query, body=data, headers=headers))

    def _order(
        self, approval: Approval, client_id: str, instrument: str, quote_size: Decimal | None
    ) -> dict[str, Any]:
        if instrument not in self._info:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)
        return self.order_body(approval, client_id, instrument, quote_size=quote_size)

    async def submit(
        self, approval: Approval, client_id: str, instrument: str, *, quote_size: Decimal | None = None
    ) -> SubmitAck:
        """Place one approved order (`quote_size`: a market buy spending that much quote, fees included)."""
        body = self._order(approval, client_id, instrument, quote_size)
        r = await self._call("POST", ep.ORDERS, body=body, mutating=True)
        if not r.get("success"):
            code, message = parse.order_failure(r)
            raise error_from(self.venue, code, message)
        oid = str(r["success_response"]["order_id"])
        self._remember(client_id, oid)
        if quote_size is None:  # a quote-sized order's base size is what it buys
            self._qty[oid] = approval.qty
        self._open.add(client_id)
        return SubmitAck(client_id, oid)

    def _remember(self, client_id: str, order_id: str) -> None:
        self._ids[client_id] = order_id
        self._cids[order_id] = client_id

    async def _get_order(self, order_id: str) -> dict[str, Any]:
        r: dict[str, Any] = await self._call("GET", ep.ORDER.format(order_id=order_id))
        return dict(r["order"])

    async def _list(self, query: list[tuple[str, str]], pages: int = 1_000) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(pages):
            q = [*query, *(("product_ids", s) for s in self.symbols), ("limit", str(ep.PAGE))]
            r = await self._call("GET", ep.LIST_ORDERS, query=[*q, *([("cursor", cursor)] if cursor else [])])
            rows += [o for o in r.get("orders") or [] if o.get("product_id") in self.symbols]
            cursor = str(r.get("cursor") or "")
            if not r.get("has_next") or not cursor:
                break
        return rows

    async def _find(self, client_id: str) -> dict[str, Any] | None:
        oid = self._ids.get(client_id)
        if oid is not None:
            try:
                return await self._get_order(oid)
            except OrderNotFoundError:
                return None
        for o in await self._list([], pages=_LIST_PAGES):
            if o.get("client_order_id") == client_id:
                self._remember(client_id, str(o["order_id"]))
                return o
        return None

    def _report(self, o: dict[str, Any], ts_recv: int) -> OrderReport:
        report = parse.order_report(o, self.spec_of(str(o["product_id"])), ts_recv)
        self._remember(report.client_id, report.venue_order_id)
        self._qty[report.venue_order_id] = report.qty
        if report.state is OrderState.OPEN:
            self._open.add(report.client_id)
        else:
            self._open.discard(report.client_id)
        return report

    async def query(self, client_id: str) -> OrderReport | None:
        await self._products()
        o = await self._find(client_id)
        return None if o is None else self._report(o, self.clock.now_ns())

    async def open_orders(self) -> list[OrderReport]:
        await self._products()
        rows = await self._list([("order_status", "OPEN")])
        now = self.clock.now_ns()
        return [self._report(o, now) for o in rows]

    async def _cancel_ids(self, order_ids: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(order_ids), ep.MAX_BATCH_CANCEL):
            chunk = order_ids[i : i + ep.MAX_BATCH_CANCEL]
            r = await self._call(
                "POST", ep.BATCH_CANCEL, body={"order_ids": chunk}, mutating=True, priority=True
            )
            out += list(r.get("results") or [])
        return out

    async def cancel(self, client_id: str) -> None:
        """`POST /orders/batch_cancel` with the one order, then wait until the venue shows it closed.
        `OrderNotFoundError` when it was unknown or already closed."""
        oid = self._ids.get(client_id)
        if oid is None:
            o = await self._find(client_id)
            if o is None:
                raise OrderNotFoundError(
                    f"no order {client_id}", venue=self.venue, code="UNKNOWN_CANCEL_ORDER"
                )
            oid = str(o["order_id"])
        (result,) = await self._cancel_ids([oid])
        if not result.get("success"):
            reason = str(result.get("failure_reason", ""))
            raise error_from(self.venue, reason, f"cancel of {client_id} refused: {reason}")
        deadline = self.clock.monotonic_ns() + int(self._cancel_confirm_s * 1e9)
        delay = 0.02
        while True:
            state = parse.order_state(await self._get_order(oid))
            if state is not OrderState.OPEN:
                self._open.discard(client_id)
                return
            if self.clock.monotonic_ns() >= deadline:
                raise VenueError(f"cancel of {client_id} not confirmed", venue=self.venue)
            await self.clock.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def cancel_all(self, instrument: str | None = None) -> int:
        rows = await self._list([("order_status", "OPEN")])
        ids = [str(o["order_id"]) for o in rows if instrument is None or o["product_id"] == instrument]
        if not ids:
            return 0
        return sum(1 for r in await self._cancel_ids(ids) if r.get("success"))

    # ---- fills and balances ----------------------------------------------------------------------

    async def _fills(self, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        while True:
            q = [*query, ("limit", str(ep.PAGE)), *([("cursor", cursor)] if cursor else [])]
            r = await self._call("GET", ep.FILLS, query=q)
            rows += list(r.get("fills") or [])
            cursor = str(r.get("cursor") or "")
            if not cursor:
                return rows

    async def _client_id(self, order_id: str) -> str:
        cid = self._cids.get(order_id)
        if cid is None:
            cid = str((await self._get_order(order_id))["client_order_id"])
            self._remember(cid, order_id)
        return cid

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        """Our fills at or after `ts_ns`: the fills listed since then, each numbered within all of its
        order's fills (one more request per order) so the id matches the user channel's."""
        await self._products()
        since = [
            ("start_sequence_timestamp", parse.format_time(ts_ns)),
            *(("product_ids", s) for s in self.symbols),
        ]
        order_ids = sorted({str(f["order_id"]) for f in await self._fills(since)})
        out: list[FillReport] = []
        for oid in order_ids:
            out += [f for f in await self._order_fills(oid) if f.ts_event >= ts_ns]
        return sorted(out, key=lambda f: f.ts_event)

    async def _order_fills(self, oid: str) -> list[FillReport]:
        """Every fill of order `oid` that REST lists, oldest first, numbered as the user channel does."""
        every = await self._fills([("order_ids", oid)])
        if not every:
            return []
        cid = await self._client_id(oid)
        return parse.rest_fills(every, cid, self.spec_of(str(every[0]["product_id"])), self.clock.now_ns())

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """None: spot has no funding."""
        return []

    async def balances(self) -> dict[str, Decimal]:
        """Every currency's balance (available + hold)."""
        rows: list[dict[str, Any]] = []
        cursor = ""
        while True:
            q = [("limit", str(ep.PAGE)), *([("cursor", cursor)] if cursor else [])]
            r = await self._call("GET", ep.ACCOUNTS, query=q)
            rows += list(r.get("accounts") or [])
            cursor = str(r.get("cursor") or "")
            if not r.get("has_next") or not cursor:
                return parse.balances(rows)

    async def positions(self) -> dict[str, int]:
        """Each product's base-currency balance, in qty units."""
        await self._products()
        held = await self.balances()
        return {
            s: parse.base_units(held.get(self._info[s].base, Decimal(0)), self.spec_of(s))
            for s in self.symbols
        }

    # ---- the user channel ------------------------------------------------------------------------

    def _on_user_order(self, o: dict[str, Any], ts_event: int, ts_recv: int, *, fills: bool) -> None:
        spec = self.spec_of(str(o["product_id"]))
        oid = str(o["order_id"])
        now = parse.user_progress(o, spec)
        before = self._progress.get(oid, parse.Progress())
        if now.filled > before.filled:
            self._progress[oid] = now
            self._last_user[oid] = (o, ts_event)
            if not fills:  # a snapshot's fills happened before we listened: catch-up's REST fills tell them
                self._told[oid] = now
            elif not self._fill_told(o, before, now, ts_event, ts_recv):
                self._resolve_fills(oid)
        self._last_event_ns = max(self._last_event_ns, ts_event)
        report = parse.user_order_report(o, spec, ts_event, ts_recv)
        if report.venue_order_id in self._qty:  # a closed order's leaves are 0: its size is what we know
            report = dataclasses.replace(report, qty=self._qty[report.venue_order_id])
        self._remember(report.client_id, report.venue_order_id)
        if report.state is OrderState.OPEN:
            self._open.add(report.client_id)
        else:
            self._open.discard(report.client_id)
        self._queue.put_nowait(report)

    def _fill_told(
        self, o: dict[str, Any], before: parse.Progress, now: parse.Progress, ts_event: int, ts_recv: int
    ) -> bool:
        """The channel's fill, handed over here (in the read that brought it) when the channel alone tells it
        exactly (`parse.channel_maker`) and every earlier fill of the order went out (none is still read by
        REST: the fills keep their order). False: REST must tell it."""
        oid = str(o["order_id"])
        running = self._fill_tasks.get(oid)
        if self._told.get(oid, parse.Progress()).filled != before.filled or (running and not running.done()):
            return False
        spec = self.spec_of(str(o["product_id"]))
        maker = parse.channel_maker(o, before, now, spec)
        if maker is None:
            return False
        fill = parse.stream_fill(o, before, now, spec, ts_event, ts_recv, maker=maker)
        if fill is None:  # nothing more filled
            return False
        self._told[oid] = now
        self._queue.put_nowait(fill)
        return True

    def _resolve_fills(self, oid: str) -> None:
        """Read order `oid`'s fills by REST, one task per order at a time (it reads until it has what the
        channel told, however much that grew meanwhile)."""
        running = self._fill_tasks.get(oid)
        if running is not None and not running.done():
            return

        def done(t: asyncio.Task[None]) -> None:
            if self._fill_tasks.get(oid) is t:
                del self._fill_tasks[oid]
            if not t.cancelled() and t.exception() is not None:
                log.warning("%s: fills of %s: %r", self.venue, oid, t.exception())

        task = asyncio.get_running_loop().create_task(self._fills_of(oid))
        task.add_done_callback(done)
        self._fill_tasks[oid] = task

    async def _fills_of(self, oid: str) -> None:
        """The fills the user channel told of for order `oid`, as REST lists them: each with the venue's own
        `liquidity_indicator` (the channel states sizes, value and fees, never maker or taker). REST may lag
        the channel: tried `FILL_TRIES` times, backing off; after that the rest goes out as the channel's
        fill with maker inferred (post-only makes, anything else is counted a taker) and a warning."""
        delay = FILL_RETRY_S
        for _ in range(FILL_TRIES):
            target, told = self._progress[oid], self._told.get(oid, parse.Progress())
            if target.filled <= told.filled:
                return
            try:
                listed = await self._order_fills(oid)
            except VenueError as e:
                log.warning("%s: fills of %s not listed: %s", self.venue, oid, e)
                listed = []
            new = [f for f in listed if told.filled < parse.cumulative(f) <= target.filled]
            if any(parse.cumulative(f) == target.filled for f in new):
                for f in new:
                    self._queue.put_nowait(f)
                self._told[oid] = target
                continue  # more may have filled meanwhile
            await self.clock.sleep(delay)
            delay *= 2
        self._stream_fill(oid)

    def _stream_fill(self, oid: str) -> None:
        """What REST did not confirm, from the channel alone (maker inferred)."""
        target, told = self._progress[oid], self._told.get(oid, parse.Progress())
        o, ts_event = self._last_user[oid]
        fill = parse.stream_fill(
            o, told, target, self.spec_of(str(o["product_id"])), ts_event, self.clock.now_ns()
        )
        if fill is not None:
            log.warning(
                "%s: fill %s not listed by REST; maker inferred (%s)", self.venue, fill.trade_id, fill.maker
            )
            self._queue.put_nowait(fill)
        self._told[oid] = target

    async def _catch_up(self) -> None:
        """After the user stream reconnected (or lost a message): open orders, the final state of each
        order open before and not now, and the fills since the last event less a minute."""
        since = max(0, (self._last_event_ns or self.clock.now_ns()) - MINUTE_NS)
        try:
            before = set(self._open)
            now_open = await self.open_orders()
            for r in now_open:
                self._queue.put_nowait(r)
            for cid in sorted(before - {r.client_id for r in now_open}):
                report = await self.query(cid)
                if report is not None:
                    self._queue.put_nowait(report)
            for f in await self.fills_since(since):
                self._queue.put_nowait(f)
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)
            return
        self._health.up(Stream.PRIVATE)


def loopback_connector(
    url: str, *, symbols: Sequence[str], clock: Clock, **options: Any
) -> CoinbaseConnector:
    """A connector to a `trader.sim.coinbase` server at `url` with its demo key."""
    from trader.sim.coinbase import DEMO_KEY_NAME, DEMO_PRIVATE_KEY

    endpoints = Endpoints.loopback(url)
    return CoinbaseConnector(
        symbols=symbols,
        signer=CoinbaseSigner(DEMO_KEY_NAME, DEMO_PRIVATE_KEY, host=endpoints.host),
        endpoints=endpoints,
        clock=clock,
        **options,
    )
