"""Binance spot over REST + WebSocket: orders by REST, the book from the diff-depth stream, private
events from the WebSocket API's user-data subscription.

The built-in `sim` venue speaks the same protocol (a documented subset of Binance spot), so this one
connector trades both: pointed at `trader sim`'s loopback server it is the network path of `trader paper`.

- Requests are signed in the core (`BinanceSigner`); the signed query string is sent byte for byte.
- The book follows Binance's procedure: buffer the stream, fetch a REST snapshot, apply the buffered
  events under the `U`/`u` rule (in the core), and start over on a gap, a reconnect or a stale feed; the
  engine is told (`BookInvalid`) and trades on nothing meanwhile.
- `executionReport`s become `OrderReport`s and `FillReport`s; after the private stream reconnects, open
  orders and recent trades are fetched so nothing missed in between is lost (the engine de-duplicates).
- Timestamps carry the measured offset to the server clock; `-1021` resynchronizes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    ParseError,
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
    VenueEvent,
    require_approval,
)

log = logging.getLogger("trader.venues.binance")

CAPABILITIES = Capabilities(
    venue="binance",
    tier=Tier.CRYPTO,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC", "FOK"}),
    post_only=True,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=False,
    ws_order_entry=False,
    max_batch=1,
    paper_environment=True,
    needs_credentials=True,
)

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


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    """Binance's `{"code": -2010, "msg": "..."}` bodies as typed errors (binance.md §8)."""
    try:
        body = orjson.loads(resp.body)
        code, msg = int(body["code"]), str(body["msg"])[:200]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    c = str(code)
    if code in (-1021, -1022, -2014, -2015, -1002):
        return AuthenticationError(msg, venue=venue, code=c)
    if code in (-2011, -2013):
        return OrderNotFoundError(msg, venue=venue, code=c)
    if code == -2010 and "insufficient balance" in msg:
        return InsufficientFundsError(msg, venue=venue, code=c)
    if code in (-1003, -1015):
        return RateLimitError(msg, venue=venue, code=c)
    return InvalidOrderError(msg, venue=venue, code=c)


def _side(s: str) -> Side:
    return Side.BUY if s == "BUY" else Side.SELL


