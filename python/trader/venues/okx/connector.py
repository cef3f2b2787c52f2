"""OKX v5 spot and USDT swaps: REST (`/api/v5`) for orders and account, the public WebSocket for `books` and
`trades`, the private one for `orders`, `positions` and `account` (login signed by the core's `OkxSigner`;
secrets never leave it).

- Every request is signed at send time with the venue's clock (ours plus `clock_offset_ms`, measured by
  `GET /api/v5/public/time` at connect and again, once, after a `50102 Timestamp request expired`).
- `submit` is single-shot (`POST /api/v5/trade/order` with our `clOrdId`): a timeout, a dropped connection
  or a 5xx is `UnknownOutcomeError`, resolved by `query` (`GET /api/v5/trade/order?clOrdId=`). An answer
  with `code` "1" carries the reason in the item's `sCode`, classified by `errors.py`.
- Post-only: OKX accepts the order and cancels it (`cancelSource` 31) when it would take; `submit` waits
  up to `post_only_confirm_s` for the stream's first report and raises `InvalidOrderError` then (the
  report says REJECTED). Without a report in time the ack stands and the later report tells.
- `order_entry="ws"`: `submit` and `cancel` go over the private WebSocket (ops `order`,
  `cancel-order`, answered by `id`, the answer handed to its caller in the read that brought it); no
  answer within `timeout_s` is `UnknownOutcomeError`.
- Batch place (`submit_batch`, `batch-orders`), batch amend (`amend_batch`, `amend-batch-orders` / WS
  `batch-amend-orders`) and batch cancel (`cancel_batch` by clOrdId, `cancel_all`) in requests of up to 20,
  signed over the exact JSON array sent (`batch.py`); each item's `sCode` is its own typed result. `amend`
  changes a resting order's price and/or size by clOrdId.
- Order types: GTC limit `limit`, post-only `post_only`, IOC `ioc`, FOK `fok`; a market order goes out as
  `ioc` at the gate's protective price (an OKX `market` order has no price limit). Spot has no
  reduce-only and no GTD: both are refused before anything is sent.
- Rate limits: one local quota per group of endpoints (place, cancel, reads, account, public) and one per
  endpoint (`ep.LIMITS`: this instrument's, since trade limits count per instrument; batch endpoints count
  orders; WebSocket order entry shares its REST endpoint's), all at `budget` of OKX's stated limits; a write
  over a quota is refused locally (`RateLimitError`, code "local"), a read waits; a 429 backs the group off.
- Account mode: `account/config` at connect; the swap market needs acctLv 2-4 in net position mode, else
  `AccountModeError` (`position_mode="net"` switches a long/short account by `set-position-mode`).
- Positions and balances: `positions()` and `balances()` read REST (the reconciliation source); the
  `positions` and `account` channels keep `stream_positions()` / `stream_balances()` current in between.
- Swap funding: after each funding time the type-8 bills become `FundingPayment` events
  (`funding_since` reads the same bills for reconciliation).
- Swap leverage: `leverage=N` sets it (cross margin) at connect; `set_leverage` at any time.
- Dead-man switch: while our orders rest, `POST /api/v5/trade/cancel-all-after` is armed with
  `dead_man_s` and refreshed every `dead_man_refresh_s`; with nothing resting it is disarmed (timeOut 0).
- The book: a `books` snapshot, then updates whose `prevSeqId` must equal the last `seqId`, and whose
  non-zero `checksum` (CRC32 over the top 25 levels) must match the book after them; both are checked in the
  core on the raw bytes (`Book.apply_okx_books`). A gap or a mismatch is a `BookInvalid` and a
  resubscription (a new snapshot). OKX sends `checksum` 0 since it deprecated it (2026-06): not checked.
  No hop on the market-data path: a `books` or `trades` frame is handled in the read that brought it and
  its event handed to the engine there (`streams.PublicStream.on_message`, the queue an `EventQueue`).
  Nor on the private one: an `orders` push (a fill of ours, an order's report), a `positions` or
  `account` push and a WebSocket order answer are handled in the read that brought them
  (`streams.PrivateStream.on_message`); the login's and subscriptions' answers (which send and catch up
  by REST) stay in the stream's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson

from trader.clock import Clock
from trader.core import Approval, InstrumentSpec, OkxSigner, OrderType, RateLimiter, Side, TimeInForce, Window
from trader.errors import (
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
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
    Stream,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)
from trader.venues.okx import batch, parse
from trader.venues.okx import endpoints as ep
from trader.venues.okx.account import POSITION_MODES, AccountView, check_mode, spot_lots
from trader.venues.okx.endpoints import Endpoints
from trader.venues.okx.errors import CLOCK, NOT_FOUND, decode_error, error_from
from trader.venues.okx.streams import PrivateStream, PublicStream
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.okx")

CAPABILITIES = Capabilities(
    venue="okx",
    tier=Tier.CRYPTO,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC", "FOK"}),
    post_only=True,
    reduce_only=False,  # spot has no reduce-only (the swap market has: SWAP_CAPABILITIES)
    cancel_all=True,
    dead_man_switch=True,
    ws_order_entry=True,  # order_entry="ws"
    max_batch=ep.MAX_BATCH,
    paper_environment=True,
    needs_credentials=True,
)

SWAP_CAPABILITIES = dataclasses.replace(CAPABILITIES, reduce_only=True)
MARKETS = {"spot": ("SPOT", "cash"), "swap": ("SWAP", "cross")}  # market -> (instType, tdMode)

_GROUPS = {"place": True, "cancel": True, "read": False, "account": False, "public": False, "dead_man": True}


def _check_options(
    budget: float,
    dead_man_s: int,
    dead_man_refresh_s: float,
    order_entry: str,
    market: str,
    position_mode: str,
) -> None:
    if not 0 < budget <= 1:
        raise ValueError("budget must be in (0, 1]")
    if dead_man_s != 0 and not 1 <= dead_man_s <= 120:
        raise ValueError("dead_man_s must be 0 (off) or at most 120 (OKX accepts 10 to 120)")
    if dead_man_refresh_s < 1.0 / ep.DEAD_MAN_PER_S:
        raise ValueError("dead_man_refresh_s must be at least 1 s (OKX: one cancel-all-after per second)")
    if order_entry not in ("rest", "ws"):
        raise ValueError(f"order_entry must be rest or ws, not {order_entry!r}")
    if market not in MARKETS:
        raise ValueError(f"market must be spot or swap, not {market!r}")
    if position_mode not in POSITION_MODES:
        raise ValueError(f'position_mode must be "" or "net", not {position_mode!r}')


class OkxConnector:
    """One OKX instrument on one account (or a simulator speaking its protocol): `market` "spot", or
    "swap" (a USDT-margined perpetual, cross margin, net position; sizes in contracts on the wire, in
    base here: `ct` base per contract)."""

    def __init__(
        self,
        *,
        symbol: str,
        signer: OkxSigner,
        endpoints: Endpoints,
        clock: Clock,
        venue: str = "okx",
        market: str = "spot",
        dead_man_s: int = 60,
        dead_man_refresh_s: float = 10.0,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        cancel_confirm_s: float = 2.0,
        post_only_confirm_s: float = 0.5,
        funding_delay_s: float = 2.0,
        order_entry: str = "rest",
        leverage: int | None = None,
        position_mode: str = "",
    ) -> None:
        _check_options(budget, dead_man_s, dead_man_refresh_s, order_entry, market, position_mode)
        self.venue = venue
        self.market = market
        self.inst_type, self.td_mode = MARKETS[market]
        self.capabilities = SWAP_CAPABILITIES if market == "swap" else CAPABILITIES
        self.ct = Decimal(1)  # base per contract (SWAP ctVal), from the instrument
        self.symbol = symbol.upper()  # the instrument's name in our events (the caller's)
        self.inst_id = self.symbol  # ... and on the wire: BTC-USDT on the swap market is BTC-USDT-SWAP
        if market == "swap" and not self.inst_id.endswith("-SWAP"):
            self.inst_id += "-SWAP"
        self.endpoints = endpoints
        self.clock = clock
        self.signer = signer
        self.clock_offset_ms = 0  # the venue's clock minus ours
        self._dead_man_s, self._dead_man_refresh_s = dead_man_s, dead_man_refresh_s
        self._stale_after_s, self._cancel_confirm_s = stale_after_s, cancel_confirm_s
        self._post_only_confirm_s = post_only_confirm_s
        self._funding_delay_s = funding_delay_s
        self._order_entry, self._timeout_s, self._leverage = order_entry, timeout_s, leverage
        self._private_ws: WsClient | None = None
        self._ws_pending: dict[str, asyncio.Future[dict[str, Any]]] = {}  # order ops awaiting their answer
        self._ws_ids = 0  # order operations sent on the private WebSocket (ids taken)
        self._first: dict[str, asyncio.Future[OrderReport]] = {}  # post-only orders awaiting a report
        self._limits(budget, timeout_s)
        self._position_mode = position_mode
        self.account = AccountView()  # positions and balances as the private streams state them
        self.spec = InstrumentSpec("1", "1")
        self._info: InstrumentInfo | None = None
        self.queue: asyncio.Queue[VenueEvent] = EventQueue()  # direct to the engine (`_events`)
        self.health = StreamHealth(self.queue, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._ready = asyncio.Event()
        self._subscribed = 0
        self._resync: asyncio.Task[None] | None = None
        self._last_sync_ns = 0
        self._open: set[str] = set()  # client ids of our orders last seen open
        self._last_event_ns = 0
        self._dead_man_armed = False
        self.public: PublicStream | None = None

    # ---- plumbing --------------------------------------------------------------------------------

    def _limits(self, budget: float, timeout_s: float) -> None:
        """The local limiter at `budget` of OKX's limits: one quota per group of endpoints (one HTTP client
        each), and one per endpoint (`ep.LIMITS`, checked by `endpoint_gate`)."""
        self._limiter = RateLimiter()
        windows = {name: Window(max(1, int(n * budget)), ep.WINDOW_NS) for name, n in ep.QUOTAS.items()}
        windows["dead_man"] = Window(ep.DEAD_MAN_PER_S, 1_000_000_000)  # not scaled: 1 per second
        self._http = {name: self._client(name, w, timeout_s) for name, w in windows.items()}
        self._endpoint_quota = {  # each endpoint's own limit, this instrument's
            key: self._limiter.add_quota(key, [Window(max(1, int(n * budget)), window_ns)])
            for key, (n, window_ns) in ep.LIMITS.items()
        }

    def _client(self, name: str, window: Window, timeout_s: float) -> HttpClient:
        """The HTTP client of one endpoint group, charged to that group's local quota."""
        return HttpClient(
            self.venue,
            self.endpoints.rest,
            clock=self.clock,
            timeout_s=timeout_s,
            limiter=self._limiter,
            quota=self._limiter.add_quota(name, [window]),
            decode_error=self._decode,
        )

    def venue_now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000 + self.clock_offset_ms

    def _decode(self, resp: HttpResponse) -> VenueError | None:
        return decode_error(self.venue, resp)

    async def endpoint_gate(self, key: str, cost: int = 1, *, mutating: bool) -> None:
        """The endpoint's own local limit (`ep.LIMITS`, "METHOD path"; batch endpoints count orders): a
        write over it is refused at once (`RateLimitError`, code "local"), a read waits for its turn."""
        quota = self._endpoint_quota.get(key)
        if quota is None:
            return
        now = self.clock.now_ns()
        priority = "cancel" in key
        while (retry := self._limiter.try_acquire(quota, cost, now, priority)) is not None:
            if mutating or retry - now > ep.WINDOW_NS:
                raise RateLimitError(
                    f"{key}: local rate limit ({self.inst_id})",
                    venue=self.venue,
                    code="local",
                    retry_after_ns=retry,
                )
            await self.clock.sleep((retry - now) / 1e9)
            now = self.clock.now_ns()

    async def _call(
        self, method: str, path: str, params: list[tuple[str, str]], *, group: str, signed: bool = True
    ) -> list[Any]:
        await self.endpoint_gate(f"{method} {path}", mutating=_GROUPS[group])
        sent_ns = self.clock.monotonic_ns()
        query, body, headers = self._prepared(method, path, params, signed)
        try:
            resp = await self._http[group].request(
                method,
                path,
                query=query,
                body=body,
                headers=headers,
                mutating=_GROUPS[group],
                priority=group == "cancel",
            )
            code, msg, data = parse.envelope(orjson.loads(resp.body))
            if code != "0":
                raise error_from(self.venue, *(parse.first_item_error(data) or (code, msg)))
        except VenueError as e:
            if e.code == CLOCK and self._last_sync_ns <= sent_ns:
                self._schedule_resync()  # once: not for requests signed before the last sync
            raise
        return data

    def _prepared(
        self, method: str, path: str, params: list[tuple[str, str]], signed: bool = True
    ) -> tuple[str, bytes | None, dict[str, str]]:
        """The query, body and headers of one request (`_call`'s, and a rehearsed order's), signed with
        the venue's clock of now."""
        if signed:
            req = self.signer.sign(method, path, params, self.venue_now_ms())
            return req.query, req.body or None, dict(req.headers)
        return urlencode(params), None, {}

    def _schedule_resync(self) -> None:
        """One time resync at a time."""
        if self._resync is not None and not self._resync.done():
            return
        self._resync = asyncio.get_running_loop().create_task(self._sync_quietly())

    async def _sync_quietly(self) -> None:
        with contextlib.suppress(VenueError):
            await self.sync_time()

    async def sync_time(self) -> None:
        """Measure the venue's clock against ours (half the round trip counted)."""
        t0 = self.clock.now_ns()
        data = await self._call("GET", ep.SERVER_TIME, [], group="public", signed=False)
        t1 = self.clock.now_ns()
        self.clock_offset_ms = int(data[0]["ts"]) - (t0 + t1) // 2 // 1_000_000
        self._last_sync_ns = self.clock.monotonic_ns()

    # ---- lifecycle -------------------------------------------------------------------------------

    async def _load_info(self) -> InstrumentInfo:
        if self._info is None:
            rows = await self._call(
                "GET",
                ep.INSTRUMENTS,
                [("instType", self.inst_type), ("instId", self.inst_id)],
                group="public",
                signed=False,
            )
            if not rows:
                raise InvalidOrderError(f"unknown instrument {self.inst_id}", venue=self.venue)
            self._info = dataclasses.replace(parse.instrument_info(rows[0]), symbol=self.symbol)
            self.spec = self._info.spec()
            self.ct = parse.contract_value(rows[0])
        return self._info

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        """The instrument's rules and its current mid, by REST only (to size a strategy before `connect`)."""
        info = await self._load_info()
        data = await self._call(
            "GET", ep.BOOKS, [("instId", self.inst_id), ("sz", "5")], group="public", signed=False
        )
        return info, parse.mid_price(data)

    async def connect(self) -> None:
        if self._tasks:
            return  # connected already
        await self.sync_time()
        await self._load_info()
        await self.balances()  # the key works; seeds the balances the account channel keeps current
        await check_mode(self, self._position_mode)
        if self._leverage is not None:
            await self.set_leverage(self._leverage)
        loop = asyncio.get_running_loop()
        public = WsClient(
            self.venue,
            self.endpoints.public_ws,
            clock=self.clock,
            on_connect=lambda ws: PublicStream.subscribe(self, ws),
            stale_after_s=self._stale_after_s,
        )
        private = WsClient(
            self.venue,
            self.endpoints.private_ws,
            clock=self.clock,
            on_connect=lambda ws: PrivateStream.login(self, ws),
            stale_after_s=3600,
        )
        self.public = PublicStream(self, public)
        self._clients = [public, private]
        self._private_ws = private
        self._tasks = [
            loop.create_task(self.public.run()),
            loop.create_task(PrivateStream(self, private).run()),
        ]
        if self._dead_man_s:
            self._tasks.append(loop.create_task(self._dead_man()))
        if self.market == "swap":
            self._tasks.append(loop.create_task(self._funding_watch()))
        await self.clock.wait_for(self._ready.wait(), 10)

    async def close(self) -> None:
        self.health.stop()
        for c in self._clients:
            await c.close()
        tasks = [*self._tasks, *([self._resync] if self._resync else [])]
        if self.public is not None:
            tasks += self.public.tasks()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._clients = [], []
        for h in self._http.values():
            await h.close()

    async def venue_time(self) -> VenueTime:
        """`GET /api/v5/public/time` (milliseconds)."""
        return parse.venue_time(await self._call("GET", ep.SERVER_TIME, [], group="public", signed=False))

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        if self._info is None or symbol != self.symbol:
            raise InvalidOrderError(f"unknown instrument {symbol}", venue=self.venue)
        return self._info

    def trading_spec(self) -> InstrumentSpec:
        return self.spec

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self.queue.get()

    # ---- the private stream ----------------------------------------------------------------------

    async def private_ready(self) -> None:
        """The `orders` channel is subscribed: after a reconnect, catch up by REST, then `up`."""
        self._subscribed += 1
        if self._subscribed > 1:
            await self._catch_up()
        self._ready.set()
        self.health.up(Stream.PRIVATE)

    def on_order(self, o: dict[str, Any], ts_recv: int) -> None:
        """An `orders` push's order: its fill (if it carries one), then its report, to the engine (in the
        read that brought it). Raises for a malformed order (nothing handed over)."""
        f = parse.order_fill(o, self.spec, self._base(), ts_recv, self.ct, name=self.symbol)
        r = self._report(o, ts_recv)
        self._last_event_ns = ts_recv
        if f is not None:
            self.queue.put_nowait(f)
        self.queue.put_nowait(r)

    def _base(self) -> str:
        return self._info.base if self._info is not None else ""

    def _report(self, o: dict[str, Any], ts_recv: int) -> OrderReport:
        r = parse.order_report(o, self.spec, ts_recv, self.ct, name=self.symbol)
        first = self._first.get(r.client_id)
        if first is not None and not first.done():
            first.set_result(r)
        if r.state is OrderState.OPEN:
            self._open.add(r.client_id)
        else:
            self._open.discard(r.client_id)
        return r

    async def _catch_up(self) -> None:
        since = max(0, (self._last_event_ns or self.clock.now_ns()) - 60_000_000_000)
        try:
            before = set(self._open)
            now_open = await self.open_orders()
            for r in now_open:
                self.queue.put_nowait(r)
            for cid in sorted(before - {r.client_id for r in now_open}):
                found = await self.query(cid)
                if found is not None:
                    self.queue.put_nowait(found)
            for f in await self.fills_since(since):
                self.queue.put_nowait(f)
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)

    # ---- orders ----------------------------------------------------------------------------------

    def order_params(self, approval: Approval, client_id: str) -> list[tuple[str, str]]:
        """The place-order fields of one approved order."""
        a = require_approval(approval)
        if a.reduce_only and self.market != "swap":
            raise InvalidOrderError("OKX spot has no reduce-only orders", venue=self.venue)
        if a.order_type == OrderType.MARKET:
            ord_type = "ioc"  # at the gate's protective price: an OKX market order has no price limit
        elif a.post_only:
            ord_type = "post_only"
        else:
            found = {TimeInForce.GTC: "limit", TimeInForce.IOC: "ioc", TimeInForce.FOK: "fok"}.get(a.tif)
            if found is None:
                raise InvalidOrderError("OKX has no GTD orders", venue=self.venue)
            ord_type = found
        params = [
            ("instId", self.inst_id),
            ("tdMode", self.td_mode),
            ("clOrdId", client_id),
            ("side", "buy" if a.side == Side.BUY else "sell"),
            ("ordType", ord_type),
            ("px", self.spec.format_price(a.price)),
            ("sz", parse.size_text(a.qty, self.spec, self.ct)),
        ]
        if a.reduce_only:
            params.append(("reduceOnly", "true"))
        return params

    def _placement(self, approval: Approval, client_id: str, instrument: str) -> list[tuple[str, str]]:
        """`submit`'s order fields (and its rehearsal's): this connector's instrument only."""
        if instrument != self.symbol:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)
        return self.order_params(approval, client_id)

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): the order's
        fields, then the signed `POST trade/order` request's bytes (REST) or the `order` op's frame with
        the next request id, untaken (WebSocket). No quota, no id, no future, nothing sent."""
        params = self._placement(approval, client_id, instrument)
        if self._order_entry == "ws":
            return len(ws_frame(self._next_ws_id(), "order", [dict(params)]))
        query, body, headers = self._prepared("POST", ep.ORDER, params)
        return len(self._http["place"].encode("POST", ep.ORDER, query=query, body=body, headers=headers))

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        params = self._placement(approval, client_id, instrument)
        first: asyncio.Future[OrderReport] | None = None
        if approval.post_only:  # OKX places it, then cancels it (cancelSource 31) if it would take
            first = self._first[client_id] = asyncio.get_running_loop().create_future()
        try:
            if self._order_entry == "ws":
                data = await self.ws_op("order", [dict(params)], mutating=True)
            else:
                data = await self._call("POST", ep.ORDER, params, group="place")
            if first is not None:
                await self._post_only_outcome(client_id, first)
        finally:
            self._first.pop(client_id, None)
        return SubmitAck(client_id, str(data[0]["ordId"]))

    async def _post_only_outcome(self, client_id: str, first: asyncio.Future[OrderReport]) -> None:
        """The first report of a post-only order (the stream's, within `post_only_confirm_s`): refused
        if the venue canceled it as a taker. No report in time: the ack stands, a later report tells."""
        try:
            report = await self.clock.wait_for(asyncio.shield(first), self._post_only_confirm_s)
        except TimeoutError:
            return
        if report.state is OrderState.REJECTED:
            raise InvalidOrderError(
                f"post-only order {client_id} would take liquidity", venue=self.venue, code="31"
            )

    async def cancel(self, client_id: str) -> None:
        """`POST cancel-order` by clOrdId (sCode 0: accepted), then wait until the order shows closed.
        `OrderNotFoundError` (51400) if it was already closed or unknown."""
        params = [("instId", self.inst_id), ("clOrdId", client_id)]
        if self._order_entry == "ws":
            await self.ws_op("cancel-order", [dict(params)], mutating=True)
        else:
            await self._call("POST", ep.CANCEL, params, group="cancel")
        deadline = self.clock.monotonic_ns() + int(self._cancel_confirm_s * 1e9)
        while True:
            found = await self.query(client_id)
            if found is None or found.state is not OrderState.OPEN:
                return
            if self.clock.monotonic_ns() >= deadline:
                raise VenueError(f"cancel of {client_id} not confirmed", venue=self.venue)
            await self.clock.sleep(0.02)

    async def cancel_all(self, instrument: str | None = None) -> int:
        """The open orders, canceled in batches of 20 (`cancel-batch-orders`); how many were canceled."""
        return await batch.cancel_all(self)

    async def submit_batch(self, orders: Sequence[tuple[Approval, str]]) -> list[SubmitAck | VenueError]:
        """Several approved orders in `batch-orders` requests of up to 20: per order its ack or its typed
        refusal (in order). A lost answer raises `UnknownOutcomeError` for the whole batch (query each)."""
        return await batch.submit_batch(self, orders)

    async def amend_batch(self, amends: Sequence[batch.Amend]) -> list[VenueError | None]:
        """(client id, new price or None, new qty or None) each, in `amend-batch-orders` requests of up to
        20 (WS `batch-amend-orders`): per amend None (accepted) or its typed refusal (per-item sCode)."""
        return await batch.amend_batch(self, amends)

    async def cancel_batch(self, client_ids: Sequence[str]) -> list[VenueError | None]:
        """`cancel-batch-orders` by clOrdId (WS `batch-cancel-orders`): per order None or its refusal."""
        return await batch.cancel_batch(self, client_ids)

    def http(self, group: str) -> HttpClient:
        return self._http[group]

    @property
    def order_entry(self) -> str:
        return self._order_entry

    async def ws_op(
        self, op: str, args: list[dict[str, str]], *, mutating: bool, whole: bool = False
    ) -> list[Any]:
        """One order operation on the private WebSocket, answered by `id` (`ws_answer`). No answer in
        time, or the connection gone: `UnknownOutcomeError` (the engine queries by clOrdId)."""
        ws = self._private_ws
        if ws is None:
            raise VenueUnavailableError("the private WebSocket is not connected", venue=self.venue)
        await self.endpoint_gate(ep.WS_OPS.get(op, op), len(args), mutating=mutating)
        rid = self._next_ws_id()
        self._ws_ids += 1
        answer = self._ws_pending[rid] = asyncio.get_running_loop().create_future()
        try:
            await ws.send(ws_frame(rid, op, args))
            msg = await self.clock.wait_for(asyncio.shield(answer), self._timeout_s)
        except (TimeoutError, VenueUnavailableError):
            if not mutating:
                raise VenueUnavailableError(f"WS {op}: no answer", venue=self.venue) from None
            raise UnknownOutcomeError(f"WS {op}: no answer", venue=self.venue) from None
        finally:
            self._ws_pending.pop(rid, None)
        data = msg.get("data") if isinstance(msg.get("data"), list) else []
        if whole and str(msg.get("code")) in ("0", "1", "2"):
            return data  # a batch: each item says how it went
        if str(msg.get("code")) != "0":
            code, text = parse.first_item_error(data) or (str(msg.get("code")), str(msg.get("msg", "")))
            raise error_from(self.venue, code, text)
        return data

    def _next_ws_id(self) -> str:
        """The `id` of the next order operation sent on the private WebSocket (taken only by sending it)."""
        return f"{self._ws_ids + 1}"

    def ws_awaiting(self) -> bool:
        """Whether an order operation sent on the private WebSocket waits for its answer."""
        return bool(self._ws_pending)

    def ws_answer(self, msg: dict[str, Any]) -> bool:
        """An answer to an order operation sent on the private WebSocket (by its `id`): True when it was
        awaited (its caller has it now), False when no operation waits for it (late, or not ours)."""
        fut = self._ws_pending.get(str(msg.get("id", "")))
        if fut is None or fut.done():
            return False
        fut.set_result(msg)
        return True

    async def amend(self, client_id: str, *, price: int | None = None, qty: int | None = None) -> None:
        """`amend-order` by clOrdId: a new price and/or a new total quantity (above what filled). The
        outcome arrives as the order's next report; `OrderNotFoundError` when it is no longer open."""
        params = batch.amend_params(self, client_id, price, qty)
        if self._order_entry == "ws":
            await self.ws_op("amend-order", [dict(params)], mutating=True)
        else:
            await self._call("POST", ep.AMEND, params, group="place")

    async def query(self, client_id: str) -> OrderReport | None:
        try:
            data = await self._call(
                "GET", ep.ORDER, [("instId", self.inst_id), ("clOrdId", client_id)], group="read"
            )
        except OrderNotFoundError as e:
            if e.code == NOT_FOUND:
                return None
            raise
        return self._report(data[0], self.clock.now_ns()) if data else None

    async def pending(self) -> list[dict[str, Any]]:
        params = [("instType", self.inst_type), ("instId", self.inst_id), ("limit", str(ep.PAGE))]
        return await self._call("GET", ep.PENDING, params, group="read")

    async def open_orders(self) -> list[OrderReport]:
        now = self.clock.now_ns()
        return [self._report(o, now) for o in reversed(await self.pending())]

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        begin = str(max(0, ts_ns // 1_000_000 - 1))
        params = [
            ("instType", self.inst_type),
            ("instId", self.inst_id),
            ("begin", begin),
            ("limit", str(ep.PAGE)),
        ]
        rows = await self._call("GET", ep.FILLS, params, group="read")
        now = self.clock.now_ns()
        fills = [
            parse.fill(f, self.spec, self._base(), now, self.ct, name=self.symbol) for f in reversed(rows)
        ]
        return [f for f in fills if f.ts_event >= ts_ns]

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """Swap: the funding settled at or after `ts_ns` (bills of type 8, with their billId). Spot: none."""
        if self.market != "swap":
            return []
        begin = str(max(0, ts_ns // 1_000_000 - 1))
        params = [("instType", "SWAP"), ("instId", self.inst_id), ("type", "8"), ("begin", begin)]
        rows = await self._call("GET", ep.BILLS, [*params, ("limit", str(ep.PAGE))], group="account")
        now = self.clock.now_ns()
        payments = [parse.funding(b, now, name=self.symbol) for b in reversed(rows)]
        return [p for p in payments if p.ts_event >= ts_ns]

    async def positions(self) -> dict[str, int]:
        """Swap: the net position (contracts, in base units). Spot: the base asset's cash balance, in lot
        units (rounded down to a lot). Read by REST (the reconciliation source), which also reseeds what
        the private streams keep (`stream_positions`)."""
        if self.market == "swap":
            rows = await self._call(
                "GET", ep.POSITIONS, [("instType", "SWAP"), ("instId", self.inst_id)], group="account"
            )
            units = parse.position_units(rows, self.inst_id, self.spec, self.ct)
        else:
            data = await self._call("GET", ep.BALANCE, [("ccy", self._base())], group="account")
            units = spot_lots(parse.cash(data, self._base()), self)
        self.account.positions[self.symbol] = units
        return {self.symbol: units}

    async def balances(self) -> dict[str, Decimal]:
        """The cash balance per currency (`GET /api/v5/account/balance`); reseeds `stream_balances`."""
        found = parse.account_push({"data": await self._call("GET", ep.BALANCE, [], group="account")})
        self.account.balances = dict(found)
        return found

    def stream_positions(self) -> dict[str, int]:
        """The position as the private streams last stated it (swap: `positions`; spot: the base balance of
        `account`), without a request; {} before anything was heard."""
        return self.account.held(self)

    def stream_balances(self) -> dict[str, Decimal]:
        """Cash per currency as the `account` channel last stated it (seeded by REST at connect)."""
        return dict(self.account.balances)

    async def set_leverage(self, leverage: int) -> int:
        """Swap: the instrument's leverage in cross margin (`account/set-leverage`); the venue's answer."""
        if self.market != "swap":
            raise InvalidOrderError("leverage applies to the swap market", venue=self.venue)
        params = [("instId", self.inst_id), ("lever", str(leverage)), ("mgnMode", "cross")]
        data = await self._call("POST", ep.SET_LEVERAGE, params, group="account")
        return int(Decimal(str(data[0]["lever"])))

    # ---- funding -------------------------------------------------------------------------------------

    async def _funding_watch(self) -> None:
        """Swap: after each funding time (`public/funding-rate`'s `fundingTime`), the settlements on our
        position as `FundingPayment` events, read from the bills (each billId once)."""
        seen: set[str] = set()
        since = self.venue_now_ms() * 1_000_000
        while True:
            try:
                data = await self._call(
                    "GET", ep.FUNDING_RATE, [("instId", self.inst_id)], group="public", signed=False
                )
                due_ms = int(data[0]["fundingTime"])
                wait_s = max(0.0, (due_ms - self.venue_now_ms()) / 1000) + self._funding_delay_s
                await self.clock.sleep(min(wait_s, 3600.0))
                for p in await self.funding_since(since):
                    if p.funding_id not in seen:
                        seen.add(p.funding_id)
                        self.queue.put_nowait(p)
            except VenueError as e:
                log.warning("%s: funding check failed: %s", self.venue, e)
                await self.clock.sleep(self._funding_delay_s)

    # ---- the dead-man switch ---------------------------------------------------------------------

    async def _dead_man(self) -> None:
        """Armed and refreshed while our orders rest; disarmed when none do."""
        while True:
            try:
                if self._open:
                    await self._cancel_all_after(self._dead_man_s)
                    self._dead_man_armed = True
                elif self._dead_man_armed:
                    await self._cancel_all_after(0)
                    self._dead_man_armed = False
            except VenueError as e:
                log.warning("%s: cancel-all-after failed: %s", self.venue, e)
            await self.clock.sleep(self._dead_man_refresh_s)

    async def _cancel_all_after(self, seconds: int) -> None:
        await self._call("POST", ep.CANCEL_ALL_AFTER, [("timeOut", str(seconds))], group="dead_man")


def ws_frame(rid: str, op: str, args: list[dict[str, str]]) -> bytes:
    """One order operation on the private WebSocket, as sent (answered by its `id`)."""
    return orjson.dumps({"id": rid, "op": op, "args": args})


def loopback_connector(url: str, *, symbol: str, clock: Clock, **options: Any) -> OkxConnector:
    """A connector to a `trader.sim.okx` server at `url` with its demo account."""
    from trader.sim.okx import DEMO_KEY, DEMO_PASSPHRASE, DEMO_SECRET

    return OkxConnector(
        symbol=symbol,
        signer=OkxSigner(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE),
        endpoints=Endpoints.loopback(url),
        clock=clock,
        **options,
    )
