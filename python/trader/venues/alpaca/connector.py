"""Alpaca (US stocks): the Trading API v2, the trade_updates stream and the stock market-data stream.

One connector trades a set of symbols on one account, live or paper (`ENDPOINTS`; paper and live use
different key pairs), or a loopback `trader.sim.alpaca` server (`Endpoints.loopback`).

- REST over `_http.HttpClient`; the key headers come from the core's `AlpacaSigner` at each
  request. Prices are counted in 1/100 cent (`price_unit` 0.0001) so sub-penny fills and quotes convert
  exactly; orders go out on the penny tick. Quantities are whole shares.
- `submit` is single-shot (`POST /v2/orders` with our `client_order_id`): a timeout, a dropped connection
  or a 5xx raises `UnknownOutcomeError` and the engine asks `query` (`GET /v2/orders:by_client_order_id`).
  `rehearse` builds that request's bytes (the same body and key headers) and sends nothing.
- Private events: `/stream` (`authenticate`, then `listen` to `trade_updates`) become `OrderReport`s and
  `FillReport`s, handed to the waiting engine in the read that brought them (streams.py). A fill's trade
  id is `<order id>:<cumulative shares>`, which the stream event (the order's `filled_qty`) and the FILL
  activity (`cum_qty`) both state, so the engine de-duplicates fills that reach it both ways. After a
  reconnect the connector catches up by REST (a task): the open orders, the final state of each order
  that was open before and is not now, and FILL activities since the last event (less a minute).
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
import logging
from collections.abc import AsyncIterator, Sequence
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
    InvalidOrderError,
    OrderNotFoundError,
    VenueError,
)
from trader.venues._events import EventQueue
from trader.venues._http import HttpClient, HttpResponse
from trader.venues._status import StreamHealth
from trader.venues._ws import WsClient
from trader.venues.alpaca import endpoints as ep
from trader.venues.alpaca import parse
from trader.venues.alpaca.endpoints import MINUTE_NS, RATE_LIMIT_PER_MIN, Endpoints
from trader.venues.alpaca.errors import NOT_CANCELABLE, NOT_FOUND, decode_error
from trader.venues.alpaca.parse import TERMINAL, AccountInfo, MarketClock
from trader.venues.alpaca.streams import MarketData, TradeUpdates
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
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.alpaca")

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
        self.spec = parse.spec()
        self._info: dict[str, InstrumentInfo] = {}
        self._queue: EventQueue[VenueEvent] = EventQueue()
        self._health = StreamHealth(self._queue, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[WsClient] = []
        self._catch_up_task: asyncio.Task[None] | None = None
        self._ids: dict[str, str] = {}  # client order id -> Alpaca order id
        self._open: set[str] = set()  # client ids of our orders last seen open (for reconnect catch-up)
        self._cids: dict[str, str] = {}  # Alpaca order id -> client order id
        self._last_event_ns = 0
        self.trade_stream: WsClient | None = None
        self.data_stream: WsClient | None = None

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

    def _prepared(self, body: dict[str, Any] | None) -> tuple[bytes | None, dict[str, str]]:
        """A request's body bytes and headers: the key headers, and the JSON type when it has a body."""
        headers = dict(self._signer.headers())
        payload = None
        if body is not None:
            payload = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        return payload, headers

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
        payload, headers = self._prepared(body)
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
        if self._tasks:
            return  # connected already: a second connect does nothing (the contract)
        account = await self.account()
        if account.trading_blocked:
            raise AuthenticationError(
                f"account {account.account_number} is blocked from trading", venue=self.venue
            )
        for symbol in self.symbols:
            asset = await self._call("GET", ep.ASSETS.format(symbol=symbol), mutating=False)
            if not asset.get("tradable") or asset.get("status") != "active":
                raise InvalidOrderError(f"{symbol} is not tradable", venue=self.venue)
            self._info[symbol] = parse.instrument_info(symbol)
        loop = asyncio.get_running_loop()
        self.trade_stream = WsClient(
            self.venue,
            self.endpoints.trade_stream,
            clock=self.clock,
            on_connect=lambda ws: TradeUpdates.login(self, ws),
            stale_after_s=3600,
        )
        trades = TradeUpdates(self, self.trade_stream)
        self.trade_stream.on_message = trades.on_message
        self._clients.append(self.trade_stream)
        self._tasks.append(loop.create_task(trades.run()))
        if self._market_data:
            url = f"{self.endpoints.data_stream.rstrip('/')}/{self._feed}"
            self.data_stream = WsClient(
                self.venue,
                url,
                clock=self.clock,
                on_connect=lambda ws: MarketData.login(self, ws),
                stale_after_s=self._stale_after_s,
            )
            data = MarketData(self, self.data_stream)
            self.data_stream.on_message = data.on_message
            self._clients.append(self.data_stream)
            self._tasks.append(loop.create_task(data.run()))

    async def venue_time(self) -> VenueTime:
        """The venue's clock: `GET /v2/clock`'s timestamp, to the resolution its fraction states."""
        return parse.venue_time(await self._call("GET", ep.CLOCK, mutating=False))

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
            if a.price % self.spec.tick:
                price = self.spec.format_price(a.price)
                raise InvalidOrderError(f"limit price {price} is not on the penny", venue=self.venue)
            body.update({"type": "limit", "time_in_force": tif, "limit_price": parse.penny_text(a.price)})
            if self._extended and tif == "day":  # extended hours: DAY limit orders only
                body["extended_hours"] = True
        return body

    def _order(self, approval: Approval, client_id: str, instrument: str) -> dict[str, Any]:
        """The JSON of one approved order for an instrument of this connector (`submit`, `rehearse`)."""
        if instrument not in self._info:
            raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)
        return self.order_body(approval, client_id, instrument)

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): the order's
        JSON, the key headers and the `POST /v2/orders` request bytes, built by the very functions
        `submit` uses and dropped. Nothing sent, no rate-limit quota used, no id remembered. The size
        of the request."""
        payload, headers = self._prepared(self._order(approval, client_id, instrument))
        return len(self._http.encode("POST", ep.ORDERS, body=payload, headers=headers))

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        body = self._order(approval, client_id, instrument)
        o = await self._call("POST", ep.ORDERS, body=body, mutating=True)
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
                raise OrderNotFoundError(f"no order {client_id}", venue=self.venue, code=str(NOT_FOUND))
            oid = str(o["id"])
        return oid

    async def _by_client_id(self, client_id: str) -> dict[str, Any] | None:
        try:
            o: dict[str, Any] = await self._call(
                "GET", ep.ORDER_BY_CLIENT_ID, query=[("client_order_id", client_id)], mutating=False
            )
        except OrderNotFoundError:
            return None
        self._remember(str(o["client_order_id"]), str(o["id"]))
        return o

    async def cancel(self, client_id: str) -> None:
        """`DELETE /v2/orders/{id}` (204 means the request was taken), then wait until the venue shows
        the order closed. `OrderNotFoundError` if it was already closed or filled before the cancel."""
        oid = await self._order_id(client_id)
        await self._call("DELETE", ep.ORDER.format(order_id=oid), mutating=True, priority=True)
        deadline = self.clock.monotonic_ns() + int(self._cancel_confirm_s * 1e9)
        delay = 0.02
        while True:
            o = await self._get_order(oid)
            state = parse.order_state(o)
            if state is OrderState.CANCELED or state is OrderState.EXPIRED:
                return
            if state in TERMINAL:
                raise OrderNotFoundError(
                    f"order {client_id} is {o['status']}, not canceled",
                    venue=self.venue,
                    code=str(NOT_CANCELABLE),
                )
            if self.clock.monotonic_ns() >= deadline:
                raise VenueError(f"cancel of {client_id} not confirmed ({o['status']})", venue=self.venue)
            await self.clock.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def cancel_all(self, instrument: str | None = None) -> int:
        if instrument is None:
            rows = await self._call("DELETE", ep.ORDERS, mutating=True, priority=True)
            return sum(1 for r in rows or [] if 200 <= int(r.get("status", 0)) < 300)
        n = 0
        for r in await self._orders("open", symbols=(instrument,)):
            try:
                await self._call(
                    "DELETE", ep.ORDER.format(order_id=r.venue_order_id), mutating=True, priority=True
                )
                n += 1
            except OrderNotFoundError:
                continue
        return n

    def _report(self, o: dict[str, Any], ts_recv: int) -> OrderReport:
        """An order object read at `ts_recv` (our clock)."""
        report = parse.order_report(o, self.spec, ts_recv)
        self._remember(report.client_id, report.venue_order_id)
        if report.state is OrderState.OPEN:
            self._open.add(report.client_id)
        else:
            self._open.discard(report.client_id)
        return report

    async def _get_order(self, order_id: str) -> dict[str, Any]:
        o: dict[str, Any] = await self._call("GET", ep.ORDER.format(order_id=order_id), mutating=False)
        return o

    async def query(self, client_id: str) -> OrderReport | None:
        o = await self._by_client_id(client_id)
        return None if o is None else self._report(o, self.clock.now_ns())

    async def _orders(self, status: str, *, symbols: Sequence[str] = ()) -> list[OrderReport]:
        query = [("status", status), ("limit", str(ep.ORDERS_PAGE)), ("direction", "asc")]
        query.append(("symbols", ",".join(symbols or self.symbols)))
        rows = await self._call("GET", ep.ORDERS, query=query, mutating=False)
        now = self.clock.now_ns()
        return [self._report(o, now) for o in rows if o.get("symbol") in self.symbols]

    async def open_orders(self) -> list[OrderReport]:
        return await self._orders("open")

    async def _client_id(self, order_id: str) -> str:
        cid = self._cids.get(order_id)
        if cid is None:
            o = await self._get_order(order_id)
            cid = str(o["client_order_id"])
            self._remember(cid, order_id)
        return cid

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        out: list[FillReport] = []
        token = ""
        while True:
            query = [("after", parse.format_time(ts_ns)), ("direction", "asc")]
            query.append(("page_size", str(ep.ACTIVITY_PAGE)))
            if token:
                query.append(("page_token", token))
            page = await self._call("GET", ep.FILL_ACTIVITIES, query=query, mutating=False)
            for a in page:
                if a.get("symbol") in self.symbols:
                    cid = await self._client_id(str(a["order_id"]))
                    out.append(parse.activity_fill(a, cid, self.spec, self.clock.now_ns()))
            if len(page) < ep.ACTIVITY_PAGE:
                return out
            token = str(page[-1]["id"])

    # ---- account ---------------------------------------------------------------------------------

    async def positions(self) -> dict[str, int]:
        rows = await self._call("GET", ep.POSITIONS, mutating=False)
        out = dict.fromkeys(self.symbols, 0)
        for p in rows:
            if p.get("symbol") in out:
                out[str(p["symbol"])] = parse.position_units(p, self.spec)
        return out

    async def account(self) -> AccountInfo:
        return parse.account(await self._call("GET", ep.ACCOUNT, mutating=False))

    async def equity(self) -> Decimal:
        """The account's equity (the day-trading rule depends on it)."""
        return (await self.account()).equity

    async def market_clock(self) -> MarketClock:
        return parse.market_clock(await self._call("GET", ep.CLOCK, mutating=False))

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """Funding payments at or after `ts_ns`: none (US equities have no perpetual funding)."""
        return []

    # ---- trade_updates catch-up ------------------------------------------------------------------

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
                o = await self._get_order(await self._order_id(cid))
                self._queue.put_nowait(self._report(o, self.clock.now_ns()))
            for f in await self.fills_since(since):
                self._queue.put_nowait(f)
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)
            return
        self._health.up(Stream.PRIVATE)  # re-subscribed and caught up


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
