"""Kraken spot: REST (`/0/public`, `/0/private`) and WebSocket v2 (`streams.py`).

- Every REST call goes through `_http.HttpClient`; private calls are signed by the core's `KrakenSigner`
  (API-Sign over the path and SHA256(nonce + body); the secret stays in Rust). Kraken answers HTTP 200 with
  `{"error": [...], "result": ...}`: a non-empty `error` is classified by `errors.py`.
- Nonces: the signer issues max(now in ms, last + 1), so a clock stepping back never reuses one. The last
  nonce used is handed to `nonce_store` after every signed request (a file, the journal's counters) and
  comes back as `last_nonce` on the next start, so a restart never reuses one either. An order's
  rehearsal (`rehearse`, the engine's under busy-polling) signs with the nonce the next request will take
  and takes none, so a rehearsal never pushes a later nonce up.
- Orders: AddOrder with our id as `cl_ord_id`; `submit` is single-shot (a timeout or 5xx is
  `UnknownOutcomeError`; `query` finds the order by `cl_ord_id` in OpenOrders, then ClosedOrders).
  Limit GTC / IOC / GTD (`expiretm`), post-only (`oflags=post`), market orders. With `order_entry="ws"`
  (or `ws_orders=True`) orders, amends, batches and cancels go over the authenticated WebSocket instead
  (`add_order`, `amend_order`, `batch_add`, `cancel_order`), numbers written as the exact decimal text.
  REST is the default: its order path is the one the conformance suite drives through injected faults
  (timeouts, 5xx, dropped answers: `UnknownOutcomeError`, never resent), and it works while the private
  socket reconnects; the socket saves the HTTP round trip and the signing per order (Kraken counts both
  alike on the trading counter). Kraken spot has no FOK and no reduce-only without margin: both are
  refused before sending.
- Dead-man switch: while our orders rest, CancelAllOrdersAfter(`dead_man_s`) is re-sent every
  `dead_man_refresh_s`; when none rest it is disarmed (timeout 0).
- Streams: the public `book` (the core's book, Kraken's CRC32 checked on every message; a mismatch is a
  `BookInvalid` and a re-subscription) and `trade` (a connection each), both handled in the read that
  brought them and handed to the engine there when it waits (the queue is an `EventQueue`); the private
  `executions` (token from GetWebSocketsToken) as `OrderReport`s and `FillReport`s, handed to the engine
  in the read that brought them too, caught up by REST after a reconnect (a task started from the read);
  order answers on that socket are handed to their request in the read.
- Rate limits (`rate_tier`, Kraken's verification tier; default starter): Kraken's own decaying counters
  kept locally (`ratelimit.py`): the key's REST call counter (+1 a call, +2 TradesHistory; reads wait their
  turn) and the trading engine's counter per pair (add, batch, amend and cancel by the order's age); an
  order over the limit is refused locally (`RateLimitError`), nothing sent; a cancel always goes.
- Amend (`amend`: AmendOrder, or `amend_order` on the socket) changes an open order's price and/or total
  quantity in place, the same txid (EditOrder, the legacy call that replaces the order, is not used).
  `submit_batch` places up to 15 orders of one pair in one AddOrderBatch (a JSON body) or `batch_add`.
- Kraken has no spot testnet: environments are `live` and a loopback simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson

from trader.clock import Clock
from trader.core import (
    Approval,
    InstrumentSpec,
    Keystore,
    KrakenSigner,
    OrderType,
    Side,
    TimeInForce,
)
from trader.errors import (
    AuthenticationError,
    InvalidOrderError,
    OrderNotFoundError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._events import EventQueue
from trader.venues._http import HttpClient
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
from trader.venues.kraken import endpoints as ep
from trader.venues.kraken import parse
from trader.venues.kraken.endpoints import Endpoints
from trader.venues.kraken.errors import INVALID_NONCE, error_from
from trader.venues.kraken.parse import PairInfo
from trader.venues.kraken.ratelimit import Counters
from trader.venues.kraken.streams import MarketStream, PrivateStream, TradeStream
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.kraken")

CAPABILITIES = Capabilities(
    venue="kraken",
    tier=Tier.CRYPTO,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC", "GTD"}),
    post_only=True,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=True,
    ws_order_entry=True,
    max_batch=ep.MAX_BATCH,
    paper_environment=False,
    needs_credentials=True,
)
MINUTE_NS = 60 * parse.NS
NONCE_RETRIES = 3


class KrakenConnector:
    """Spot pairs on one Kraken account (or a simulator speaking its protocol). Instruments are the pairs'
    `altname`s (XBTUSD)."""

    def __init__(
        self,
        *,
        symbols: Sequence[str],
        api_key: str,
        secret: str | Keystore,
        endpoints: Endpoints,
        clock: Clock,
        venue: str = "kraken",
        last_nonce: int = 0,
        nonce_store: Callable[[int], None] | None = None,
        dead_man_s: int = 60,
        dead_man_refresh_s: float = 15.0,
        book_depth: int = 10,
        market_data: bool = True,
        stale_after_s: float = 10.0,
        timeout_s: float = 10.0,
        rate_tier: str | None = "starter",
        ws_orders: bool = False,
        order_entry: str | None = None,
    ) -> None:
        if not symbols:
            raise ValueError("at least one symbol is needed")
        if book_depth not in ep.BOOK_DEPTHS:
            raise ValueError(f"book_depth must be one of {ep.BOOK_DEPTHS}")
        if dead_man_s < 0 or dead_man_refresh_s <= 0 or (dead_man_s and dead_man_refresh_s >= dead_man_s):
            raise ValueError("dead_man_refresh_s must be positive and shorter than dead_man_s")
        self.venue = venue
        self.capabilities = CAPABILITIES
        self.symbols = tuple(s.upper() for s in symbols)
        self.endpoints = endpoints
        self.clock = clock
        self._signer = KrakenSigner(api_key, secret, last_nonce=last_nonce)
        self._nonce_store = nonce_store
        self._dead_man_s, self._dead_man_refresh_s = dead_man_s, dead_man_refresh_s
        self.book_depth = book_depth
        self._market_data = market_data
        self._stale_after_s = stale_after_s
        self._timeout_s = timeout_s
        if order_entry not in (None, "rest", "ws"):
            raise ValueError(f"order_entry must be rest or ws, not {order_entry!r}")
        self.ws_orders = ws_orders if order_entry is None else order_entry == "ws"
        self.private_ready = asyncio.Event()  # the executions subscription was acknowledged
        if rate_tier is not None and rate_tier not in ep.RATE_TIERS:
            raise ValueError(f"rate_tier must be one of {', '.join(ep.RATE_TIERS)} (or None)")
        self.counters = Counters(rate_tier, clock, venue) if rate_tier is not None else None
        self._http = HttpClient(venue, endpoints.rest, clock=clock, timeout_s=timeout_s)
        self.pairs: dict[str, PairInfo] = {}  # altname -> pair
        self.by_symbol: dict[str, PairInfo] = {}  # v2 symbol -> pair
        self.specs: dict[str, InstrumentSpec] = {}
        self._queue: EventQueue[VenueEvent] = EventQueue()  # handed to the engine in the put when it waits
        self._health = StreamHealth(self._queue, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._ids: dict[str, str] = {}  # client id -> txid
        self._cids: dict[str, str] = {}  # txid -> client id
        self._pair_of: dict[str, str] = {}  # client id -> instrument (its trading counter)
        self.resting: set[str] = set()  # client ids of our orders last seen open
        self.dead_man_armed = False
        self.last_event_ns = 0
        self.market: MarketStream | None = None
        self.trades: TradeStream | None = None
        self.executions: PrivateStream | None = None

    @property
    def last_nonce(self) -> int:
        """The last nonce signed (persist it; pass it back as `last_nonce`)."""
        return self._signer.last_nonce

    # ---- REST --------------------------------------------------------------------------------------

    def _result(self, body: bytes, what: str) -> Any:
        try:
            msg = orjson.loads(body)
            errors = [str(e) for e in msg.get("error") or [] if str(e).startswith("E")]
        except (orjson.JSONDecodeError, AttributeError):
            raise VenueError(f"{what}: not Kraken's JSON envelope", venue=self.venue) from None
        if errors:
            raise error_from(self.venue, errors[0])
        return msg.get("result")

    async def public(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        # public calls are limited per IP, not by the key's counter
        resp = await self._http.request("GET", path, query=urlencode(list(params)), mutating=False, cost=0)
        return self._result(resp.body, path)

    async def private(
        self,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        mutating: bool = False,
        priority: bool = False,
        doc: dict[str, Any] | None = None,
    ) -> Any:
        """A signed call, form-encoded (`params`) or a JSON body (`doc`, for AddOrderBatch). `EAPI:Invalid
        nonce` means Kraken refused it before acting (another client of the key signed a higher nonce): it
        is signed again with a fresh nonce, at most `NONCE_RETRIES` times."""
        for attempt in range(NONCE_RETRIES + 1):
            if self.counters is not None:
                await self.counters.call(path, priority=priority)
            body, headers = self._signed(path, params, doc)
            resp = await self._http.request(
                "POST", path, body=body, headers=headers, mutating=mutating, priority=priority, cost=0
            )
            try:
                return self._result(resp.body, path)
            except AuthenticationError as e:
                if e.code != INVALID_NONCE or attempt == NONCE_RETRIES:
                    raise
                await self.clock.sleep(0.005 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _signed(
        self, path: str, params: Sequence[tuple[str, str]], doc: dict[str, Any] | None, *, take: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one private call, its nonce fresh from the signer (and persisted). With
        `take=False` (a rehearsal) the same call signed with the nonce the next one would take: none taken
        or persisted, so no later nonce is pushed up."""
        sign = self._signer.sign if take else self._signer.rehearse
        req = sign(path, list(params) if doc is None else [], self.clock.now_ns())
        if take and self._nonce_store is not None:
            self._nonce_store(self._signer.last_nonce)
        if doc is None:
            return req.body, dict(req.headers)
        nonce = int(req.body.removeprefix(b"nonce="))  # no params: the form is the nonce alone
        body = orjson.dumps({"nonce": nonce, **doc})  # the signature covers this exact JSON
        headers = {k: v for k, v in req.headers if k.lower() not in ("api-sign", "content-type")}
        headers |= {"API-Sign": self._signer.signature(path, nonce, body), "Content-Type": "application/json"}
        return body, headers

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def _load_pairs(self) -> None:
        pairs = await self.public(ep.ASSET_PAIRS, [("pair", ",".join(self.symbols))])
        for key, entry in pairs.items():
            p = parse.pair_info(key, entry)
            if p.altname in self.symbols:
                self.pairs[p.altname], self.by_symbol[p.symbol] = p, p
                self.specs[p.altname] = p.info.spec()
        missing = set(self.symbols) - set(self.pairs)
        if missing:
            raise InvalidOrderError(f"unknown pair {', '.join(sorted(missing))}", venue=self.venue)

    async def reference(self) -> tuple[InstrumentInfo, Decimal]:
        """The first pair's rules and its current mid, by REST only (before `connect`, to size a strategy)."""
        await self._load_pairs()
        p = self.pairs[self.symbols[0]]
        (ticker,) = (await self.public(ep.TICKER, [("pair", p.altname)])).values()
        return p.info, (Decimal(str(ticker["a"][0])) + Decimal(str(ticker["b"][0]))) / 2

    async def connect(self) -> None:
        if self._tasks:
            return
        try:
            await self._connect()
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> None:
        await self._load_pairs()
        await self.private(ep.BALANCE)  # the key works
        loop = asyncio.get_running_loop()
        if self._market_data:
            self.market = MarketStream(self, self._ws(self.endpoints.ws_public, self._stale_after_s))
            self.trades = TradeStream(self, self._ws(self.endpoints.ws_public, self._stale_after_s))
            self._tasks += [loop.create_task(self.market.run()), loop.create_task(self.trades.run())]
        self.executions = PrivateStream(self, self._ws(self.endpoints.ws_private, 3600.0))
        self._tasks.append(loop.create_task(self.executions.run()))
        try:  # orders only once their executions can be heard
            await self.clock.wait_for(self.private_ready.wait(), self._timeout_s)
        except TimeoutError:
            raise VenueUnavailableError(
                "executions stream not subscribed in time", venue=self.venue
            ) from None
        if self._dead_man_s:
            self._tasks.append(loop.create_task(self._dead_man()))

    def _ws(self, url: str, stale_after_s: float) -> WsClient:
        client = WsClient(self.venue, url, clock=self.clock, stale_after_s=stale_after_s)
        self._clients.append(client)
        return client

    async def ws_token(self) -> str:
        return str((await self.private(ep.WS_TOKEN))["token"])

    async def close(self) -> None:
        self._health.stop()
        for c in self._clients:
            await c.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks, self._clients = [], []
        await self._http.close()

    async def venue_time(self) -> VenueTime:
        """`/0/public/Time`: whole seconds."""
        return parse.venue_time(await self.public(ep.TIME))

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        p = self.pairs.get(symbol)
        if p is None:
            raise InvalidOrderError(f"unknown instrument {symbol}", venue=self.venue)
        return p.info

    def spec(self, instrument: str) -> InstrumentSpec:
        return self.specs[instrument]

    def put(self, ev: VenueEvent) -> None:
        self._queue.put_nowait(ev)

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    # ---- orders ------------------------------------------------------------------------------------

    def order_params(self, approval: Approval, client_id: str, instrument: str) -> list[tuple[str, str]]:
        """AddOrder's fields for one approved order."""
        a = require_approval(approval)
        spec = self.specs.get(instrument)
        if spec is None:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)
        if a.reduce_only:
            raise InvalidOrderError("Kraken spot has no reduce-only orders", venue=self.venue)
        tif = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.GTD: "GTD"}.get(a.tif)
        if tif is None:
            raise InvalidOrderError("Kraken spot has no FOK orders", venue=self.venue)
        market = a.order_type == OrderType.MARKET
        params = [
            ("ordertype", "market" if market else "limit"),
            ("type", "buy" if a.side == Side.BUY else "sell"),
            ("volume", spec.format_qty(a.qty)),
            ("pair", instrument),
            ("cl_ord_id", client_id),
        ]
        if not market:
            params.append(("price", spec.format_price(a.price)))
            if tif != "GTC":
                params.append(("timeinforce", tif))
            if tif == "GTD":
                params.append(("expiretm", str(max(1, a.expire_ns // parse.NS))))
            if a.post_only:
                params.append(("oflags", "post"))
        return params

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): AddOrder signed
        with the nonce the next call would take (untaken) and its request bytes, or the `add_order` frame
        (request id 0: only a sent request takes one). No counter charged, nothing sent or remembered."""
        params = self.order_params(approval, client_id, instrument)
        if self.ws_orders and self.executions is not None:
            order = ws_order(params, self.pairs[instrument].symbol)
            return len(self.executions.frame("add_order", order, 0))
        body, headers = self._signed(ep.ADD_ORDER, params, None, take=False)
        return len(self._http.encode("POST", ep.ADD_ORDER, body=body, headers=headers))

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        params = self.order_params(approval, client_id, instrument)
        if self.counters is not None:  # the trading engine's counter: an order never waits
            self.counters.order(instrument, 1, "AddOrder")
        if self.ws_orders and self.executions is not None:
            order = ws_order(params, self.pairs[instrument].symbol)
            result = await self.executions.request("add_order", order, self._timeout_s)
            txid = str(result["order_id"])
        else:
            result = await self.private(ep.ADD_ORDER, params, mutating=True)
            txid = str(result["txid"][0])
        self._placed(approval, client_id, instrument, txid)
        return SubmitAck(client_id, txid)

    def _placed(self, approval: Approval, client_id: str, instrument: str, txid: str) -> None:
        self.remember(client_id, txid)
        self._pair_of[client_id] = instrument
        if self.counters is not None:
            self.counters.placed(client_id)
        if approval.order_type == OrderType.LIMIT and approval.tif != TimeInForce.IOC:
            self.resting.add(client_id)

    async def submit_batch(self, orders: Sequence[tuple[Approval, str, str]]) -> list[SubmitAck | VenueError]:
        """Approved orders (approval, client id, instrument) in AddOrderBatch requests (or `batch_add` on
        the socket) of up to 15 orders of one pair; a lone order of a pair goes as AddOrder. Per order its
        ack or its typed refusal, in order. Kraken validates a whole batch first: one invalid order refuses
        the request (raised, nothing placed); the engine may still refuse single orders (funds, post-only).
        A lost answer raises `UnknownOutcomeError` (query each client id)."""
        if len({cid for _, cid, _ in orders}) != len(orders):
            raise InvalidOrderError("client order ids repeat within the batch", venue=self.venue)
        out: dict[str, SubmitAck | VenueError] = {}
        by_pair: dict[str, list[tuple[Approval, str]]] = {}
        for a, cid, inst in orders:
            by_pair.setdefault(inst, []).append((a, cid))
        for inst, group in by_pair.items():
            for i in range(0, len(group), ep.MAX_BATCH):
                chunk = group[i : i + ep.MAX_BATCH]
                if len(chunk) == 1:
                    (a, cid), *_ = chunk
                    out[cid] = await self.submit(a, cid, inst)
                    continue
                out.update(await self._batch(inst, chunk))
        return [out[cid] for _, cid, _ in orders]

    async def _batch(
        self, instrument: str, chunk: list[tuple[Approval, str]]
    ) -> dict[str, SubmitAck | VenueError]:
        rows = [dict(self.order_params(a, cid, instrument)) for a, cid in chunk]
        if self.counters is not None:
            self.counters.order(instrument, len(chunk) / 2, "AddOrderBatch")
        if self.ws_orders and self.executions is not None:
            symbol = self.pairs[instrument].symbol
            params = {"symbol": symbol, "orders": [ws_order(list(r.items()), symbol) for r in rows]}
            answers = await self.executions.request("batch_add", params, self._timeout_s)
            results = [(str(r.get("order_id", "")), str(r.get("error", ""))) for r in answers]
        else:
            for r in rows:
                del r["pair"]
            doc = {"orders": rows, "pair": instrument}
            answer = await self.private(ep.ADD_ORDER_BATCH, doc=doc, mutating=True)
            results = [(str(r.get("txid", "")), str(r.get("error", ""))) for r in answer["orders"]]
        out: dict[str, SubmitAck | VenueError] = {}
        for (a, cid), (txid, error) in zip(chunk, results, strict=True):
            if error or not txid:
                out[cid] = error_from(self.venue, error or "EGeneral:Internal error")
                continue
            self._placed(a, cid, instrument, txid)
            out[cid] = SubmitAck(cid, txid)
        return out

    async def amend(self, client_id: str, *, price: int | None = None, qty: int | None = None) -> None:
        """AmendOrder (or `amend_order` on the socket): a new limit price and/or total quantity (units,
        above what filled) for an open order, which keeps its txid (and its place in the queue when only its
        quantity shrinks). The change arrives as the order's next report; `OrderNotFoundError` once it is
        closed."""
        if price is None and qty is None:
            raise InvalidOrderError("an amend changes the price or the quantity", venue=self.venue)
        instrument = self._pair_of.get(client_id) or self.symbols[0]
        spec = self.specs.get(instrument)
        if spec is None:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)
        if self.counters is not None:
            self.counters.amend(instrument, client_id)
        txid = self._ids.get(client_id)
        fields: dict[str, str] = {"txid": txid} if txid else {"cl_ord_id": client_id}
        if qty is not None:
            fields["order_qty"] = spec.format_qty(qty)
        if price is not None:
            fields["limit_price"] = spec.format_price(price)
        if self.ws_orders and self.executions is not None:
            ws: dict[str, Any] = {("order_id" if k == "txid" else k): v for k, v in fields.items()}
            ws |= {k: orjson.Fragment(ws[k].encode()) for k in ("order_qty", "limit_price") if k in ws}
            await self.executions.request("amend_order", ws, self._timeout_s)
        else:
            await self.private(ep.AMEND_ORDER, list(fields.items()), mutating=True, priority=True)
        if self.counters is not None:
            self.counters.placed(client_id)

    def remember(self, client_id: str, txid: str) -> None:
        if client_id:
            self._ids[client_id] = txid
            self._cids[txid] = client_id

    async def cancel(self, client_id: str) -> None:
        """CancelOrder by `cl_ord_id` (Kraken confirms with `count`). `OrderNotFoundError` when the order is
        unknown or already closed."""
        txid = self._ids.get(client_id)
        if self.counters is not None:
            self.counters.cancel(self._pair_of.get(client_id) or self.symbols[0], client_id)
        if self.ws_orders and self.executions is not None:
            ids = {"order_id": [txid]} if txid else {"cl_ord_id": [client_id]}
            await self.executions.request("cancel_order", ids, self._timeout_s)
            self.resting.discard(client_id)
            return
        ref = ("txid", txid) if txid else ("cl_ord_id", client_id)
        result = await self.private(ep.CANCEL_ORDER, [ref], mutating=True, priority=True)
        self.resting.discard(client_id)
        if not int(result.get("count", 0)):
            raise OrderNotFoundError(f"order {client_id} not canceled (count 0)", venue=self.venue)

    async def cancel_all(self, instrument: str | None = None) -> int:
        if instrument is None:
            result = await self.private(ep.CANCEL_ALL, mutating=True, priority=True)
            self.resting.clear()
            return int(result.get("count", 0))
        n = 0
        for r in await self.open_orders():
            if r.instrument == instrument:
                with contextlib.suppress(OrderNotFoundError):
                    if self.counters is not None:
                        self.counters.cancel(instrument, r.client_id)
                    params = [("txid", r.venue_order_id)]
                    await self.private(ep.CANCEL_ORDER, params, mutating=True, priority=True)
                    self.resting.discard(r.client_id)
                    n += 1
        return n

    def report(self, txid: str, o: dict[str, Any], ts_recv: int) -> OrderReport | None:
        """A REST order of one of our pairs, remembered; None for another pair."""
        instrument = str(o["descr"]["pair"])
        if instrument not in self.specs:
            return None
        r = parse.order_report(txid, o, self.specs[instrument], ts_recv)
        self.track(r)
        return r

    def track(self, r: OrderReport) -> None:
        self.remember(r.client_id, r.venue_order_id)
        if r.state is OrderState.OPEN:
            self.resting.add(r.client_id)
        else:
            self.resting.discard(r.client_id)

    async def query(self, client_id: str) -> OrderReport | None:
        txid = self._ids.get(client_id)
        if txid is not None:
            with contextlib.suppress(OrderNotFoundError):
                result = await self.private(ep.QUERY_ORDERS, [("txid", txid)])
                return self.report(txid, result[txid], self.clock.now_ns())
        for path, key in ((ep.OPEN_ORDERS, "open"), (ep.CLOSED_ORDERS, "closed")):
            result = await self.private(path, [("cl_ord_id", client_id)])
            for txid, o in (result.get(key) or {}).items():
                if o.get("cl_ord_id") == client_id:
                    return self.report(txid, o, self.clock.now_ns())
        return None

    async def open_orders(self) -> list[OrderReport]:
        result = await self.private(ep.OPEN_ORDERS)
        now = self.clock.now_ns()
        out = [self.report(txid, o, now) for txid, o in (result.get("open") or {}).items()]
        return [r for r in out if r is not None]

    async def order_states(self, txids: Sequence[str]) -> list[OrderReport]:
        """QueryOrders, up to 50 txids a request."""
        out: list[OrderReport] = []
        for i in range(0, len(txids), ep.QUERY_BATCH):
            result = await self.private(ep.QUERY_ORDERS, [("txid", ",".join(txids[i : i + ep.QUERY_BATCH]))])
            now = self.clock.now_ns()
            out += [r for t, o in result.items() if (r := self.report(t, o, now)) is not None]
        return out

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        trades: dict[str, dict[str, Any]] = {}
        start = f"{max(0, ts_ns) / parse.NS:.6f}"
        while True:
            page = await self.private(ep.TRADES_HISTORY, [("start", start), ("ofs", str(len(trades)))])
            rows = page.get("trades") or {}
            trades.update(rows)
            if not rows or len(trades) >= int(page.get("count", 0)):
                break
        by_key = {p.key: p.altname for p in self.pairs.values()}
        ours = {tid: t for tid, t in trades.items() if by_key.get(str(t["pair"])) or t["pair"] in self.specs}
        unknown = sorted({str(t["ordertxid"]) for t in ours.values()} - set(self._cids))
        if unknown:
            await self.order_states(unknown)
        now, out = self.clock.now_ns(), []
        for tid, t in ours.items():
            instrument = by_key.get(str(t["pair"]), str(t["pair"]))
            cid = self._cids.get(str(t["ordertxid"]), "")
            f = parse.rest_fill(tid, t, cid, instrument, self.specs[instrument], now)
            if f.ts_event >= ts_ns:
                out.append(f)
        return sorted(out, key=lambda f: f.ts_event)

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """Spot has no perpetual funding."""
        return []

    async def positions(self) -> dict[str, int]:
        """The base asset's balance of each pair, in qty units."""
        balances = await self.private(ep.BALANCE)
        ours = {ep.asset(name): str(amount) for name, amount in balances.items()}
        return {
            s: parse.balance_units(self.specs[s], ours.get(p.info.base, "0")) for s, p in self.pairs.items()
        }

    # ---- the dead-man switch -----------------------------------------------------------------------

    async def _dead_man(self) -> None:
        """Arm CancelAllOrdersAfter while our orders rest, refresh it, disarm when none do."""
        while True:
            try:
                if self.resting:
                    await self.private(
                        ep.CANCEL_ALL_AFTER, [("timeout", str(self._dead_man_s))], priority=True
                    )
                    self.dead_man_armed = True
                elif self.dead_man_armed:
                    await self.private(ep.CANCEL_ALL_AFTER, [("timeout", "0")], priority=True)
                    self.dead_man_armed = False
            except VenueError as e:
                log.warning("%s: dead-man switch refresh failed: %s", self.venue, e)
            await self.clock.sleep(self._dead_man_refresh_s)

    # ---- after the private stream reconnected ------------------------------------------------------

    async def catch_up(self) -> None:
        """What changed while the private stream was down, by REST: open orders now, the final state of
        those open before and not now, and fills since the last event (less a minute)."""
        since = max(0, (self.last_event_ns or self.clock.now_ns()) - MINUTE_NS)
        try:
            before = set(self.resting)
            now_open = await self.open_orders()
            for r in now_open:
                self.put(r)
            gone = [self._ids[c] for c in sorted(before - {r.client_id for r in now_open}) if c in self._ids]
            for r in await self.order_states(gone):
                self.put(r)
            for f in await self.fills_since(since):
                self.put(f)
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)
            return
        self._health.up(Stream.PRIVATE)


def ws_order(params: Sequence[tuple[str, str]], symbol: str) -> dict[str, Any]:
    """AddOrder's fields as WebSocket v2 `add_order` params: numbers as JSON numbers written from the exact
    decimal text (never a float)."""
    f = dict(params)
    out: dict[str, Any] = {
        "order_type": f["ordertype"],
        "side": f["type"],
        "order_qty": orjson.Fragment(f["volume"].encode()),
        "symbol": symbol,
        "cl_ord_id": f["cl_ord_id"],
        "time_in_force": f.get("timeinforce", "GTC").lower(),
    }
    if "price" in f:
        out["limit_price"] = orjson.Fragment(f["price"].encode())
    if "post" in f.get("oflags", ""):
        out["post_only"] = True
    if "expiretm" in f:
        out["expire_time"] = datetime.fromtimestamp(int(f["expiretm"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def loopback_connector(url: str, *, symbols: Sequence[str], clock: Clock, **options: Any) -> KrakenConnector:
    """A connector to a `trader.sim.kraken` server at `url` with its demo key (no local rate counters
    unless `rate_tier` is given: the simulator keeps none)."""
    options.setdefault("rate_tier", None)
    from trader.sim.kraken import DEMO_KEY, DEMO_SECRET

    return KrakenConnector(
        symbols=symbols,
        api_key=DEMO_KEY,
        secret=DEMO_SECRET,
        endpoints=Endpoints.loopback(url),
        clock=clock,
        **options,
    )
