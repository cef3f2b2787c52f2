"""Kraken's WebSocket v2 streams as the connector reads them.

- Public (`wss://ws.kraken.com/v2`): `book` at the connector's depth: the raw message goes to the core
  (`Book.apply_kraken_book`: parsed from the bytes, levels in ticks/lots, applied, cut to the subscribed
  depth since Kraken sends no deletes for levels that fall out of scope, and its CRC32 over the top ten
  levels at the pair's decimals compared with the message's `checksum`, all in Rust). A mismatch is a
  `BookInvalid` and a re-subscription (a fresh snapshot); a malformed message changes nothing and is
  skipped.
  `trade` prints become `TradeTick`s (`side` is the taker's). A drop or a silent feed is a `BookInvalid`
  for every pair and `StreamStatus(MARKET, up=False)`; the next valid book brings it back up.
- Private (`wss://ws-auth.kraken.com/v2`): `executions` with a fresh GetWebSocketsToken token on every
  connect; order events become `OrderReport`s, `trade` events also `FillReport`s (their `exec_id` is the
  REST trade id, so fills heard both ways are one). After a reconnect the connector catches up by REST.
  With `ws_orders=True` the connector also sends orders and cancels on this socket (`add_order`,
  `cancel_order`, numbers written as the exact decimal text).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Book, BookNotReadyError
from trader.errors import UnknownOutcomeError, VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import BookInvalid, BookUpdate, Stream, TradeTick
from trader.venues.kraken import parse
from trader.venues.kraken.errors import error_from

if TYPE_CHECKING:
    from trader.venues.kraken.connector import KrakenConnector

log = logging.getLogger("trader.venues.kraken")
BOOK = b'"book"'


def _loads(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


class MarketStream:
    """The public `book` and `trade` channels of the connector's pairs."""

    def __init__(self, conn: KrakenConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        self.books: dict[str, Book] = {}  # altname -> book
        self.resubscribes = 0  # after a checksum mismatch
        self._needles: dict[str, bytes] = {}  # v2 symbol -> its JSON string
        self.checked = 0  # book messages whose checksum matched

    async def _subscribe(self, channel: str, symbols: list[str], method: str = "subscribe") -> None:
        params: dict[str, Any] = {"channel": channel, "symbol": symbols}
        if channel == "book":
            params.update({"depth": self._conn.book_depth, "snapshot": True})
        await self.ws.send(orjson.dumps({"method": method, "params": params}))

    async def run(self) -> None:
        conn = self._conn
        async for ev in self.ws.events():
            if isinstance(ev, WsConnected):
                self.books = {s: Book(conn.specs[s]) for s in conn.pairs}
                symbols = [p.symbol for p in conn.pairs.values()]
                await self._subscribe("book", symbols)
                await self._subscribe("trade", symbols)
            elif isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.MARKET, lost(ev))
                for s in conn.pairs:
                    conn.put(BookInvalid(s, type(ev).__name__, ts_recv=conn.clock.now_ns()))
            elif isinstance(ev, WsMessage):
                try:
                    await self.on_message(ev.data, ev.ts_recv)
                except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, VenueError) as e:
                    log.warning("%s: malformed market data skipped: %s", conn.venue, type(e).__name__)

    async def on_message(self, raw: bytes, ts_recv: int) -> None:
        """A book message straight into the core; anything else parsed here."""
        if BOOK in raw and await self.book(raw, ts_recv):
            return
        await self.message(_loads(raw), ts_recv)

    async def message(self, m: Any, ts_recv: int) -> None:
        channel = m.get("channel")
        if channel == "trade":
            for d in m.get("data") or []:
                self.trade(d, ts_recv)
        elif m.get("success") is False:
            log.error("%s: %s refused: %s", self._conn.venue, m.get("method"), m.get("error"))

    async def book(self, raw: bytes, ts_recv: int) -> bool:
        """A `book` message of our pairs applied by the core (whether it held one of them). `ParseError`
        (malformed, nothing changed) goes to the caller."""
        conn, handled = self._conn, False
        for pair in conn.pairs.values():
            needle = self._needles.get(pair.symbol)
            if needle is None:
                needle = self._needles[pair.symbol] = b'"' + pair.symbol.encode() + b'"'
            if needle not in raw:
                continue
            book = self.books[pair.altname]
            try:
                r = book.apply_kraken_book(
                    raw, pair.symbol, conn.book_depth, pair.price_decimals, pair.qty_decimals
                )
            except BookNotReadyError:  # waiting for the snapshot of a re-subscription
                handled = True
                continue
            if r is None:
                continue
            handled = True
            _, _, ts_event, ok = r
            if not ok:
                await self.resync(pair.altname, pair.symbol, ts_recv)
                continue
            self.checked += 1
            bid, ask = book.best_bid(), book.best_ask()
            conn.put(
                BookUpdate(
                    pair.altname,
                    bid[0] if bid else None,
                    bid[1] if bid else 0,
                    ask[0] if ask else None,
                    ask[1] if ask else 0,
                    ts_event,
                    ts_recv,
                )
            )
            conn._health.up(Stream.MARKET)
        return handled

    async def resync(self, instrument: str, symbol: str, ts_recv: int) -> None:
        """The checksum did not match: the book is invalid until a new snapshot (re-subscribe)."""
        log.warning("%s: %s book checksum mismatch: re-subscribing", self._conn.venue, instrument)
        self.books[instrument].begin_resync()
        self.resubscribes += 1
        self._conn.put(BookInvalid(instrument, "checksum mismatch", ts_recv=ts_recv))
        await self._subscribe("book", [symbol], "unsubscribe")
        await self._subscribe("book", [symbol])

    def trade(self, d: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        pair = conn.by_symbol.get(str(d["symbol"]))
        if pair is None:
            return
        spec = conn.specs[pair.altname]
        conn.put(
            TradeTick(
                pair.altname,
                parse.units(spec, d["price"], qty=False),
                parse.units(spec, d["qty"], qty=True),
                parse.side(str(d["side"])),
                parse.parse_time(str(d["timestamp"])),
                ts_recv=ts_recv,
            )
        )


class PrivateStream:
    """The authenticated `executions` channel, and order entry on the same socket (`request`)."""

    def __init__(self, conn: KrakenConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        self._reconnected = False
        self._token = ""
        self._req_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def request(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """One trading method (`add_order`, `cancel_order`); its answer's `result`. Nothing sent (no socket):
        `VenueUnavailableError`; sent and no answer in time or the socket lost: `UnknownOutcomeError`; a
        refusal: Kraken's error string, typed."""
        conn = self._conn
        req_id = next(self._req_ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        try:
            await self.ws.send(self.frame(method, params, req_id))
            try:
                answer = await conn.clock.wait_for(future, timeout_s)
            except TimeoutError:
                raise UnknownOutcomeError(f"{method}: no answer in {timeout_s} s", venue=conn.venue) from None
        finally:
            self._pending.pop(req_id, None)
        if not answer.get("success"):
            raise error_from(conn.venue, str(answer.get("error") or "EGeneral:Unknown error"))
        return answer.get("result") or {}

    def frame(self, method: str, params: dict[str, Any], req_id: int) -> bytes:
        """One trading method's message, with the session's token."""
        return orjson.dumps({"method": method, "params": {**params, "token": self._token}, "req_id": req_id})

    def _lost(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(UnknownOutcomeError("private socket lost", venue=self._conn.venue))

    async def run(self) -> None:
        conn = self._conn
        async for ev in self.ws.events():
            if isinstance(ev, WsConnected):
                self._reconnected = ev.attempt > 1
                try:
                    token = await conn.ws_token()
                except VenueError as e:
                    log.error("%s: no WebSocket token: %s", conn.venue, e)
                    continue
                self._token = token
                params = {"channel": "executions", "token": token, "snap_orders": True, "snap_trades": False}
                await self.ws.send(orjson.dumps({"method": "subscribe", "params": params}))
            elif isinstance(ev, WsDisconnected | WsStale):
                self._lost()
                conn._health.down(Stream.PRIVATE, lost(ev))
            elif isinstance(ev, WsMessage):
                try:
                    self.message(_loads(ev.data), ev.ts_recv)
                except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, VenueError) as e:
                    log.warning("%s: malformed execution skipped: %s", conn.venue, type(e).__name__)

    def message(self, m: Any, ts_recv: int) -> None:
        conn = self._conn
        future = self._pending.get(m.get("req_id")) if "req_id" in m else None
        if future is not None and not future.done():
            future.set_result(m)
            return
        if m.get("method") == "subscribe":
            if not m.get("success"):
                log.error("%s: executions refused: %s", conn.venue, m.get("error"))
                return
            conn.private_ready.set()
            if self._reconnected:
                self._reconnected = False
                asyncio.get_running_loop().create_task(conn.catch_up())
            return
        if m.get("channel") != "executions":
            return
        for d in m.get("data") or []:
            self.execution(d, ts_recv)

    def execution(self, d: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        pair = conn.by_symbol.get(str(d.get("symbol")))
        if pair is None:
            return
        spec = conn.specs[pair.altname]
        if not d.get("cl_ord_id") and str(d["order_id"]) in conn._cids:
            d = {**d, "cl_ord_id": conn._cids[str(d["order_id"])]}
        if d.get("timestamp"):
            conn.last_event_ns = max(conn.last_event_ns, parse.parse_time(str(d["timestamp"])))
        if d.get("exec_type") == "trade":
            conn.put(parse.exec_fill(d, pair.altname, spec, ts_recv))
        if "order_qty" in d:
            report = parse.exec_report(d, pair.altname, spec, ts_recv)
            conn.track(report)
            conn.put(report)
