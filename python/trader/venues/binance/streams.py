"""Binance's streams for `BinanceConnector`: the depth book kept in sequence, trades and the book ticker,
and the private order events of each market (binance.md §5-6).

- The book follows Binance's procedure: buffer the diff stream, fetch a REST snapshot, apply buffered
  events under the `U`/`u` rule (futures: `pu` must equal the previous `u`; checked in the core), and start
  over on a gap, a reconnect or a stale feed; the engine is told (`BookInvalid`) meanwhile.
- Private events: spot, the WebSocket API subscription `userDataStream.subscribe.signature`; margin, a
  listen token subscribed on the WebSocket API; futures, the user-data stream of a listen key. After any
  reconnect, open orders and recent trades are fetched by REST (the engine de-duplicates by trade id),
  and on futures the funding paid meanwhile (`ACCOUNT_UPDATE` FUNDING_FEE -> `FundingPayment`; each
  payment told once, from the stream or the income history).
- Health: a drop or a stale feed is `StreamStatus(down)` for the depth stream (MARKET) or the private
  stream (PRIVATE); up again once the book is rebuilt from a snapshot, or the private stream is
  re-subscribed and caught up.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from trader.clock import Clock
from trader.core import Book, BookNotReadyError, InstrumentSpec, ParseError, SequenceGapError
from trader.errors import RateLimitError, VenueError
from trader.venues._http import HttpClient
from trader.venues._status import StreamHealth, lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    Stream,
    VenueEvent,
)
from trader.venues.binance import parse
from trader.venues.binance.endpoints import (
    FUTURES_LISTEN_KEY,
    MARGIN_LISTEN_TOKEN,
    Api,
    Endpoints,
    Market,
)
from trader.venues.binance.wsapi import WsApi

log = logging.getLogger("trader.venues.binance")

Params = list[tuple[str, str | int | bool]]


class BinanceStreams:
    """The stream half of `BinanceConnector` (a mixin: the connector owns the state named here)."""

    venue: str
    symbol: str
    market: Market
    endpoints: Endpoints
    clock: Clock
    spec: InstrumentSpec | None
    book: Book | None
    _api: Api
    _http: HttpClient
    _queue: asyncio.Queue[VenueEvent]
    _health: StreamHealth
    _clients: list[WsClient]
    _stale_after_s: float
    _timeout_s: float
    _isolated: bool
    _closing: bool
    _listen_key: str | None
    _info: InstrumentInfo | None
    _funding_seen: dict[tuple[str, int, Decimal], None]
    _last_private_ms: int
    _private_ready: asyncio.Event
    _order_ids: dict[int, str]
    _resting: set[str]

    if TYPE_CHECKING:

        async def _signed(
            self,
            method: str,
            path: str,
            params: Params,
            *,
            mutating: bool,
            cost: int = 1,
            priority: bool = False,
        ) -> Any: ...

        def _ws_subscribe_params(self) -> str: ...

        def _fees(self) -> parse.Fees: ...

        def trading_spec(self) -> InstrumentSpec: ...

        def closing(self) -> bool: ...

        async def open_orders(self) -> list[OrderReport]: ...

        async def fills_since(self, ts_ns: int) -> list[FillReport]: ...

        async def funding_since(self, ts_ns: int) -> list[FundingPayment]: ...

    # ---- market data -----------------------------------------------------------------------------

    def _stream_url(self, streams: str, route: str) -> str:
        if self.market is Market.FUTURES:
            return f"{self.endpoints.futures_stream.rstrip('/')}/{route}/ws/{streams}"
        return f"{self.endpoints.stream.rstrip('/')}/ws/{streams}"

    async def _market_data_stream(self) -> None:
        book = self.book
        if book is None:
            return
        depth = _Depth(self, book)
        url = self._stream_url(f"{self.symbol.lower()}@depth@100ms", "public")
        ws = WsClient(
            self.venue, url, clock=self.clock, stale_after_s=self._stale_after_s, on_message=depth.on_message
        )
        self._clients.append(ws)
        async for ev in ws.events():  # every message goes to `depth.on_message`: here the connection's life
            if isinstance(ev, WsConnected):
                depth.rebuild()
            elif isinstance(ev, WsDisconnected | WsStale):
                self._health.down(Stream.MARKET, lost(ev))
                book.begin_resync()
                self._queue.put_nowait(
                    BookInvalid(self.symbol, type(ev).__name__, ts_recv=self.clock.now_ns())
                )
                depth.stop()

    def _fetch_snapshot(self, delay_s: float = 0.0) -> asyncio.Task[bytes]:
        return asyncio.get_running_loop().create_task(self._snapshot(delay_s))

    def _replay(self, book: Book, snapshot: bytes, buffered: list[WsMessage]) -> float | None:
        """Load the snapshot and apply the buffered diffs: None when the book is live, else in how many
        seconds to fetch the next snapshot (a gap: at once; an unusable snapshot: after a second)."""
        try:
            book.apply_binance_snapshot(snapshot)
        except (VenueError, ParseError) as e:
            log.warning("%s: depth snapshot unusable: %s", self.venue, e)
            return 1.0
        return None if all(self._apply(book, m.data, m.ts_recv) for m in buffered) else 0.0

    async def _snapshot(self, delay_s: float = 0.0) -> bytes:
        """The REST depth snapshot (after `delay_s`); failures are retried here with backoff (one request
        in flight, never a storm), waiting out a local rate limit instead of spinning on it."""
        if delay_s:
            await self.clock.sleep(delay_s)
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

    def _apply(self, book: Book, data: bytes, ts_recv: int) -> bool:
        """Apply one diff read at `ts_recv`; False when the book must be rebuilt (a gap)."""
        try:
            if not book.apply_binance_depth(data):
                return True  # older than the snapshot
        except (SequenceGapError, BookNotReadyError) as e:
            self._queue.put_nowait(BookInvalid(self.symbol, f"sequence: {e}", ts_recv=ts_recv))
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
                ts_recv,  # ts_event: a top built from snapshot and diffs has no one venue stamp
                ts_recv,
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
        """One connection of prints and book tickers: each message is handled in the read that brought it
        (`_tick`, the transport's `on_message`), like the depth; this loop only keeps the connection."""
        ws = WsClient(
            self.venue, url, clock=self.clock, stale_after_s=3600, on_message=partial(self._tick, trade)
        )
        self._clients.append(ws)
        async for _ in ws.events():
            pass  # every message is taken by `_tick`; a drop is the transport's to reconnect

    def _tick(self, trade: str, data: bytes, ts_recv: int) -> bool:
        """A print (`trade` / `aggTrade`) or a book ticker, into the connector's queue; a malformed one is
        logged and skipped."""
        if self.spec is None:
            return True
        try:
            msg = orjson.loads(data)
            d = msg.get("data", msg)
            if d.get("e") == trade:
                self._queue.put_nowait(parse.trade_tick(d, self.spec, self.symbol, ts_recv))
            elif parse.is_book_ticker(d):
                self._queue.put_nowait(parse.book_ticker(d, self.spec, self.symbol, ts_recv))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            log.warning("malformed market message skipped: %s", type(e).__name__)
        return True

    # ---- private streams -------------------------------------------------------------------------

    async def _subscribe(self, api: WsApi, attempt: int) -> None:
        """On every WebSocket API connect: subscribe to the account's events, then catch up."""
        if self.market is Market.MARGIN:
            params: Params = [("validity", 86_400_000)]
            if self._isolated:
                params = [("symbol", self.symbol), ("isIsolated", "TRUE"), *params]
            token = (await self._signed("POST", MARGIN_LISTEN_TOKEN, params, mutating=False))["token"]
            req = orjson.dumps({"listenToken": token}).decode()
            await api.request(
                "userDataStream.subscribe.listenToken", req, mutating=False, timeout_s=self._timeout_s
            )
        else:
            await api.request(
                "userDataStream.subscribe.signature",
                self._ws_subscribe_params(),
                mutating=False,
                timeout_s=self._timeout_s,
            )
        self._private_ready.set()
        if attempt > 1 and await self._catch_up():
            self._health.up(Stream.PRIVATE)

    async def _catch_up(self) -> bool:
        """After a private stream reconnect: what happened while it was down, by REST. False when it
        failed (the stream is not reported back up)."""
        try:
            for r in await self.open_orders():
                self._queue.put_nowait(r)
            for f in await self.fills_since(max(0, self._last_private_ms - 60_000) * 1_000_000):
                self._queue.put_nowait(f)
            for p in await self.funding_since(max(0, self._last_private_ms - 60_000) * 1_000_000):
                self._funding(p)  # only those the stream did not bring
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self.venue, e)
            return False
        return True

    def _event(self, e: dict[str, Any], ts_recv: int) -> None:
        """One private event, read at `ts_recv` (our clock, when its frame was read): in the read that
        brought it (the WebSocket API's or the listen key connection's `on_message`)."""
        try:
            kind = e.get("e")
            if kind == "executionReport":
                self._last_private_ms = int(e.get("E", 0))
                spec, fees = self.trading_spec(), self._fees()
                self._emit(parse.execution_report(e, spec, fees, ts_recv=ts_recv))
            elif kind == "ORDER_TRADE_UPDATE":
                self._last_private_ms = int(e.get("E", 0))
                spec, fees = self.trading_spec(), self._fees()
                self._emit(parse.futures_order(e["o"], spec, fees, ts_recv=ts_recv))
            elif kind == "ACCOUNT_UPDATE" and self._info is not None:
                funding = parse.funding_fee(e, self.symbol, self._info.quote, ts_recv=ts_recv)
                if funding is not None:
                    self._last_private_ms = int(e.get("E", 0))
                    self._funding(funding)
            elif kind == "listenKeyExpired":
                self._listen_key = None
        except (KeyError, ValueError, TypeError, VenueError) as err:
            log.warning("malformed private event skipped: %s", type(err).__name__)

    async def _futures_private(self) -> None:
        """The futures user-data stream of a listen key (kept alive by `_housekeeping`)."""
        while not self._closing:
            try:
                self._listen_key = (await self._signed("POST", FUTURES_LISTEN_KEY, [], mutating=False))[
                    "listenKey"
                ]
            except VenueError as e:
                log.warning("%s: listen key: %s", self.venue, e)
                await self.clock.sleep(1.0)
                continue
            root = self.endpoints.futures_stream.rstrip("/")
            url = f"{root}/private/ws?listenKey={self._listen_key}&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
            ws = WsClient(self.venue, url, clock=self.clock, stale_after_s=3600, on_message=self._user_data)
            if self.closing():
                return
            self._clients.append(ws)
            await self._listen(ws)
            await ws.close()
            self._clients.remove(ws)
            if not self._closing:
                self._health.down(Stream.PRIVATE, "listen key expired")
                await self._catch_up()

    async def _listen(self, ws: WsClient) -> None:
        """One listen key's connection, until it ends or the key expires."""
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                self._private_ready.set()
                # a reconnect, or a new listen key's first connection after the old one expired
                if (ev.attempt > 1 or self._health.is_down(Stream.PRIVATE)) and await self._catch_up():
                    self._health.up(Stream.PRIVATE)
                continue
            if isinstance(ev, WsDisconnected | WsStale):
                self._health.down(Stream.PRIVATE, lost(ev))
                continue
            e = _user_event(ev.data)  # what `_user_data` declined: the key's expiry, or not an event
            if e is None:
                log.warning("malformed private message skipped")
                continue
            self._event(e, ev.ts_recv)
            if self._listen_key is None:  # expired: new key, new connection
                return

    def _user_data(self, data: bytes, ts_recv: int) -> bool:
        """A listen key connection's event, handled in the read that brought it (its `on_message`); the
        key's expiry, and what does not parse, go to `_listen`."""
        e = _user_event(data)
        if e is None or e.get("e") == "listenKeyExpired":
            return False
        self._event(e, ts_recv)
        return True

    def _funding(self, p: FundingPayment) -> None:
        """A funding payment, once: the stream's event (no id) and the income history's row (its tranId) of
        one payment share the instrument, the settlement time and the amount."""
        key = (p.instrument, p.ts_event, p.amount)
        if key in self._funding_seen:
            return
        self._funding_seen[key] = None
        if len(self._funding_seen) > 10_000:
            del self._funding_seen[next(iter(self._funding_seen))]
        self._queue.put_nowait(p)

    def _emit(self, u: parse.OrderUpdate) -> None:
        """An order update as `FillReport` (on a trade) and `OrderReport`."""
        self._order_ids[u.venue_order_id] = u.client_id
        if u.fill is not None:
            self._queue.put_nowait(u.fill)
        if u.report is None:
            return
        if u.report.state is OrderState.OPEN:
            self._resting.add(u.client_id)
        else:
            self._resting.discard(u.client_id)
        self._queue.put_nowait(u.report)