class BinanceSpot:
    """One symbol on Binance spot (or on a simulator speaking its protocol)."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        symbol: str,
        signer: BinanceSigner,
        rest_url: str,
        stream_url: str,
        ws_api_url: str,
        clock: Clock,
        venue: str = "binance",
        recv_window_ms: int = 5000,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self._signer = signer
        self._rest_url = rest_url.rstrip("/")
        self._stream_url = stream_url.rstrip("/")
        self._ws_api_url = ws_api_url
        self.clock = clock
        self._recv_window = recv_window_ms
        self._stale_after_s = stale_after_s
        self._limiter = RateLimiter()
        self._weight = self._limiter.add_quota("weight", [Window(6000, 60_000_000_000)])
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
        self._info: InstrumentInfo | None = None
        self.spec: InstrumentSpec | None = None
        self.book: Book | None = None
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._order_ids: dict[int, str] = {}  # venue order id -> client order id
        self._ids = itertools.count(1)
        self._last_private_ms = 0

    # ---- plumbing --------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000 + self._offset_ms

    def _on_response(self, resp: HttpResponse) -> None:
        used = resp.headers.get("x-mbx-used-weight-1m")
        if used is not None and used.isdigit():
            self._limiter.observe_usage(self._weight, 60_000_000_000, int(used), self.clock.now_ns())

    async def _public(self, path: str, query: str = "", cost: int = 1) -> Any:
        resp = await self._http.request("GET", path, query=query, mutating=False, cost=cost)
        return orjson.loads(resp.body)

    async def _signed(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str | int | bool]],
        *,
        mutating: bool,
        cost: int = 1,
        priority: bool = False,
    ) -> Any:
        req = self._signer.sign(method, path, params, self._now_ms(), self._recv_window)
        resp = await self._http.request(
            method,
            req.path,
            query=req.query,
            headers=dict(req.headers),
            mutating=mutating,
            cost=cost,
            priority=priority,
        )
        return orjson.loads(resp.body)

    async def sync_time(self) -> int:
        """Measure the offset to the server clock (ms, half the round trip assumed each way)."""
        t0 = self.clock.now_ns()
        server = (await self._public("/api/v3/time"))["serverTime"]
        t1 = self.clock.now_ns()
        self._offset_ms = int(server) - (t0 + t1) // 2_000_000
        return self._offset_ms

    # ---- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.sync_time()
        info = await self._public("/api/v3/exchangeInfo", f"symbol={self.symbol}", cost=20)
        self._load_info(info)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._market_data()), loop.create_task(self._private())]

    def _load_info(self, info: dict[str, Any]) -> None:
        windows: dict[str, list[Window]] = {}
        for rl in info.get("rateLimits", []):
            interval = _INTERVALS_NS[rl["interval"]] * int(rl["intervalNum"])
            windows.setdefault(rl["rateLimitType"], []).append(Window(int(rl["limit"]), interval))
        if windows.get("ORDERS") and self._orders_quota is None:
            self._orders_quota = self._limiter.add_quota("orders", windows["ORDERS"])
        sym = next((s for s in info.get("symbols", []) if s["symbol"] == self.symbol), None)
        if sym is None:
            raise InvalidOrderError(f"unknown symbol {self.symbol}", venue=self.venue, code="-1121")
        f = {x["filterType"]: x for x in sym["filters"]}
        notional = f.get("NOTIONAL", f.get("MIN_NOTIONAL", {})).get("minNotional", "0")
        self._info = InstrumentInfo(
            self.symbol,
            sym["baseAsset"],
            sym["quoteAsset"],
            Decimal(f["PRICE_FILTER"]["tickSize"]).normalize().to_eng_string(),
            Decimal(f["LOT_SIZE"]["stepSize"]).normalize().to_eng_string(),
            Decimal(f["LOT_SIZE"]["minQty"]).normalize().to_eng_string(),
            Decimal(notional).normalize().to_eng_string(),
        )
        i = self._info
        self.spec = InstrumentSpec(i.tick_size, i.lot_size, min_qty=i.min_qty, min_notional=i.min_notional)
        self.book = Book(self.spec)

    async def close(self) -> None:
        for c in self._clients:
            await c.close()
        for t in self._tasks:
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

    # ---- orders ----------------------------------------------------------------------------------

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        a = require_approval(approval)
        spec = self.trading_spec()
        params: list[tuple[str, str | int | bool]] = [
            ("symbol", instrument),
            ("side", "BUY" if a.side == Side.BUY else "SELL"),
        ]
        if a.order_type == OrderType.MARKET:
            params.append(("type", "MARKET"))
        elif a.post_only:
            params += [("type", "LIMIT_MAKER"), ("price", spec.format_price(a.price))]
        else:
            tif = {TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}.get(a.tif, "GTC")
            params += [("type", "LIMIT"), ("timeInForce", tif), ("price", spec.format_price(a.price))]
        params += [
            ("quantity", spec.format_qty(a.qty)),
            ("newClientOrderId", client_id),
            ("newOrderRespType", "ACK"),
        ]
        if self._orders_quota is not None:
            retry = self._limiter.try_acquire(self._orders_quota, 1, self.clock.now_ns())
            if retry is not None:
                raise RateLimitError(
                    "order rate limit (local)", venue=self.venue, code="local", retry_after_ns=retry
                )
        body = await self._signed("POST", "/api/v3/order", params, mutating=True)
        venue_id = int(body["orderId"])
        self._order_ids[venue_id] = client_id
        return SubmitAck(client_id, str(venue_id))

    async def cancel(self, client_id: str) -> None:
        params: list[tuple[str, str | int | bool]] = [
            ("symbol", self.symbol),
            ("origClientOrderId", client_id),
        ]
        await self._signed("DELETE", "/api/v3/order", params, mutating=True, priority=True)

    async def cancel_all(self, instrument: str | None = None) -> int:
        params: list[tuple[str, str | int | bool]] = [("symbol", instrument or self.symbol)]
        try:
            body = await self._signed("DELETE", "/api/v3/openOrders", params, mutating=True, priority=True)
        except OrderNotFoundError:
            return 0  # -2011: nothing was open
        return len(body)

    def _report(self, o: dict[str, Any]) -> OrderReport:
        spec = self.trading_spec()
        cid = str(o["clientOrderId"])
        self._order_ids[int(o["orderId"])] = cid
        return OrderReport(
            cid,
            str(o["orderId"]),
            str(o["symbol"]),
            _side(o["side"]),
            spec.price_to_units(o["price"]) if Decimal(o["price"]) else 0,
            spec.qty_to_units(o["origQty"]),
            spec.qty_to_units(o["executedQty"]),
            _STATES[o["status"]],
        )

    async def query(self, client_id: str) -> OrderReport | None:
        params: list[tuple[str, str | int | bool]] = [
            ("symbol", self.symbol),
            ("origClientOrderId", client_id),
        ]
        try:
            body = await self._signed("GET", "/api/v3/order", params, mutating=False, cost=4)
        except OrderNotFoundError:
            return None
        return self._report(body)

    async def open_orders(self) -> list[OrderReport]:
        params: list[tuple[str, str | int | bool]] = [("symbol", self.symbol)]
        body = await self._signed("GET", "/api/v3/openOrders", params, mutating=False, cost=6)
        return [self._report(o) for o in body]

    async def _client_id(self, order_id: int) -> str:
        cid = self._order_ids.get(order_id)
        if cid is None:
            params: list[tuple[str, str | int | bool]] = [("symbol", self.symbol), ("orderId", order_id)]
            body = await self._signed("GET", "/api/v3/order", params, mutating=False, cost=4)
            cid = self._report(body).client_id
        return cid

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
            params: list[tuple[str, str | int | bool]] = [("symbol", self.symbol), ("limit", 1000)]
            params.append(("fromId", from_id) if from_id is not None else ("startTime", ts_ns // 1_000_000))
            page = await self._signed("GET", "/api/v3/myTrades", params, mutating=False, cost=20)
            for t in page:
                price = spec.price_to_units(t["price"])
                out.append(
                    FillReport(
                        await self._client_id(int(t["orderId"])),
                        str(t["id"]),
                        self.symbol,
                        Side.BUY if t["isBuyer"] else Side.SELL,
                        price,
                        spec.qty_to_units(t["qty"]),
                        self._fee_in_quote(t["commission"], t["commissionAsset"], price),
                        int(t["time"]) * 1_000_000,
                        bool(t["isMaker"]),
                    )
                )
            if len(page) < 1000:
                return out
            from_id = int(page[-1]["id"]) + 1

    async def balances(self) -> dict[str, Decimal]:
        """Free + locked per asset (GET /api/v3/account)."""
        body = await self._signed("GET", "/api/v3/account", [], mutating=False, cost=20)
        return {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in body["balances"]}

    async def positions(self) -> dict[str, int]:
        info = await self.instrument_info(self.symbol)
        spec = self.trading_spec()
        total = (await self.balances()).get(info.base, Decimal(0))
        return {self.symbol: spec.qty_to_units(str(total.quantize(Decimal(spec.qty_unit))))}

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    # ---- market data -----------------------------------------------------------------------------

    async def _market_data(self) -> None:
        url = f"{self._stream_url}/ws/{self.symbol.lower()}@depth@100ms"
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
                except VenueError as e:
                    log.warning("depth snapshot failed: %s", e)
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
        resp = await self._http.request(
            "GET", "/api/v3/depth", query=f"symbol={self.symbol}&limit=1000", mutating=False, cost=50
        )
        return resp.body

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
                self.clock.now_ns(),
                m.recv_ns,
            )
        )
        return True

    # ---- private stream --------------------------------------------------------------------------

    async def _subscribe(self, ws: WsClient) -> None:
        params = self._signer.ws_params([], self._now_ms(), None)
        req = b'{"id":%d,"method":"userDataStream.subscribe.signature","params":%s}' % (
            next(self._ids),
            params.encode(),
        )
        await ws.send(req)

    async def _private(self) -> None:
        ws = WsClient(
            self.venue, self._ws_api_url, clock=self.clock, on_connect=self._subscribe, stale_after_s=3600
        )
        self._clients.append(ws)
        connects = 0
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                connects += 1
                if connects > 1:  # catch up on what the stream missed while down
                    with contextlib.suppress(VenueError):
                        for r in await self.open_orders():
                            self._queue.put_nowait(r)
                        for f in await self.fills_since(max(0, self._last_private_ms - 60_000) * 1_000_000):
                            self._queue.put_nowait(f)
                continue
            if not isinstance(ev, WsMessage):
                continue
            try:
                msg = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                log.warning("malformed private message skipped")
                continue
            if "status" in msg and msg.get("status") != 200:
                log.error("user data subscription refused: %s", msg.get("error", {}).get("msg", "?"))
                continue
            event = msg.get("event")
            if isinstance(event, dict) and event.get("e") == "executionReport":
                try:
                    await self._execution(event)
                except (KeyError, ValueError, VenueError) as e:
                    log.warning("malformed executionReport skipped: %s", e)

    async def _execution(self, e: dict[str, Any]) -> None:
        spec = self.trading_spec()
        self._last_private_ms = int(e.get("E", 0))
        x = e["x"]
        cid = e["C"] if x == "CANCELED" and e.get("C") else e["c"]
        self._order_ids[int(e["i"])] = cid
        side = _side(e["S"])
        price = spec.price_to_units(e["p"]) if Decimal(e["p"]) else 0
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
                    self._fee_in_quote(e["n"], e.get("N") or "", fill_price),
                    int(e["T"]) * 1_000_000,
                    bool(e["m"]),
                )
            )
        state = _STATES.get(e["X"])
        if state is None:
            return
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
                str(e.get("r", "NONE")) if state is OrderState.REJECTED else "",
            )
        )