def _user_event(data: bytes) -> dict[str, Any] | None:
    """The event a user-data frame carries (bare, or wrapped in a combined stream's `data`); None when
    it carries none."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    e = msg.get("data", msg) if isinstance(msg, dict) else None
    return e if isinstance(e, dict) else None


class _Depth:
    """The depth stream's messages, handled as they are read (the transport's `on_message`, in the call
    that read them when the engine waits for events: no trip through the event loop). Live, each diff is
    applied and the new top handed on; after a connect or a gap, diffs are buffered until the REST
    snapshot is in, then replayed over it (binance.md §5)."""

    def __init__(self, streams: BinanceStreams, book: Book) -> None:
        self.streams, self.book = streams, book
        self.buffered: list[WsMessage] | None = None  # None: live (or not connected)
        self.snapshot: asyncio.Task[bytes] | None = None

    def rebuild(self, delay_s: float = 0.0) -> None:
        self.buffered, self.snapshot = [], self.streams._fetch_snapshot(delay_s)

    def stop(self) -> None:
        self.buffered = None
        if self.snapshot is not None:
            self.snapshot.cancel()
            self.snapshot = None

    def on_message(self, data: bytes, ts_recv: int) -> bool:
        s = self.streams
        if self.buffered is None:  # live: applied as read, nothing kept
            if not s._apply(self.book, data, ts_recv):
                self.rebuild()
            return True
        self.buffered.append(WsMessage(data, ts_recv))
        snapshot = self.snapshot
        if snapshot is None or not snapshot.done() or snapshot.cancelled():
            return True
        retry_s = s._replay(self.book, snapshot.result(), self.buffered)
        if retry_s is None:
            self.buffered, self.snapshot = None, None
            s._health.up(Stream.MARKET)  # back, on a snapshot and the diffs after it
        else:
            self.rebuild(retry_s)
        return True
